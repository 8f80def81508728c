"""The torch side: tensors through DLPack, zero-copy, lifetime, distributed rank.
Runs where torch is importable (Debian's python3-torch in CI)."""
import gc
import hashlib

import numpy as np
import pytest

import pvpack
from conftest import N_IMAGES

torch = pytest.importorskip("torch")


def test_tensors_by_default(packed):
    ld = pvpack.Loader(packed, batch_size=8, size=32, threads=2, rank=0, world_size=1)
    assert ld.output == "torch"
    n = 0
    for x, y in ld:
        assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
        assert x.dtype == torch.float32 and x.shape[1:] == (3, 32, 32) and x.is_contiguous()
        assert y.dtype == torch.int64 and y.shape == (x.shape[0],)
        n += x.shape[0]
    assert n == N_IMAGES


def test_zero_copy_and_same_bytes_as_numpy(packed):
    kw = dict(batch_size=8, size=24, threads=2, rank=0, world_size=1, dtype="uint8",
              layout="NHWC", seed=1)
    ref = [(hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest(), y.tolist())
           for x, y in pvpack.Loader(packed, output="numpy", **kw)]
    ld = pvpack.Loader(packed, output="torch", **kw)
    got = []
    for b in ld.batches():
        t = torch.from_dlpack(b)
        assert t.data_ptr() == b.address  # a view, not a copy
        got.append((hashlib.sha1(t.numpy().tobytes()).hexdigest(),
                    np.frombuffer(b.labels, np.int64).tolist()))
        del t, b
    assert got == ref


def test_kept_tensors_stay_correct(packed):
    """Keep every tensor of two epochs with a 2-buffer ring: no overwrites."""
    kw = dict(batch_size=5, size=20, threads=2, rank=0, world_size=1, seed=8)
    fresh = pvpack.Loader(packed, **kw)
    ref = [hashlib.sha1(x.numpy().tobytes()).hexdigest() for x, _ in fresh]
    ref += [hashlib.sha1(x.numpy().tobytes()).hexdigest() for x, _ in fresh]
    ld = pvpack.Loader(packed, prefetch=2, **kw)
    kept = [x for x, _ in ld] + [x for x, _ in ld]
    assert [hashlib.sha1(x.numpy().tobytes()).hexdigest() for x in kept] == ref
    assert ld.stats()["detached"] > 0
    del kept
    gc.collect()
    assert ld.stats()["held"] == 0  # DLPack deleters handed everything back


def test_rank_from_torch_distributed(packed, tmp_path, monkeypatch):
    import torch.distributed as dist
    if not dist.is_available():
        pytest.skip("torch.distributed not available")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0,
                            world_size=1)
    try:
        ld = pvpack.Loader(packed, batch_size=8, size=16, distributed=True)
        assert (ld.rank, ld.world_size) == (0, 1)  # torch.distributed wins over the env
    finally:
        dist.destroy_process_group()
    ld = pvpack.Loader(packed, batch_size=8, size=16, distributed=True, seed=0)
    assert (ld.rank, ld.world_size) == (1, 3)


def test_torch_dtypes_accepted(packed):
    ld = pvpack.Loader(packed, batch_size=8, size=16, dtype=torch.uint8, rank=0, world_size=1)
    x, _ = next(iter(ld))
    assert x.dtype == torch.uint8
    with pytest.raises(ValueError, match="float16 needs device='cuda'"):
        pvpack.Loader(packed, dtype=torch.float16)
    from pvpack import _pvpack
    if _pvpack.cuda_probe()[0] == 0:  # with a GPU: test_cuda.py
        with pytest.raises(RuntimeError, match="built without the CUDA path|no CUDA device"):
            pvpack.Loader(packed, batch_size=8, size=16, device=torch.device("cuda", 0),
                          dtype=torch.bfloat16, rank=0, world_size=1)
