"""pvpack.Loader: the C batch loader as a PyTorch-style iterable."""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import operator
import os
import sys
import textwrap
import warnings
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from . import _pvpack
from ._dataset import Dataset, PathLike

# libpvpack's loader options table (reader/loader_options.h), the one `pvpack
# bench` takes its flags from, and its limits table (codec/limits_options.h).
_TABLE: Dict[str, Dict[str, Any]] = {o["name"]: o for o in _pvpack.options("loader")}
_LIMITS: Dict[str, Dict[str, Any]] = {o["name"]: o for o in _pvpack.options("limits")}

# ImageNet's mean and std: written once, in C (PV_IMAGENET_MEAN / _STD,
# pvpack.h), the defaults of the loader's mean and std.
IMAGENET_MEAN: Tuple[float, float, float] = tuple(_TABLE["mean"]["default"])  # type: ignore
IMAGENET_STD: Tuple[float, float, float] = tuple(_TABLE["std"]["default"])  # type: ignore

# Loader's keywords are the table's entries, a group as one keyword (size:
# height and width; scale and ratio: min and max), with these differences on
# purpose (python/tests/test_options.py checks there are no others):
#   start_batch is not a keyword: resume with load_state_dict();
#   threads=None (default) is default_threads(): the CPUs this process may
#     use divided among the ranks sharing the machine, and 0 is refused;
#   seed=None (default): drawn once per Loader, from torch.initial_seed()
#     when torch is imported, else from the OS (the table's default is 0);
#   order=None (default): 'shuffle' for pipeline='train', 'sequential' for
#     'eval' and 'none' (the table's default is shuffle for every pipeline);
#   rank / world_size None (default): not sharded (0 and 1) unless
#     distributed=True asks for torch.distributed / RANK / WORLD_SIZE (the
#     table's -1 asks the C loader for the environment);
#   dtype 'float32' and layout 'NCHW' by default (torch's ToTensor +
#     Normalize), where the C loader and `pvpack bench` default to uint8 NHWC;
#     dtype also takes NumPy / torch dtypes and, on CUDA, float16 / bfloat16;
#   eval_resize, block_records and block_group must be >= 1 here (the C
#     loader takes eval_resize 0 as "no resize" and ignores the block
#     parameters unless order='blocks').
_NOT_KEYWORDS = ("start_batch",)
_PY_DEFAULTS: Dict[str, Any] = {"threads": None, "rank": None, "world_size": None,
                                "dtype": "float32", "layout": "NCHW", "seed": None,
                                "order": None}
_PY_MIN = {"threads": 1, "eval_resize": 1, "block_records": 1, "block_group": 1}
# The first parameters, positional as well (their order is the API).
_POSITIONAL = ("batch_size", "size", "pipeline", "threads", "seed", "order", "drop_last", "rank",
               "world_size", "device", "dtype", "layout", "mean", "std")
# Keywords of Loader that are not loader options (the CUDA ones are
# pv_cuda_loader_options, pvpack_cuda.h).
_PY_ONLY: Dict[str, Any] = {"device": "cpu", "output": "auto", "hold_limit": None, "depth": 3,
                            "host_memory": "pinned", "distributed": None,
                            "with_records": False, "indices": None, "classes": None,
                            "sample_transform": None, "batch_transform": None,
                            "pin_memory": False}


def _keywords() -> Dict[str, Any]:
    """Keyword -> default, for the table's entries (a group once)."""
    kw: Dict[str, Any] = {}
    for name, o in _TABLE.items():
        if name in _NOT_KEYWORDS:
            continue
        g = o["group"]
        if g is None:
            kw[name] = _PY_DEFAULTS.get(name, o["default"])
        elif g not in kw:
            members = [m["default"] for m in _TABLE.values() if m["group"] == g]
            kw[g] = members[0] if len(set(members)) == 1 else tuple(members)
    return kw


_KEYWORDS = _keywords()
_GROUPS: Dict[str, Tuple[str, ...]] = {}
for _o in _TABLE.values():
    if _o["group"]:
        _GROUPS[_o["group"]] = _GROUPS.get(_o["group"], ()) + (_o["name"],)
_CPU_DTYPES = tuple(_TABLE["dtype"]["choices"])
_CUDA_ONLY_DTYPES = ("float16", "bfloat16")
_CUDA_DTYPES = {"uint8": 0, "float32": 1, "float16": 2, "bfloat16": 3}
_HOST_MEMORY = {"pinned": 0, "write_combined": 1, "pageable": 2}
_STATE_VERSION = 2


def _int(name: str, value: Any, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    """An integer argument: an int or a NumPy integer (anything with
    ``__index__``), never a float or a string (TypeError), within [lo, hi]
    (ValueError)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}, not {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi}, not {v}")
    return v


_U64 = 2**64 - 1


def _choice(name: str, value: Any, table: Dict[str, int]) -> int:
    key = value
    if key not in table:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, table))}, not {value!r}")
    return table[key]


def _dtype_name(dtype: Any) -> str:
    """'uint8', 'float32', 'float16', 'bfloat16' from a string, NumPy or torch dtype."""
    if isinstance(dtype, str):
        name = dtype
    else:
        name = str(dtype)
        if name.startswith("torch."):
            name = name[len("torch."):]
        else:
            try:
                name = np.dtype(dtype).name
            except TypeError:
                pass
    name = {"half": "float16", "float": "float32", "byte": "uint8"}.get(name, name)
    if name not in _CPU_DTYPES and name not in _CUDA_ONLY_DTYPES:
        raise ValueError(f"dtype must be uint8, float32, float16 or bfloat16, not {dtype!r}")
    return name


def _device_name(device: Any) -> Tuple[str, Optional[int]]:
    """('cpu', None), ('cuda', None) or ('cuda', N) from 'cpu', 'cuda',
    'cuda:N', an int N (CUDA device N) or a torch.device."""
    if isinstance(device, (int, np.integer)) and not isinstance(device, bool):
        if device < 0:
            raise ValueError(f"bad device {device!r}")
        return "cuda", int(device)
    s = str(device)
    if s == "cpu":
        return "cpu", None
    if s == "cuda" or s.startswith("cuda:"):
        idx = s.partition(":")[2]
        if s.endswith(":") or (idx and not (idx.isascii() and idx.isdigit())):
            raise ValueError(f"bad device {device!r}: expected 'cuda:N' with N >= 0")
        return "cuda", int(idx) if idx else None
    raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {device!r}")


def _resolve_cuda_device(index: Optional[int]) -> int:
    """The CUDA device for 'cuda:N' (N) or 'cuda' (LOCAL_RANK, torchrun's
    one-process-per-GPU convention; 0 when unset)."""
    if index is not None:
        return index
    d = _pvpack.cuda_resolve_device(-1)
    if d < 0:
        raise ValueError(f"device='cuda' takes the GPU from LOCAL_RANK, and LOCAL_RANK="
                         f"{os.environ.get('LOCAL_RANK')!r} is not a device ordinal "
                         "(use device='cuda:N')")
    return d


class ShardingWarning(UserWarning):
    """A Loader was made unsharded (every sample on this rank) in a process
    that torch.distributed or RANK / WORLD_SIZE say is one of several ranks."""


def _distributed_env() -> Optional[Tuple[int, int, str]]:
    """(rank, world size, where from): torch.distributed when initialized,
    else the RANK / WORLD_SIZE environment variables, else None."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), "torch.distributed"
    if not os.environ.get("WORLD_SIZE") and not os.environ.get("RANK"):
        return None
    try:
        r = int(os.environ.get("RANK", "") or 0)
        w = int(os.environ.get("WORLD_SIZE", "") or 1)
    except ValueError:
        raise ValueError(f"RANK={os.environ.get('RANK')!r} / WORLD_SIZE="
                         f"{os.environ.get('WORLD_SIZE')!r} are not integers") from None
    return r, w, "RANK / WORLD_SIZE"


def _rank_world(rank: Optional[int], world_size: Optional[int],
                distributed: Optional[bool] = None) -> Tuple[int, int]:
    """Rank and world size. Sharding is opt-in, as DistributedSampler is:
    explicit rank and world_size; else distributed=True: torch.distributed
    when initialized, else RANK / WORLD_SIZE, else (0, 1); else (0, 1), every
    sample on this rank -- with a ShardingWarning when distributed is None
    (not given) and the process is one of several ranks (distributed=False
    says "unsharded on purpose")."""
    if (rank is None) != (world_size is None):
        raise ValueError("give both rank and world_size, or neither")
    if distributed is not None and not isinstance(distributed, bool):
        raise TypeError(f"distributed must be True, False or None, not {distributed!r}")
    if rank is not None and world_size is not None:
        r, w = _int("rank", rank), _int("world_size", world_size)
    else:
        env = _distributed_env()
        if distributed:
            r, w = (env[0], env[1]) if env else (0, 1)
        else:
            if env is not None and env[1] > 1 and distributed is None:
                warnings.warn(
                    f"pvpack.Loader is not sharded: {env[2]} say this is rank {env[0]} of "
                    f"{env[1]}, and this loader gives every sample to this rank (as a DataLoader "
                    "without DistributedSampler). Pass distributed=True (or rank=, "
                    "world_size=) to take this rank's share, or distributed=False to say "
                    "the full dataset is meant", ShardingWarning, stacklevel=3)
            r, w = 0, 1
    if w < 1 or not 0 <= r < w:
        raise ValueError(f"rank {r} / world size {w} invalid")
    return r, w


def default_threads() -> int:
    """The loader's default thread count: the CPUs this process may use (its
    affinity mask capped by the cgroup CPU quota, as the C library counts
    them), divided by ``LOCAL_WORLD_SIZE`` -- the processes torchrun (or
    Lightning, Accelerate) starts on this machine, each with its own
    loader -- at least 1. When the affinity mask is already smaller than
    the machine (a launcher that binds each rank to its own CPUs, ``taskset``,
    Slurm's ``--cpu-bind``), the mask is this process's share and is not
    divided again."""
    cpus = _pvpack.available_cpus()
    raw = os.environ.get("LOCAL_WORLD_SIZE", "")
    if not raw:
        return cpus
    try:
        local = int(raw)
    except ValueError:
        raise ValueError(f"LOCAL_WORLD_SIZE={raw!r} is not an integer (pass threads=N)") \
            from None
    if local < 1:
        raise ValueError(f"LOCAL_WORLD_SIZE={raw!r} must be >= 1 (pass threads=N)")
    try:
        mask = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        mask = os.cpu_count() or cpus
    if mask < (os.cpu_count() or mask):
        return cpus  # already a share of the machine
    return max(1, cpus // local)


def _torch_has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _pair(name: str, v: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """size: an int or (height, width), within the table's range."""
    lo, hi = _TABLE["height"]["min"], _TABLE["height"]["max"]
    if isinstance(v, (int, np.integer)):
        n = _int(name, v, lo, hi)
        return n, n
    try:
        h, w = v  # type: ignore[misc]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer or (height, width), not {v!r}") from None
    return _int(name, h, lo, hi), _int(name, w, _TABLE["width"]["min"], _TABLE["width"]["max"])


class _CPUBatchSource:
    """Turns the C loader's batches (host memory) into arrays or tensors.

    Both views are zero-copy: NumPy through the buffer protocol, torch through
    DLPack. Each view holds a reference to the Batch, and the Batch hands its
    ring slot back when the last view dies. Labels are copied (8 bytes per
    sample). The CUDA source has the same interface: create(ds, opts) ->
    core, next(core) -> batch or None, convert(batch) -> (images, labels).
    """

    device = "cpu"

    def __init__(self, dtype: str, output: str) -> None:
        if dtype in _CUDA_ONLY_DTYPES:
            raise ValueError(f"{dtype} needs device='cuda' (the CPU loader produces uint8 or "
                             "float32)")
        if output == "dlpack":
            raise ValueError("output='dlpack' is for device='cuda' (CPU batches: 'numpy', "
                             "'torch'; the raw batches of loader.batches() have __dlpack__)")
        self.dtype, self.output = dtype, output
        if output == "torch":
            import torch  # noqa: F401  (checked by the caller)
            self._torch = torch

    def create(self, ds: Any, opts: Dict[str, Any]) -> Any:
        opts["dtype"] = self.dtype  # a name of the table's choices
        return _pvpack.Loader(ds, opts)

    def next(self, core: Any) -> Any:
        return core.next()

    def convert(self, batch: "_pvpack.Batch") -> Tuple[Any, Any]:
        if self.output == "torch":
            torch = self._torch
            images = torch.from_dlpack(batch)
            labels = torch.from_numpy(np.frombuffer(batch.labels, dtype=np.int64))
        else:
            images = np.asarray(batch)
            labels = np.frombuffer(batch.labels, dtype=np.int64)
        return images, labels


class _CUDABatchSource:
    """Device batches of a pv_cuda_loader, handed out zero-copy through DLPack.

    Streams: each batch is made ready on torch's current stream of the
    loader's device at the time of ``next`` (the legacy default stream
    without torch); a consumer importing it on another stream through
    ``__dlpack__(stream=...)`` is made to wait for it. The slot goes back to
    the loader when the last tensor viewing the batch dies, ordered after the
    work enqueued so far on the batch's stream and on every importing stream
    (see ``_pvpack.c``).

    Labels: an int64 device tensor viewing the batch's device labels (same
    lifetime as the images; ``loader.batches()`` has the host copy).
    """

    def __init__(self, index: Optional[int], dtype: str, output: str, depth: int,
                 host_memory: str) -> None:
        if not _pvpack.HAVE_CUDA:
            raise RuntimeError(
                "pvpack was built without the CUDA path: device='cuda' is not available "
                "(rebuild where nvcc is found, e.g. pip install ./python -C "
                "cmake.define.PV_CUDA=ON; or use device='cpu' and move batches with "
                "images.to('cuda', non_blocking=True))")
        if output == "numpy":
            raise ValueError("output='numpy' needs device='cpu' (NumPy arrays live in host "
                             "memory); with device='cuda' use 'torch' or 'dlpack'")
        depth = _int("depth", depth, 1)
        self.index = _resolve_cuda_device(index)
        self.device = f"cuda:{self.index}"
        self.dtype, self.output, self.depth = dtype, output, int(depth)
        self.host_memory = _choice("host_memory", host_memory, _HOST_MEMORY)
        self._torch: Any = None
        self._stream_of: Any = None
        if output == "torch":
            import torch
            # With no GPU at all, let the loader's creation say so ("no CUDA
            # device: ..."), which is the more useful message.
            if not torch.cuda.is_available() and _pvpack.cuda_probe()[0] > 0:
                raise RuntimeError("output='torch' with device='cuda' needs a CUDA build of "
                                   f"torch (this one is {torch.__version__}, CPU only); use "
                                   "output='dlpack'")
            self._torch = torch
            tdev = torch.device("cuda", self.index)
            self._stream_of = lambda: torch.cuda.current_stream(tdev).cuda_stream

    def create(self, ds: Any, opts: Dict[str, Any]) -> Any:
        opts["dtype"] = _CUDA_DTYPES[self.dtype]
        opts.update(device=self.index, depth=self.depth, host_memory=self.host_memory)
        return _pvpack.CudaLoader(ds, opts)

    def next(self, core: Any) -> Any:
        return core.next(self._stream_of() if self._stream_of is not None else 0)

    def convert(self, batch: Any) -> Tuple[Any, Any]:
        if self._torch is not None:
            return self._torch.from_dlpack(batch.images), self._torch.from_dlpack(
                batch.device_labels)
        return batch.images, batch.device_labels


def _make_source(device: str, device_index: Optional[int], dtype: str, output: str,
                 depth: int = 3, host_memory: str = "pinned") -> Any:
    if device == "cuda":
        return _CUDABatchSource(device_index, dtype, output, depth, host_memory)
    return _CPUBatchSource(dtype, output)


def _subset(ds: Dataset, indices: Any, classes: Any) -> Optional[np.ndarray]:
    """Loader's indices= and classes=: the records an epoch visits, as a
    read-only uint64 array (None: every record). indices: record numbers
    (any integer sequence or array, 0 <= i < len(dataset), repeats allowed),
    visited in this order with order='sequential' and shuffled otherwise.
    classes: class names or labels; keeps the records (of indices, else of
    the dataset, in record order) whose label is one of them."""
    n = len(ds)
    sel: Optional[np.ndarray] = None
    if indices is not None:
        a = np.asarray(indices)
        if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise TypeError("indices must be a 1-D sequence of integers (record numbers), "
                            f"not {type(indices).__name__} of {a.dtype}")
        if a.size and (int(a.min()) < 0 or int(a.max()) >= n):
            bad = a[(a < 0) | (a >= n)][0]
            raise ValueError(f"indices: record {int(bad)} out of range (dataset has {n})")
        sel = a.astype(np.uint64)
    if classes is not None:
        if isinstance(classes, (str, int, np.integer)):
            classes = [classes]
        names = {c: i for i, c in enumerate(ds.classes)}
        want = set()
        for c in classes:
            if isinstance(c, str):
                if c not in names:
                    raise ValueError(f"classes: no class {c!r} (the dataset has "
                                     f"{len(names)}: {', '.join(list(names)[:5])}...)")
                want.add(names[c])
            else:
                i = _int("classes", c, 0, len(names) - 1)
                want.add(i)
        labels = np.asarray(ds.targets, dtype=np.int64)
        base = np.arange(n, dtype=np.uint64) if sel is None else sel
        sel = base[np.isin(labels[base.astype(np.int64)], sorted(want))]
    if sel is not None:
        if sel.size == 0:
            raise ValueError("indices / classes select no record")
        sel = np.ascontiguousarray(sel, dtype=np.uint64)
        sel.setflags(write=False)
    return sel


def _draw_seed() -> int:
    """seed=None: torch's initial seed when torch is imported (so
    torch.manual_seed / Lightning's seed_everything decide it, as they do a
    DataLoader's shuffle), else 64 bits from the OS."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "initial_seed"):
        return int(torch.initial_seed()) & _U64
    return int.from_bytes(os.urandom(8), "little")


def _shared_seed(rank: int, world_size: int) -> int:
    """seed=None: _draw_seed(), the same on every rank of a sharded loader
    (the ranks split one global order, so they must agree on it, as
    DistributedSampler's fixed seed=0 makes them): rank 0's, broadcast over
    torch.distributed -- a collective, so every rank must create the loader.
    Without torch.distributed, a sharded loader needs an explicit seed."""
    if world_size == 1:
        return _draw_seed()
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        raise ValueError(f"seed=None with world_size={world_size}: the ranks must agree on "
                         "the seed, and torch.distributed is not initialized to share rank "
                         "0's; pass seed= (the same on every rank)")
    if dist.get_world_size() != world_size or dist.get_rank() != rank:
        raise ValueError(f"seed=None: rank {rank} of {world_size} is not torch.distributed's "
                         f"rank {dist.get_rank()} of {dist.get_world_size()}; pass seed=")
    box = [_draw_seed() if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return int(box[0])


def _norm(v: Any) -> Any:
    """Lists (a state through JSON or torch.save) compare as tuples."""
    return tuple(_norm(x) for x in v) if isinstance(v, (list, tuple)) else v


def _dataset_identity(ds: Dataset) -> str:
    """The dataset's identity: its index's header checksum (the index
    trailer's copy: an XXH3 over the header, which holds the checksums of
    every section -- records, their checksums, labels, paths), with its
    record count. A rebuild with any record changed differs."""
    path = os.path.join(str(ds.root), "index.pvi")
    try:
        with open(path, "rb") as f:
            f.seek(-16, os.SEEK_END)
            tail = f.read(16)
    except OSError as e:
        raise ValueError(f"{path}: cannot read the index trailer: {e}") from None
    if len(tail) != 16 or tail[8:] != b"PVIXEND\x01":
        raise ValueError(f"{path}: no index trailer (truncated?)")
    return f"{int.from_bytes(tail[:8], 'little'):016x}:{len(ds)}"


_SAMPLER_CLASSES: Dict[str, Any] = {}


def _sampler_classes() -> Dict[str, Any]:
    """Loader.sampler's and batch_sampler's classes: torch's Sampler,
    SequentialSampler and BatchSampler subclasses when torch is importable
    (Lightning tells a SequentialSampler apart), else plain classes."""
    if _SAMPLER_CLASSES:
        return _SAMPLER_CLASSES
    try:
        from torch.utils.data import BatchSampler, Sampler, SequentialSampler
    except ImportError:
        Sampler = SequentialSampler = BatchSampler = object  # type: ignore

    class _Common:
        def set_epoch(self, epoch: int) -> None:
            self._loader.set_epoch(epoch)

        @property
        def epoch(self) -> int:
            return self._loader.epoch

    class LoaderSampler(_Common, Sampler):  # type: ignore[misc,valid-type]
        """pvpack.Loader.sampler: this rank's record numbers of the loader's
        current epoch (a full epoch's, also while an elastic rest runs);
        set_epoch sets the loader's epoch."""

        def __init__(self, loader: "Loader") -> None:
            self._loader = loader
            self.data_source = loader.dataset

        def __iter__(self) -> Iterator[int]:
            ld, e = self._loader, self._loader.epoch
            return (ld.sample_record(e, k) for k in range(ld.samples_per_epoch))

        def __len__(self) -> int:
            return self._loader.samples_per_epoch

    class LoaderSequentialSampler(LoaderSampler, SequentialSampler):  # type: ignore
        """Loader.sampler of order='sequential'."""

    class LoaderBatchSampler(_Common, BatchSampler):  # type: ignore[misc,valid-type]
        """pvpack.Loader.batch_sampler: batches of record numbers."""

        def __init__(self, loader: "Loader") -> None:
            self._loader = loader
            self.sampler = loader.sampler

        # The loader's (assignable between epochs), not a copy.
        @property  # type: ignore[misc]
        def batch_size(self) -> int:
            return self._loader.batch_size

        @batch_size.setter
        def batch_size(self, value: int) -> None:
            self._loader.batch_size = value

        @property  # type: ignore[misc]
        def drop_last(self) -> bool:
            return self._loader.drop_last

        @drop_last.setter
        def drop_last(self, value: bool) -> None:
            self._loader.drop_last = value

        def __iter__(self) -> Iterator[Any]:
            it = iter(self.sampler)
            for _ in range(len(self)):
                yield [r for _, r in zip(range(self.batch_size), it)]

        def __len__(self) -> int:
            return len(self._loader)

    _SAMPLER_CLASSES.update(sampler=LoaderSampler, sequential=LoaderSequentialSampler,
                            batch=LoaderBatchSampler)
    return _SAMPLER_CLASSES


def _make_sampler(loader: "Loader") -> Any:
    c = _sampler_classes()
    return c["sequential" if loader.order == "sequential" else "sampler"](loader)


def _make_batch_sampler(loader: "Loader") -> Any:
    return _sampler_classes()["batch"](loader)


def _hooked(source: Any, dev: str, output: str, sample_tf: Any, batch_tf: Any, dtype: str,
            layout: Any, mean: Any, std: Any, rank: int) -> Any:
    """The source with the Python transform hooks (_transforms.py)."""
    for name, f in (("sample_transform", sample_tf), ("batch_transform", batch_tf)):
        if f is not None and not callable(f):
            raise TypeError(f"{name} must be callable, not {type(f).__name__}")
    if dev != "cpu":
        raise ValueError("sample_transform / batch_transform need device='cpu' (move the "
                         "batches to the GPU yourself, or transform on the GPU there)")
    if output != "torch":
        raise ValueError("sample_transform / batch_transform get torch tensors: they need "
                         f"torch and output='torch' (or 'auto'), not {output!r}")
    from ._transforms import HookSource
    return HookSource(source, sample_tf, batch_tf, dtype, str(layout), mean, std, rank)


class Loader:
    """Batches of decoded, augmented images from C worker threads.

    A drop-in for ``DataLoader(ImageFolder(root, transform), ...)``::

        loader = pvpack.Loader("/data/train.pvpack", batch_size=256, size=224, threads=8)
        for epoch in range(start_epoch, epochs):
            loader.set_epoch(epoch)
            for images, labels in loader:   # torch tensors if torch is installed
                ...

    Iterating yields ``(images, labels)``: ``images`` is ``(N, 3, H, W)``
    (``layout='NCHW'``) or ``(N, H, W, 3)``, ``labels`` is ``int64 (N,)``. They
    are torch tensors when torch is importable (``output='auto'``), else NumPy
    arrays; either way ``images`` views the loader's buffer without a copy
    (NumPy through the buffer protocol, torch through DLPack; the underlying
    batch object also implements ``__dlpack__`` / ``__dlpack_device__``).

    The defaults give what ``RandomResizedCrop(224) + RandomHorizontalFlip() +
    ToTensor() + Normalize(IMAGENET_MEAN, IMAGENET_STD)`` gives: ``float32``,
    NCHW, normalized. ``dtype='uint8'`` skips the conversion (4x less memory;
    normalize on the GPU). ``pipeline='eval'`` is ``Resize(256) +
    CenterCrop(224)``.

    Args:
        source: a dataset directory or a :class:`Dataset`.
        batch_size: samples per batch.
        size: output size, an int or (height, width).
        pipeline: 'train' (RandomResizedCrop + flip), 'eval' (resize + center
            crop) or 'none' (whole image resized).
        threads: worker threads. None (default): :func:`default_threads`, the
            CPUs this process may use (affinity mask, cgroup CPU quota)
            divided by ``LOCAL_WORLD_SIZE`` (torchrun's processes on this
            machine) unless the affinity mask already gives this process a
            share of the machine; at least 1. ``loader.threads`` is the
            number used. The thread count never changes the batches, so
            ranks need not agree on it.
        seed: seeds the shuffle and every augmentation draw (the C
            pipeline's and the transform hooks'). None (default):
            ``torch.initial_seed()`` when torch is imported (torch.manual_seed
            and Lightning's seed_everything decide it), else 64 bits from the
            OS; the seed used is ``loader.seed`` (in repr and the state). A
            sharded loader's ranks must agree: with seed=None they take rank
            0's over torch.distributed (broadcast_object_list: every rank
            creates its loader; with NCCL after torch.cuda.set_device, as
            torchrun scripts and Lightning do), and without torch.distributed
            a sharded loader needs a seed.
        order: 'shuffle' (a new permutation every epoch), 'sequential', or
            'blocks' (shuffled blocks of neighbouring records, for data larger
            than memory). None (default): 'shuffle' for pipeline='train',
            'sequential' for 'eval' and 'none'.
        drop_last: drop this rank's last incomplete batch.
        rank, world_size: this process's share, DistributedSampler-style
            (every rank gets the same number of batches). Default: 0 and 1
            (unsharded) unless ``distributed=True``.
        distributed: sharding is opt-in, as DistributedSampler is. True: rank
            and world size from torch.distributed when initialized, else
            RANK / WORLD_SIZE, else 0 and 1. None (default) and False: every
            sample on this rank; with None, a :class:`ShardingWarning` when
            torch.distributed or RANK / WORLD_SIZE say there are several ranks.
        with_records: yield ``(images, labels, record_ids)``: int64 record
            numbers (``Dataset.source_path(i)``), e.g. to de-duplicate
            predictions.
        indices: a subset of the records (record numbers; any integer
            sequence or array), e.g. a train / val split of one packed tree
            without a re-pack (FFCV's ``Loader(indices=...)``): visited in the
            given order with ``order='sequential'``, shuffled (or in blocks)
            otherwise; ranks, padding and ``on_error='replace'`` work within
            it. ``len(loader)`` counts its batches. ``loader.indices`` has it.
        classes: keep only the records of these classes (names or labels),
            of ``indices`` when given.
        device: 'cpu', 'cuda:N' (or an int N, or a torch.device), or 'cuda':
            the GPU given by LOCAL_RANK (torchrun's convention: one loader per
            GPU per process; 0 when unset). With a CUDA device the batches are
            decoded on the CPU, copied to the GPU as uint8 and converted there
            (see "Device batches"). Without a GPU: pvpack.Error("PV_ERR_CUDA:
            ...: no CUDA device: ..."); in a build without the CUDA path:
            RuntimeError("pvpack was built without the CUDA path").
        dtype: 'uint8', 'float32', or with device='cuda' also 'float16' and
            'bfloat16' (strings or numpy/torch dtypes); on the CPU those two
            raise ValueError("float16 needs device='cuda'").
        layout: 'NCHW' (torch's) or 'NHWC'.
        mean, std: normalization in the 0..1 scale, ``(x / 255 - mean) / std``
            per channel (torchvision's Normalize after ToTensor), computed in
            float32 on the CPU and on the GPU alike (then rounded to nearest
            even for float16 / bfloat16). Ignored for uint8.
        prefetch: batch buffers in the ring (memory: prefetch x batch bytes).
        epoch: the first epoch.
        on_error: 'fail' (raise pvpack.Error naming shard, record and source
            file) or 'replace' (substitute the next record, deterministically).
        verify_checksums: check each record's XXH3 before decoding it.
        jpeg_decode: 'auto' (default: 'fast' for pipeline='train', 'accurate'
            for 'eval' and 'none'), 'accurate' (the integer IDCT and fancy
            upsampling: PIL's and torchvision's pixels) or 'fast' (libjpeg's
            fast IDCT and plain upsampling: about 42 dB PSNR from
            accurate on photos); ``loader.jpeg_decode`` says which is used,
            and the state records it.
        scale, ratio, flip_prob: RandomResizedCrop and flip parameters.
        eval_resize: the Resize() target of the eval pipeline.
        filter: 'bilinear' (torchvision's), 'bicubic' or 'lanczos'.
        block_records, block_group: the 'blocks' order's parameters.
        rank_drop: drop the tail so ranks get equal counts instead of padding
            (DistributedSampler(drop_last=True)).
        rank_unrepeated: every sample exactly once across the ranks, the
            ranks' counts differing by at most one (Lightning's
            UnrepeatedDistributedSampler): an evaluation split whose results
            gathered from all ranks score each sample once.
        output: 'auto', 'torch', 'numpy' (CPU only) or 'dlpack' (CUDA only:
            yields the raw DLPack-capable device arrays, for CuPy, JAX, ...).
            'auto' is torch when importable (with CUDA, for device='cuda'),
            else numpy (CPU) or dlpack (CUDA).
        hold_limit: how many batches user code may keep alive while the ring
            keeps all its other buffers (default ring // 2, at most ring - 1,
            where the ring is ``prefetch`` host buffers on the CPU and
            ``depth`` device buffers with CUDA); see "Lifetime". An integer
            >= 0 (larger values mean ring - 1).
        max_record_pixels, max_record_bytes, max_decoder_memory, max_scans:
            the read-side limits of :class:`Dataset` (None: its defaults), for
            the Dataset the loader opens when ``source`` is a path; a record
            over one fails like a damaged record (``PV_ERR_LIMIT``; replaced
            with ``on_error='replace'``). With a Dataset as ``source``, set
            them on the Dataset instead.

    Integer arguments take ints or NumPy integers (a float is a TypeError)
    and out-of-range values raise ValueError: batch_size, size and prefetch
    >= 1, eval_resize 1..max(4096, 4 x the longer output side), seed and
    epoch >= 0.
        depth: device='cuda' only: batches in the device ring (ready ahead
            of the caller plus those it holds). Device memory: depth x batch
            bytes in the output dtype (+ a uint8 staging batch per slot unless
            the output is uint8 NHWC); host: ``prefetch`` pinned uint8 batches.
        host_memory: device='cuda' only: the host ring's memory, 'pinned'
            (default), 'write_combined' or 'pageable'.
        pin_memory: device='cpu' only: the loader's batch buffers are
            page-locked (cudaHostAlloc), as DataLoader(pin_memory=True), so
            ``images.to('cuda', non_blocking=True)`` is a DMA without a
            staging copy. Needs a CUDA device: without one (or in a build
            without CUDA) the constructor raises pvpack.Error
            (``PV_ERR_CUDA``, saying why). With ``non_blocking=True`` keep
            the host batch alive until the copy has run (e.g. until the next
            batch is taken): its buffer goes back to the ring when the last
            view dies, and torch does not track foreign pinned memory.
        sample_transform: a Python hook called on every sample after the C
            crop / flip / resize, as a ``(3, H, W)`` uint8 torch tensor
            (torchvision ``transforms.v2``: RandAugment, TrivialAugmentWide,
            ColorJitter, RandomErasing, ...); it returns a uint8 tensor of the
            same shape, which is then converted to ``dtype`` / ``layout`` /
            ``mean`` / ``std`` as the C loader would. torch's generator and
            Python's ``random`` are seeded per sample from (seed, epoch,
            record) around the call, so runs repeat exactly. CPU only; runs in
            the iterating thread (see bench/transforms_bench.py for its cost);
            ``loader.batches()`` still yields the C loader's raw batches.
        batch_transform: ``f(images, labels) -> (images, labels)`` called on
            each finished batch (MixUp, CutMix), seeded from (seed, epoch,
            rank, batch index). CPU only.

    Lifetime: a batch's buffer is never refilled while any array or tensor
    viewing it is alive. When user code keeps more than ``hold_limit``
    batches, the oldest of them is detached from the ring -- its buffer
    becomes its own (same address, same bytes; freed when the last view
    dies) and the ring gets a fresh buffer. So keeping every batch of an
    epoch gives correct data, and memory is the ring (``prefetch`` buffers)
    plus what you keep.

    Device batches (device='cuda'): ``images`` and ``labels`` (int64) are
    CUDA tensors on the loader's device that view the loader's device
    buffers (zero copy, through DLPack). Each batch is made ready, without
    blocking the host, on torch's *current stream* of that device at the time
    the batch is fetched; work you enqueue on that stream sees it complete.
    Importing a batch on another stream through DLPack
    (``__dlpack__(stream=s)``) makes ``s`` wait for it. When the last tensor
    viewing a batch dies, its buffer goes back to the ring ordered after the
    work enqueued so far on those streams, so kernels still running on them
    never see it overwritten. Reads on some other stream that never imported
    the batch are yours to order (as with torch's ``record_stream``). Kept
    batches beyond ``hold_limit`` are detached as on the CPU: the batch keeps
    its device buffers (same address) and the ring gets new ones, so device
    memory is ``depth`` batches plus the batches you keep. Device batch k is
    exactly CPU batch k of the same options (bit-identical uint8 and
    float32). :meth:`sample_record` is CPU-only; ``loader.batches()`` yields
    ``CudaBatch`` objects with ``.images`` / ``.device_labels`` (DLPack),
    host ``.labels`` / ``.records``.

    Epochs: an iteration runs one epoch of ``len(loader)`` batches. ``iter()``
    is cheap and positionless: the epoch is decided at its first ``next()``
    (creating iterators, as Lightning does, or a ``next(iter(loader))`` peek
    shifts nothing). It runs the epoch set by :meth:`set_epoch` /
    :meth:`load_state_dict` (or the constructor's), from the restored batch;
    after an iteration that handed out every batch, the next epoch; after one
    that stopped early, the same epoch again from its start. ``sampler`` and
    ``batch_sampler`` (torch samplers) have a ``set_epoch`` that sets the
    loader's, which Lightning and Accelerate call each epoch. Every
    sample and augmentation depends only on (seed, epoch, position), so a run
    is bit-identical whatever ``threads`` is, and :meth:`state_dict` taken
    mid-epoch resumes exactly. ``size``, ``batch_size`` and ``drop_last`` may
    be assigned between epochs (not while an epoch is part-way, nor at a
    restored mid-epoch position): they hold from the epoch the next iteration
    runs, and the state records and checks them.

    Threads: iterate from one thread at a time. The GIL is released while C
    works; Ctrl-C raises KeyboardInterrupt within ~50 ms and the loader stays
    usable. Errors from C are :class:`pvpack.Error`.
    """

    def __init__(self, source: Union[PathLike, Dataset], *args: Any, **kwargs: Any) -> None:
        a = _SIGNATURE.bind(self, source, *args, **kwargs)
        a.apply_defaults()
        kw = dict(a.arguments)
        del kw["self"], kw["source"]
        limits = {k: kw.pop(k) for k in _LIMITS}
        if isinstance(source, Dataset):
            given = [k for k, v in limits.items() if v is not None]
            if given:
                raise ValueError(f"{', '.join(given)}: the limits of a Dataset source are its "
                                 "own; pass them to pvpack.Dataset(...)")
            self.dataset: Dataset = source
        else:
            self.dataset = Dataset(source, **limits)
        device, output = kw.pop("device"), kw.pop("output")
        dev, dev_index = _device_name(device)
        dt = _dtype_name(kw.pop("dtype"))
        if output not in ("auto", "torch", "numpy", "dlpack"):
            raise ValueError(f"output must be 'auto', 'torch', 'numpy' or 'dlpack', "
                             f"not {output!r}")
        if output == "auto":
            output = "torch" if importlib.util.find_spec("torch") is not None else "numpy"
            if dev == "cuda" and (output == "numpy" or not _torch_has_cuda()):
                output = "dlpack"
        pin = kw.pop("pin_memory")
        if not isinstance(pin, (bool, np.bool_)):
            raise TypeError(f"pin_memory must be a bool, not {type(pin).__name__}")
        if pin and dev != "cpu":
            raise ValueError("pin_memory=True is for device='cpu' (device='cuda' stages batches "
                             "in pinned memory already: host_memory='pinned')")
        sample_tf, batch_tf = kw.pop("sample_transform"), kw.pop("batch_transform")
        if pin and (sample_tf is not None or batch_tf is not None):
            raise ValueError("pin_memory=True pins the C loader's batches; the transform hooks "
                             "return new tensors, which are not pinned (call .pin_memory() on "
                             "them, or drop pin_memory)")
        if (sample_tf is not None or batch_tf is not None) and dev != "cpu":
            raise ValueError("sample_transform / batch_transform need device='cpu' (move the "
                             "batches to the GPU yourself, or transform on the GPU there)")
        self._source = _make_source(dev, dev_index, dt, output, kw.pop("depth"),
                                    kw.pop("host_memory"))
        self.rank, self.world_size = _rank_world(kw.pop("rank"), kw.pop("world_size"),
                                                 kw.pop("distributed"))
        self.with_records = bool(kw.pop("with_records"))
        subset = _subset(self.dataset, kw.pop("indices"), kw.pop("classes"))
        self._seed_was_none = kw["seed"] is None
        if kw["seed"] is None:
            kw["seed"] = _shared_seed(self.rank, self.world_size)
        if kw["order"] is None:
            kw["order"] = "shuffle" if kw["pipeline"] == "train" else "sequential"
        if sample_tf is not None or batch_tf is not None:
            self._source = _hooked(self._source, dev, output, sample_tf, batch_tf, dt,
                                   kw["layout"], kw["mean"], kw["std"], self.rank)
        hold_limit = kw.pop("hold_limit")
        h, w = _pair("size", kw.pop("size"))
        layout = kw["layout"]
        if not isinstance(layout, str):
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', not {layout!r}")
        threads = kw["threads"]
        if threads is not None:
            threads = _int("threads", threads, _PY_MIN["threads"], _TABLE["threads"]["max"])
        else:
            threads = min(default_threads(), _TABLE["threads"]["max"])
        self.threads: int = threads
        er_max = _pvpack.eval_resize_max(h, w)  # the C loader's bound, PV_EVAL_RESIZE_MAX
        kw["eval_resize"] = _int("eval_resize", kw["eval_resize"], _PY_MIN["eval_resize"], er_max)
        for k in ("block_records", "block_group"):
            kw[k] = _int(k, kw[k], _PY_MIN[k], _TABLE[k]["max"])
        # The rest is checked by the library, against the table.
        if pin:
            kw["pin_memory"] = True  # to the C loader: the pinned allocator
        self.pin_memory = bool(pin)
        opts: Dict[str, Any] = dict(height=h, width=w, threads=threads, rank=self.rank,
                                    world_size=self.world_size,
                                    hold_limit=-1 if hold_limit is None else
                                    _int("hold_limit", hold_limit, 0, 2**31 - 1))
        for k, v in kw.items():
            if k in _GROUPS and k not in opts:
                try:
                    parts = tuple(v)
                except TypeError:
                    raise TypeError(f"{k} must be a sequence of {len(_GROUPS[k])} numbers, "
                                    f"not {v!r}") from None
                if len(parts) != len(_GROUPS[k]):
                    raise ValueError(f"{k} must have {len(_GROUPS[k])} values, not {v!r}")
                opts.update(zip(_GROUPS[k], parts))
            elif k not in opts:
                opts[k] = v
        batch_size, seed, epoch = kw["batch_size"], kw["seed"], kw["epoch"]
        pipeline, order, drop_last = kw["pipeline"], kw["order"], kw["drop_last"]
        if subset is not None:
            opts["indices"] = subset.tobytes()
        self.indices = subset  # the records an epoch visits (None: all), read-only
        self._subset_id = None if subset is None else \
            hashlib.sha1(subset.tobytes()).hexdigest()[:16]
        self._core = self._source.create(self.dataset._ds, dict(opts))
        self.batch_size, self.size, self.seed = operator.index(batch_size), (h, w), \
            operator.index(seed)
        self._seed_drawn = self._seed_was_none
        if hasattr(self._source, "sample_transform"):
            self._source.seed = self.seed
        self.pipeline, self.order, self.layout = pipeline, order, layout.upper()
        self.dtype, self.device, self.output = dt, self._source.device, output
        self.drop_last = bool(drop_last)
        # How JPEG records are decoded: 'auto' resolved as the C loader does
        # (fast for train, accurate for eval and none); in the state.
        jd = opts.get("jpeg_decode", "auto")
        self.jpeg_decode: str = jd if jd != "auto" else \
            ("fast" if pipeline == "train" else "accurate")
        # The position (see "Epochs"): the next batch to hand out is batch
        # _next_batch of epoch _epoch; _started: an iteration has handed out
        # batches from it (so a new iteration starts the epoch again, or the
        # next one when all were handed out), else the next iteration starts
        # exactly there (a new loader, set_epoch, load_state_dict).
        self._epoch = operator.index(epoch)
        self._next_batch = 0
        self._started = False
        # Elastic resume: the epoch's deal starts at this global position
        # (pv_loader_set_epoch_rest), None: a full epoch.
        self._rest: Optional[int] = None
        self._core_pos: Optional[Tuple[int, int, Optional[int]]] = (self._epoch, 0, None)
        self._iter_gen = 0             # bumped by iter(): older iterators are void
        self._run_gen = -1             # the generation of the running iteration
        self._sampler: Any = None
        self._batch_sampler: Any = None
        self._identity = _dataset_identity(self.dataset)
        self._closed = False
        self._opts = opts  # what the C loader was made with (assignable attributes)

    # ---- assignable between epochs -----------------------------------------
    # size, batch_size and drop_last may be assigned between epochs
    # (progressive resizing): the C loader is made again, positioned at the
    # epoch the next iter() runs, so that epoch is exactly what a new Loader
    # with the new value would give for it. In __init__ (before _opts
    # exists) they are plain stores.
    @property
    def size(self) -> Tuple[int, int]:
        """Output (height, width). Assignable between epochs (an int or a pair)."""
        return self._size

    @size.setter
    def size(self, value: Union[int, Sequence[int]]) -> None:
        h, w = _pair("size", value)
        if "_opts" in self.__dict__:
            self._reconfigure("size", height=h, width=w)
        self._size = (h, w)

    @property
    def batch_size(self) -> int:
        """Samples per batch. Assignable between epochs."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        v = _int("batch_size", value, _TABLE["batch_size"]["min"], _TABLE["batch_size"]["max"])
        if "_opts" in self.__dict__:
            self._reconfigure("batch_size", batch_size=v)
        self._batch_size = v

    @property
    def drop_last(self) -> bool:
        """Drop this rank's last incomplete batch. Assignable between epochs."""
        return self._drop_last

    @drop_last.setter
    def drop_last(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_, int)):
            raise TypeError(f"drop_last must be a bool, not {type(value).__name__}")
        v = bool(value)
        if "_opts" in self.__dict__:
            self._reconfigure("drop_last", drop_last=v)
        self._drop_last = v

    def _reconfigure(self, name: str, **changes: Any) -> None:
        """Make the C loader again with ``changes``, at the epoch the next
        iteration runs (see "Epochs"), from its first batch. Refused in the
        middle of an epoch -- batches of it handed out, or a position inside
        it restored by load_state_dict (its remaining batches would be those
        of neither configuration). An ``iter()`` made before the assignment
        and not yet started runs with the new value (iter() is positionless);
        the state records the new values, so a resume needs them too."""
        if self._closed:
            raise ValueError("Loader is closed")
        n = self._epoch_len()
        if not self._started:
            if self._next_batch > 0 or self._rest:
                where = f"batch {self._next_batch} of {n}"
                if self._rest:
                    where += f" (an elastic resume, from global position {self._rest})"
                raise RuntimeError(
                    f"loader.{name} can only be assigned between epochs: the loader is set to "
                    f"resume epoch {self._epoch} at {where} (assign it before load_state_dict, "
                    "or after that epoch)")
            target = self._epoch
        elif self._next_batch == 0:
            target = self._epoch  # an iteration began, no batch taken: run it anew
        elif self._next_batch >= n:
            target = self._epoch + 1
        else:
            raise RuntimeError(
                f"loader.{name} can only be assigned between epochs: epoch {self._epoch} is at "
                f"batch {self._next_batch} of {n} (assign it before iterating the next epoch, "
                f"or call set_epoch({self._epoch}) to start that epoch again)")
        opts = dict(self._opts, **changes)
        opts["epoch"] = target
        core = self._source.create(self.dataset._ds, dict(opts))  # raises before any change
        old, self._core, self._opts = self._core, core, opts
        old.close()
        self._epoch, self._next_batch, self._started, self._rest = target, 0, False, None
        self._core_pos = (target, 0, None)
        self._run_gen = -1  # an iteration in progress on the old C loader ends

    # ---- sizes ------------------------------------------------------------
    def __len__(self) -> int:
        """Batches per epoch for this rank."""
        return self._core.batches_per_epoch

    @property
    def samples_per_epoch(self) -> int:
        """Samples per epoch for this rank (padding included, DistributedSampler-style)."""
        return self._core.samples_per_epoch

    @property
    def epoch(self) -> int:
        """The epoch being (or last) iterated, or set by set_epoch."""
        return self._epoch

    # ---- positioning ------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration run epoch ``epoch`` (as
        DistributedSampler.set_epoch; Lightning calls it through
        :attr:`sampler`). When the loader already stands at the start of
        that epoch's remaining batches -- a fresh loader, or one restored by
        :meth:`load_state_dict` to a position inside ``epoch`` -- the
        position is kept, so ``load_state_dict(s)`` then ``set_epoch(e)``
        resumes. Otherwise the epoch starts from its first batch, and an
        iteration in progress ends (its next ``next()`` raises)."""
        e = _int("epoch", epoch, 0, _U64)
        if self._started or e != self._epoch:
            self._epoch, self._next_batch, self._started, self._rest = e, 0, False, None
            self._run_gen = -1

    def _sequence_options(self) -> Dict[str, Any]:
        """The options that decide which sample (and which augmentation) is
        at each position: a resumed state must have the same."""
        o = self._opts
        return {"height": o["height"], "width": o["width"], "pipeline": self.pipeline,
                "eval_resize": o.get("eval_resize"), "scale": (o.get("scale_min"),
                                                                o.get("scale_max")),
                "ratio": (o.get("ratio_min"), o.get("ratio_max")),
                "flip_prob": o.get("flip_prob"), "filter": o.get("filter"),
                "drop_last": self.drop_last, "rank_drop": bool(o.get("rank_drop")),
                "rank_unrepeated": bool(o.get("rank_unrepeated")),
                "block_records": o.get("block_records") if self.order == "blocks" else None,
                "block_group": o.get("block_group") if self.order == "blocks" else None,
                "on_error": o.get("on_error"), "indices": self._subset_id,
                "jpeg_decode": self.jpeg_decode}

    def state_dict(self) -> Dict[str, Any]:
        """The position to resume from: the epoch and the number of batches of
        it already handed out, the seed used, the dataset's identity, and the
        options that must match on resume."""
        e, b, base = self._epoch, self._next_batch, self._rest or 0
        if b >= self._epoch_len():
            e, b, base = e + 1, 0, 0  # finished: the next iteration starts the next epoch
        seq = self._sequence_options()
        return {"version": _STATE_VERSION, "epoch": e, "batch": b, "base": base,
                "seed": self.seed,
                "batch_size": self.batch_size, "rank": self.rank,
                "world_size": self.world_size, "order": self.order,
                "batches_per_epoch": len(self), "records": len(self.dataset),
                "dataset": self._identity, "options": seq}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resume: the next iteration continues at batch ``state['batch']``
        of epoch ``state['epoch']``, yielding exactly what the interrupted run
        would have yielded (``set_epoch`` with that epoch keeps the position).
        A loader made with ``seed=None`` takes the state's seed; otherwise
        the seeds must match. Raises ValueError when the state was made on
        another dataset (its index differs, even with the same record count)
        or with a different seed, batch size, order, world size, size,
        pipeline, crop parameters, drop_last or rank_drop."""
        v = state.get("version") if isinstance(state, dict) else state
        if v not in (1, _STATE_VERSION):
            raise ValueError(f"unknown loader state version {v!r} (this pvpack writes "
                             f"version {_STATE_VERSION})")
        mine = self.state_dict()
        if v == 1:  # an older pvpack's: no dataset identity, no sequence options
            warnings.warn("a version-1 pvpack loader state: it does not record the dataset's "
                          "identity nor the size / pipeline / crop options, so those are not "
                          "checked; the seed, batch size, order, world size and record count "
                          "are", stacklevel=2)
            if state.get("world_size") != self.world_size:
                raise ValueError(f"loader state has world_size={state.get('world_size')!r}, "
                                 f"this loader has {self.world_size!r}: resuming would not be "
                                 "exact")
            state = dict(state, dataset=mine["dataset"], options=mine["options"])
        if state.get("dataset") != mine["dataset"]:
            raise ValueError(f"loader state is of dataset {state.get('dataset')!r}, this "
                             f"loader reads {mine['dataset']!r} ({self.dataset.root}): another "
                             "build; resuming would not be exact")
        for k in ("batch_size", "order", "records"):
            if state.get(k) != mine[k]:
                raise ValueError(f"loader state has {k}={state.get(k)!r}, this loader has "
                                 f"{mine[k]!r}: resuming would not be exact")
        theirs = state.get("options")
        if not isinstance(theirs, dict):
            raise ValueError("loader state has no 'options': not a pvpack state")
        # A state from before jpeg_decode existed was decoded accurately.
        theirs = dict({"jpeg_decode": "accurate"}, **theirs)
        for k, v in mine["options"].items():
            if _norm(theirs.get(k)) != _norm(v):
                raise ValueError(f"loader state has {k}={theirs.get(k)!r}, this loader has "
                                 f"{v!r}: resuming would not be exact")
        seed = state.get("seed")
        if seed != self.seed:
            if not self._seed_drawn:
                raise ValueError(f"loader state has seed={seed!r}, this loader has "
                                 f"{self.seed!r}: resuming would not be exact")
            self._reseed(_int("seed", seed, 0, _U64))
        e, b = _int("epoch", state.get("epoch"), 0, _U64), _int("batch", state.get("batch"), 0)
        base = _int("base", state.get("base", 0), 0, self._positions() - 1)
        w_old = _int("world_size", state.get("world_size"), 1)
        rest: Optional[int] = base or None
        if w_old != self.world_size:
            # Elastic: every rank of the old run handed out b batches (they
            # step together), i.e. global positions base .. first - 1.
            if self.device != "cpu":
                raise ValueError(f"loader state has world_size={w_old}, this loader has "
                                 f"{self.world_size}: an elastic resume needs device='cpu'")
            first = base + b * self.batch_size * w_old
            e, b, rest = (e + 1, 0, None) if first >= self._positions() else (e, 0, first)
        if b > self._epoch_len(rest):
            raise ValueError(f"batch {b} out of range (epoch has {self._epoch_len(rest)})")
        if b == self._epoch_len(rest):
            e, b, rest = e + 1, 0, None
        self._epoch, self._next_batch, self._started, self._rest = e, b, False, rest
        self._run_gen = -1

    def _positions(self) -> int:
        """The global positions of an epoch: the records (or indices)."""
        return len(self.dataset) if self.indices is None else len(self.indices)

    def _epoch_len(self, rest: Any = False) -> int:
        """Batches of this rank in the current epoch (or of a deal starting at
        global position `rest`): len(loader), or fewer in an elastic rest."""
        if rest is False:
            rest = self._rest
        if not rest:
            return len(self)
        span, w, r = self._positions() - rest, self.world_size, self.rank
        if self._opts.get("rank_unrepeated"):
            n = (span - r + w - 1) // w if r < span else 0
        else:
            n = span // w if self._opts.get("rank_drop") else -(-span // w)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _reseed(self, seed: int) -> None:
        """Adopts a restored state's seed: a new C loader with it."""
        if self._closed:
            raise ValueError("Loader is closed")
        self._opts["seed"] = seed
        old = self._core
        self._core = self._source.create(self.dataset._ds, dict(self._opts))
        self._core_pos = (self._opts["epoch"], 0, None)
        old.close()
        self.seed, self._seed_drawn = seed, False
        if hasattr(self._source, "sample_transform"):
            self._source.seed = seed  # the hooks' per-sample seeds follow

    # ---- Lightning / torch integration ---------------------------------------
    @property
    def sampler(self) -> Any:
        """This rank's sample order as a torch Sampler (a SequentialSampler
        when ``order='sequential'``): ``set_epoch`` sets the loader's epoch
        (Lightning and Accelerate call it each epoch), iterating it yields
        the record numbers of this rank's samples of the current epoch, and
        ``len`` is :attr:`samples_per_epoch`."""
        if self._sampler is None:
            self._sampler = _make_sampler(self)
        return self._sampler

    @property
    def batch_sampler(self) -> Any:
        """Batches of :attr:`sampler` (a torch BatchSampler): ``sampler``,
        ``batch_size``, ``drop_last``, ``set_epoch``, ``len`` = ``len(loader)``."""
        if self._batch_sampler is None:
            self._batch_sampler = _make_batch_sampler(self)
        return self._batch_sampler

    # ---- iteration --------------------------------------------------------
    def _begin(self, gen: int) -> int:
        """Positions the C loader for the iteration `gen` at its first next();
        returns its epoch."""
        if self._closed:
            raise ValueError("Loader is closed")
        if gen != self._iter_gen:
            raise RuntimeError("the loader was re-iterated during this iteration")
        rest = self._rest
        if not self._started:
            e, b = self._epoch, self._next_batch
        elif self._next_batch >= self._epoch_len():
            e, b, rest = self._epoch + 1, 0, None
        else:
            e, b = self._epoch, 0
        if (e, b, rest) != self._core_pos:
            if rest:
                self._core.set_epoch_rest(e, rest, b)
            else:
                self._core.set_epoch(e, b)
        self._epoch, self._next_batch, self._started, self._rest = e, b, True, rest
        self._core_pos = (e, b, rest)
        self._run_gen = gen
        return e

    def _iterate(self, convert: Any) -> Iterator[Any]:
        if self._closed:
            raise ValueError("Loader is closed")
        self._iter_gen += 1
        return self._run(self._iter_gen, convert)

    def __iter__(self) -> Iterator[Any]:
        """An iteration over one epoch. Cheap: nothing is positioned or
        consumed until its first ``next()`` (so creating iterators, as
        Lightning does, or ``set_epoch`` after ``iter()``, changes nothing);
        creating one ends any earlier iteration."""
        convert = self._source.convert
        if self.with_records:
            base = convert

            def convert(b: Any) -> Tuple[Any, Any, Any]:
                recs = np.frombuffer(b.records, dtype=np.uint64).astype(np.int64)
                images, labels = base(b)
                if self._source.output == "torch" and self._source.device == "cpu":
                    recs = self._source._torch.from_numpy(recs)
                return images, labels, recs
        return self._iterate(convert)

    def batches(self) -> Iterator["_pvpack.Batch"]:
        """Like iter(loader), but yields the raw batch objects: buffer protocol,
        ``__dlpack__`` / ``__dlpack_device__``, ``labels`` and ``records``
        (bytearrays of int64 / uint64), ``epoch``, ``index``, ``count``."""
        return self._iterate(lambda b: b)

    def _run(self, gen: int, convert: Any) -> Iterator[Any]:
        e = self._begin(gen)
        core = self._core
        while True:
            if gen != self._iter_gen or gen != self._run_gen:
                raise RuntimeError("the loader was re-iterated or repositioned "
                                   "(set_epoch / load_state_dict) during this iteration")
            # Unknown until the bookkeeping below is done: Ctrl-C (or an
            # error) can land after the C loader handed a batch out and before
            # it is counted, and the next iteration must then reposition it.
            self._core_pos = None
            batch = self._source.next(core)
            if batch is None:
                self._core_pos = (e, self._next_batch, self._rest)
                break
            self._next_batch = batch.index + 1
            self._core_pos = (e, batch.index + 1, self._rest)
            # The suspended generator must not keep the batch alive (its slot
            # goes back as soon as the caller drops its views): no local
            # refers to it across the yield.
            box = [batch]
            del batch
            yield convert(box.pop())
        # Start the next epoch's work now (overlaps whatever the caller does
        # between epochs); set_epoch(e + 1) then finds it already positioned.
        if gen == self._iter_gen and gen == self._run_gen and not self._closed:
            self._core_pos = None
            core.set_epoch(e + 1, 0)
            self._core_pos = (e + 1, 0, None)

    # ---- misc -------------------------------------------------------------
    def sample_record(self, epoch: int, k: int) -> int:
        """The record number of this rank's k-th sample in epoch ``epoch``
        (device='cpu' only; device batches carry their ``records``)."""
        if not hasattr(self._core, "sample_record"):
            raise NotImplementedError("sample_record needs device='cpu'; with device='cuda' "
                                      "each batch of loader.batches() has its records")
        return self._core.sample_record(_int("epoch", epoch, 0, _U64), _int("k", k, 0, _U64))

    def stats(self) -> Dict[str, Any]:
        """Cumulative worker times (decode_resize_s, convert_s), wait_s, samples,
        replaced, and the binding's detached / held batch counts."""
        return self._core.stats()

    def close(self) -> None:
        """Stop the workers' work. Batches still alive stay valid; the memory
        goes when the last of them does."""
        if not self._closed:
            self._closed = True
            self._iter_gen += 1
            self._core.close()

    def __enter__(self) -> "Loader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"pvpack.Loader({self.dataset.root!r}, batch_size={self.batch_size}, "
                f"size={self.size}, pipeline={self.pipeline!r}, dtype={self.dtype!r}, "
                f"layout={self.layout!r}, device={self.device!r}, "
                f"rank={self.rank}/{self.world_size}, seed={self.seed}, order={self.order!r}, "
                f"{len(self)} batches/epoch)")


def _loader_signature() -> inspect.Signature:
    P = inspect.Parameter
    params = [P("self", P.POSITIONAL_OR_KEYWORD), P("source", P.POSITIONAL_OR_KEYWORD)]
    defaults = dict(_KEYWORDS, **_PY_ONLY)
    for k in _POSITIONAL:
        params.append(P(k, P.POSITIONAL_OR_KEYWORD, default=defaults[k]))
    for k, d in defaults.items():
        if k not in _POSITIONAL:
            params.append(P(k, P.KEYWORD_ONLY, default=d))
    for k in _LIMITS:
        params.append(P(k, P.KEYWORD_ONLY, default=None))
    return inspect.Signature(params)


def _loader_doc() -> str:
    """The keywords' section of Loader's docstring, from the table."""
    lines = ["", "    Keywords from the loader options table (``_pvpack.options('loader')``,",
             "    the C loader's defaults and ranges; ``pvpack bench`` has the same",
             "    options as flags where it has them):", ""]
    for k, d in _KEYWORDS.items():
        entries = [_TABLE[n] for n in _GROUPS.get(k, (k,))]
        o = entries[0]
        text = o["help"]
        if o["kind"] == "choice":
            text += "; one of " + ", ".join(repr(c) for c in o["choices"])
        elif o["kind"] == "int" and o["max"] < 2**63:
            text += f"; {_PY_MIN.get(k, o['min'])}..{o['max']}"
        lines.append(textwrap.fill(f"{k}: {text} (default {d!r}).", width=80,
                                   initial_indent=" " * 8, subsequent_indent=" " * 12))
    return "\n".join(lines) + "\n"


_SIGNATURE = _loader_signature()
Loader.__init__.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
Loader.__doc__ = (Loader.__doc__ or "") + _loader_doc()
