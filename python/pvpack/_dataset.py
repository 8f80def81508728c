"""pvpack.Dataset: random access to a packed dataset's records."""
from __future__ import annotations

import importlib.util
import inspect
import operator
import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from . import _pvpack

PathLike = Union[str, "os.PathLike[str]"]
_LIMIT_NAMES = tuple(o["name"] for o in _pvpack.options("limits"))
_OUTPUTS = ("numpy", "pil", "tensor")

# A real torch.utils.data.Dataset (map-style) when torch is importable, so
# that isinstance checks, DataLoader, Subset, ConcatDataset and samplers take
# it as theirs; a plain class otherwise (torch stays optional).
if importlib.util.find_spec("torch") is not None:
    from torch.utils.data import Dataset as _Base
else:  # pragma: no cover - exercised only where torch is missing
    _Base = object  # type: ignore[assignment,misc]


class Dataset(_Base):  # type: ignore[misc,valid-type]

    """A pvpack dataset directory (written by ``pvpack build``), opened read-only.

    ``ds[i]`` returns ``(image, label)``: the record decoded (RGB, at the
    size it was packed at) and its integer label, like
    ``torchvision.datasets.ImageFolder``. The image is, by ``output``: a NumPy
    ``uint8`` array ``(height, width, 3)`` ('numpy', the default), a
    ``PIL.Image.Image`` in mode RGB ('pil': what ImageFolder's loader gives,
    so a torchvision transform pipeline written for ImageFolder applies
    unchanged) or a ``uint8`` torch tensor ``(3, height, width)`` ('tensor':
    what ``torchvision.io.read_image`` gives, for ``transforms.v2``).
    ``classes``, ``class_to_idx``, ``samples`` and ``targets`` are
    torchvision's (``samples`` names each record's source file relative to
    the packed tree, in record order).

    When torch is importable this is a ``torch.utils.data.Dataset``
    (map-style). It pickles by path and options (the mapped files are opened
    again on unpickling), so a ``DataLoader`` with ``num_workers > 0`` works
    under every multiprocessing start method, 'spawn' and 'forkserver'
    included.

    Record order is the pack order (shuffled at pack time unless the dataset
    was built with ``--no-shuffle``), so ``ds[i]`` is in general not
    ``ImageFolder(src)[i]``; :meth:`source_path` names the source file of a
    record.

    Args:
        root: the dataset directory (``/data/train.pvpack``).
        transform: optional callable applied to the image in ``ds[i]`` (of
            the type ``output`` says).
        target_transform: optional callable applied to the label.
        verify_on_read: check each record's XXH3 checksum when it is read.
        max_record_pixels, max_record_bytes, max_decoder_memory, max_scans:
            read-side limits (``pv_limits`` in pvpack.h; None keeps the
            default, 0 means no limit). A record over one is refused before
            anything is allocated for it: ``ds[i]`` raises pvpack.Error with
            ``status_name == 'PV_ERR_LIMIT'`` naming the limit, and a
            :class:`Loader` over this Dataset applies the same limits.
            Defaults: 178956970 pixels (the packer's ``--max-pixels``), 1 GiB
            of payload, 1498764624 bytes of decoder working memory (8 per
            allowed pixel + 64 MiB: a progressive JPEG's coefficient buffer),
            500 JPEG scans; they accept everything ``pvpack build`` writes
            with its defaults.
        output: 'numpy' (default), 'pil' or 'tensor' (needs torch), see above.

    Raises:
        pvpack.Error: the directory is not a valid dataset (the message
            names the file and the reason; ``status_name`` is e.g.
            ``'PV_ERR_NOT_FOUND'`` or ``'PV_ERR_CHECKSUM'``).
        ValueError: an empty path, a negative limit. TypeError: a limit that
            is not an integer.

    Thread-safety: every method may be called from many threads; decoding
    releases the GIL (one decode at a time per Dataset object).
    """

    def __init__(self, root: PathLike, transform: Optional[Callable[[np.ndarray], Any]] = None,
                 target_transform: Optional[Callable[[int], Any]] = None, *,
                 verify_on_read: bool = False, output: str = "numpy",
                 **limits: Optional[int]) -> None:
        # The limit keywords are pv_limits' table (_pvpack.options('limits')).
        unknown = [k for k in limits if k not in _LIMIT_NAMES]
        if unknown:
            raise TypeError(f"Dataset() got an unexpected keyword argument {unknown[0]!r}")
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(map(repr, _OUTPUTS))}, "
                             f"not {output!r}")
        self.root: str = os.fspath(root)
        if not self.root:
            raise ValueError("root is an empty path (use '.' for the current directory)")
        self._open_args: Dict[str, Any] = dict(verify_on_read=bool(verify_on_read), **limits)
        self._ds = _pvpack.Dataset(self.root, **self._open_args)
        self.transform = transform
        self.target_transform = target_transform
        self.output = output
        self._convert = self._converter(output)
        self.classes: List[str] = self._ds.classes
        self.class_to_idx: Dict[str, int] = {c: i for i, c in enumerate(self.classes)}
        self._samples: Optional[List[Tuple[str, int]]] = None

    @staticmethod
    def _converter(output: str) -> Optional[Callable[[np.ndarray], Any]]:
        if output == "pil":
            from PIL import Image
            return lambda a: Image.fromarray(a, "RGB")
        if output == "tensor":
            import torch
            return lambda a: torch.from_numpy(a).permute(2, 0, 1)
        return None

    # Pickling (DataLoader workers under spawn / forkserver, copy.deepcopy):
    # by path and options; the C object is opened again on the other side.
    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        for k in ("_ds", "_convert"):
            state.pop(k, None)
        state["_records"] = len(self._ds)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        state = dict(state)
        records = state.pop("_records")
        self.__dict__.update(state)
        self._ds = _pvpack.Dataset(self.root, **self._open_args)
        if self._ds.classes != self.classes or len(self._ds) != records:
            raise RuntimeError(f"{self.root}: the dataset changed since this Dataset was "
                               "pickled (other classes or record count)")
        self._convert = self._converter(self.output)

    def _samples_list(self) -> List[Tuple[str, int]]:
        """The samples list, computed once (not copied)."""
        if self._samples is None:
            self._samples = [(self._ds.source_path(i), self._ds.label(i))
                             for i in range(len(self._ds))]
        return self._samples

    def __len__(self) -> int:
        return len(self._ds)

    def _index(self, i: int) -> int:
        """i as a record number: an integer (int, NumPy integer; not a float),
        negative counting from the end as for a list."""
        n = len(self._ds)
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"Dataset indices must be integers, not {type(i).__name__}") from None
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"record {i} out of range (dataset has {n})")
        return i

    def __getitem__(self, i: int) -> Tuple[Any, Any]:
        """(image HxWx3 uint8 array, label) of record i (negative i counts from the end)."""
        if isinstance(i, slice):
            raise TypeError("Dataset indices must be integers, not slices")
        buf, h, w, label = self._ds.decode(self._index(i))
        img: Any = np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
        if self._convert is not None:
            img = self._convert(img)
        if self.transform is not None:
            img = self.transform(img)
        target: Any = label
        if self.target_transform is not None:
            target = self.target_transform(label)
        return img, target

    def label(self, i: int) -> int:
        """Label of record i, without decoding it."""
        return self._ds.label(self._index(i))

    def source_path(self, i: int) -> str:
        """Path of record i's source file, relative to the tree that was packed ("cat/1.jpg")."""
        return self._ds.source_path(self._index(i))

    def record_info(self, i: int) -> Dict[str, Any]:
        """Record i's table entry: label, width, height, codec, length, shard,
        shard_record, checksum, checksum_ok."""
        return self._ds.record(self._index(i))

    @property
    def samples(self) -> List[Tuple[str, int]]:
        """``(source path, class index)`` of every record, in record order
        (ImageFolder.samples; the path is relative to the packed tree, as
        :meth:`source_path` gives it). Computed once; a copy each time."""
        return list(self._samples_list())

    imgs = samples  # ImageFolder's older name

    @property
    def targets(self) -> List[int]:
        """Every record's label, in record order (like ImageFolder.targets)."""
        return [t for _, t in self._samples_list()]

    @property
    def class_counts(self) -> List[int]:
        """Records per class, in label order."""
        return self._ds.class_records

    @property
    def build_options(self) -> Dict[str, str]:
        """The options the dataset was built with."""
        out: Dict[str, str] = {}
        for line in self._ds.options_text.splitlines():
            k, _, v = line.partition("=")
            if k:
                out[k] = v
        return out

    @property
    def skipped(self) -> List[Tuple[str, str]]:
        """Source files the build skipped, as (path, reason)."""
        out = []
        for line in self._ds.skipped_text.splitlines():
            p, _, why = line.partition("\t")
            if p:
                out.append((p, why))
        return out

    def __repr__(self) -> str:
        return (f"pvpack.Dataset({self.root!r}: {len(self)} records, "
                f"{len(self.classes)} classes, {self._ds.shard_count} shards)")


def _dataset_signature() -> inspect.Signature:
    P = inspect.Parameter
    params = [P("self", P.POSITIONAL_OR_KEYWORD), P("root", P.POSITIONAL_OR_KEYWORD),
              P("transform", P.POSITIONAL_OR_KEYWORD, default=None),
              P("target_transform", P.POSITIONAL_OR_KEYWORD, default=None),
              P("verify_on_read", P.KEYWORD_ONLY, default=False),
              P("output", P.KEYWORD_ONLY, default="numpy")]
    params += [P(k, P.KEYWORD_ONLY, default=None) for k in _LIMIT_NAMES]
    return inspect.Signature(params)


Dataset.__init__.__signature__ = _dataset_signature()  # type: ignore[attr-defined]
