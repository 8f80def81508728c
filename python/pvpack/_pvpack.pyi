"""Type stub of the C extension pvpack._pvpack (low level; use pvpack.*)."""
from typing import Any, Callable, Dict, List, Optional, Tuple

version: str
HAVE_CUDA: int   # 1: libpvpack has the CUDA path (device='cuda' possible)
CUDA_MOCK: int   # 1: test build over tests/cuda_mock.c (no real GPU)

class Error(RuntimeError):
    """An error from libpvpack."""
    status: int          # negative pv_status value
    status_name: str     # "PV_ERR_CHECKSUM"
    detail: str          # shard, record, source path, reason

class Dataset:
    def __init__(self, path: str, verify_on_read: bool = ..., *,
                 max_record_pixels: Optional[int] = ..., max_record_bytes: Optional[int] = ...,
                 max_decoder_memory: Optional[int] = ..., max_scans: Optional[int] = ...) -> None: ...
    def __len__(self) -> int: ...
    def record(self, i: int) -> Dict[str, Any]: ...
    def label(self, i: int) -> int: ...
    def source_path(self, i: int) -> str: ...
    def decode(self, i: int) -> Tuple[bytearray, int, int, int]: ...
    classes: List[str]
    class_records: List[int]
    options_text: str
    skipped_text: str
    path: str
    shard_count: int

class Batch:
    """One batch: images through the buffer protocol and DLPack."""
    labels: bytearray    # count int64
    records: bytearray   # count uint64
    epoch: int
    index: int
    count: int
    replaced: int
    detached: bool
    shape: Tuple[int, int, int, int]
    dtype: str
    address: int
    def __dlpack__(self, *, stream: Optional[int] = ..., max_version: Optional[Tuple[int, int]] = ...,
                   dl_device: Any = ..., copy: Optional[bool] = ...) -> Any: ...
    def __dlpack_device__(self) -> Tuple[int, int]: ...
    def __buffer__(self, flags: int) -> memoryview: ...

class Loader:
    def __init__(self, dataset: Dataset, options: Dict[str, Any]) -> None: ...
    def next(self) -> Optional[Batch]: ...
    def set_epoch(self, epoch: int, start_batch: int = ...) -> None: ...
    def set_epoch_rest(self, epoch: int, first: int, start_batch: int = ...) -> None: ...
    def close(self) -> None: ...
    def sample_record(self, epoch: int, k: int) -> int: ...
    def stats(self) -> Dict[str, Any]: ...
    batches_per_epoch: int
    samples_per_epoch: int
    epoch_batches: int
    hold_limit: int

class DeviceArray:
    """A CudaBatch's images or device labels, exported through DLPack
    (kDLCUDA). __dlpack__(stream=s): s = None or 1 (legacy default stream),
    2 (per-thread default), a cudaStream_t, or -1 (no synchronization); 0 is
    refused. A stream other than the batch's is made to wait for it and is
    waited for before the slot is reused."""
    shape: Tuple[int, ...]
    dtype: str           # 'uint8' 'float32' 'float16' 'bfloat16' (images), 'int64' (labels)
    batch: "CudaBatch"
    address: int         # device address
    def __dlpack__(self, *, stream: Optional[int] = ..., max_version: Optional[Tuple[int, int]] = ...,
                   dl_device: Optional[Tuple[int, int]] = ..., copy: Optional[bool] = ...) -> Any: ...
    def __dlpack_device__(self) -> Tuple[int, int]: ...   # (2, device)

class CudaBatch:
    """One device batch; its slot goes back when the last view dies."""
    images: DeviceArray
    device_labels: DeviceArray
    labels: bytearray    # host copy, count int64
    records: bytearray   # count uint64
    epoch: int
    index: int
    count: int
    replaced: int
    detached: bool
    shape: Tuple[int, int, int, int]
    dtype: str
    device: int
    stream: int          # the cudaStream_t the batch was made ready on
    address: int
    labels_address: int
    def synchronize(self) -> None: ...

class CudaLoader:
    def __init__(self, dataset: Dataset, options: Dict[str, Any]) -> None: ...
    def next(self, stream: Optional[int] = ...) -> Optional[CudaBatch]: ...
    def set_epoch(self, epoch: int, start_batch: int = ...) -> None: ...
    def close(self) -> None: ...
    def stats(self) -> Dict[str, Any]: ...
    batches_per_epoch: int
    samples_per_epoch: int
    hold_limit: int
    device: int
    depth: int

def cuda_probe() -> Tuple[int, str]: ...
def cuda_resolve_device(device: int) -> int: ...
def build(src: str, out: str, options: Dict[str, Any],
          log: Optional[Callable[[str, str], None]] = ...,
          part: Optional[Tuple[int, int]] = ...,
          progress: Optional[Callable[[int, int], None]] = ...,
          plan: Optional[int] = ...) -> Dict[str, Any]: ...
def default_output_dir(src: str) -> str: ...
def available_cpus() -> int: ...
def strerror(status: int) -> Tuple[str, str]: ...
def eval_resize_max(height: int, width: int) -> int: ...
# libpvpack's options tables ('build', 'loader', 'limits'): one dict per
# option with name, field, group, kind ('bool', 'int', 'bytes', 'float',
# 'float3', 'choice'), default, min, max, choices, cli, flag, arg, help.
def options(which: str) -> Tuple[Dict[str, Any], ...]: ...
