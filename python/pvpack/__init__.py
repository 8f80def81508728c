"""pvpack: packed ImageFolder datasets and a fast batch loader for PyTorch.

Replace ``ImageFolder`` + ``DataLoader`` with two lines::

    import pvpack
    pvpack.build("/data/train")                      # once: /data/train.pvpack
    loader = pvpack.Loader("/data/train.pvpack", batch_size=256, size=224, threads=8)
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for images, labels in loader:                # float32 NCHW, normalized
            ...

- :class:`Dataset` -- random access to records: ``ds[i] -> (HxWx3 uint8 array, label)``
  (a ``torch.utils.data.Dataset`` when torch is installed).
- :class:`Loader` -- decoded, augmented batches from C worker threads, zero-copy.
- :func:`build` -- the packer (``pvpack build``) in-process.
- :class:`Error` -- every failure reported by libpvpack (``.status_name``, ``.detail``).
"""
from ._pvpack import Error, version as _c_version
from ._dataset import Dataset
from ._loader import Loader, ShardingWarning, IMAGENET_MEAN, IMAGENET_STD, default_threads
from ._build import build, merge, plan, BuildSummary

__version__ = _c_version
__all__ = ["Dataset", "Loader", "build", "merge", "plan", "BuildSummary", "Error", "IMAGENET_MEAN",
           "IMAGENET_STD", "ShardingWarning", "default_threads", "__version__"]
