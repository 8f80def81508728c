"""device='cuda': argument checking and the no-GPU error everywhere; the
device batches themselves where a GPU and a CUDA build of torch exist
(skipped otherwise, with the reason).

The GPU tests compare device batches with the CPU loader's batches of the
same options: bit-identical for uint8 and float32 (the kernel does the CPU
loader's float32 arithmetic: x * (1/(255 std)) + (-mean/std), two roundings,
no FMA), and for float16 / bfloat16 equal to torch's round-to-nearest-even
conversion of the float32 batch."""
import gc
import os

import numpy as np
import pytest

import pvpack
from pvpack import _pvpack
from pvpack._loader import _device_name, _resolve_cuda_device
from conftest import N_IMAGES

needs_cuda_build = pytest.mark.skipif(not _pvpack.HAVE_CUDA,
                                      reason="libpvpack built without the CUDA path")
N_GPU, NO_GPU_REASON = _pvpack.cuda_probe()


def small(packed, **kw):
    args = dict(batch_size=5, size=(24, 20), threads=2, dtype="uint8", layout="NHWC",
                rank=0, world_size=1, device="cuda:0")
    args.update(kw)
    return pvpack.Loader(packed, **args)


# ---- runs everywhere ----------------------------------------------------------------

def test_device_strings():
    assert _device_name("cpu") == ("cpu", None)
    assert _device_name("cuda") == ("cuda", None)
    assert _device_name("cuda:0") == ("cuda", 0)
    assert _device_name("cuda:12") == ("cuda", 12)
    assert _device_name(3) == ("cuda", 3)
    assert _device_name(np.int64(1)) == ("cuda", 1)
    for bad in ("cuda:", "cuda:x", "cuda:-1", "cuda:1:2", "cuda: 1", "gpu", "CUDA", "cuda:١",
                -1, "mps"):
        with pytest.raises(ValueError):
            _device_name(bad)
    try:
        import torch
    except ImportError:
        return
    assert _device_name(torch.device("cuda", 2)) == ("cuda", 2)
    assert _device_name(torch.device("cuda")) == ("cuda", None)
    assert _device_name(torch.device("cpu")) == ("cpu", None)


def test_local_rank_resolution(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert _resolve_cuda_device(None) == 0
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert _resolve_cuda_device(None) == 3
    assert _resolve_cuda_device(1) == 1  # an explicit index wins
    for bad in ("x", "-1", "1.5"):
        monkeypatch.setenv("LOCAL_RANK", bad)
        with pytest.raises(ValueError, match="LOCAL_RANK"):
            _resolve_cuda_device(None)


@needs_cuda_build
def test_bad_local_rank_with_device_cuda(packed, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "oops")
    with pytest.raises(ValueError, match="LOCAL_RANK='oops'"):
        small(packed, device="cuda")


@needs_cuda_build
def test_option_checks_before_the_device(packed):
    """Bad values are ValueErrors whether or not a GPU is present."""
    for kw in (dict(dtype="int32"), dict(layout="CHW"), dict(output="numpy"), dict(depth=0),
               dict(host_memory="huge"), dict(output="jax"), dict(device="cuda:x")):
        with pytest.raises(ValueError):
            small(packed, **kw)
    with pytest.raises(TypeError, match="unknown loader option"):
        _pvpack.CudaLoader(pvpack.Dataset(packed)._ds, {"batch_size": 4, "colour": 1})


@pytest.mark.skipif(N_GPU > 0, reason="a GPU is present")
@needs_cuda_build
def test_no_gpu_is_a_pvpack_error(packed):
    """Every dtype and layout passes the Python checks and reaches
    pv_cuda_loader_create, which reports the missing device."""
    assert N_GPU == 0 and NO_GPU_REASON.startswith("no CUDA device: ")
    for dt in ("uint8", "float32", "float16", "bfloat16"):
        for layout in ("NCHW", "NHWC"):
            for out in ("auto", "dlpack"):
                with pytest.raises(pvpack.Error, match="no CUDA device: ") as ei:
                    small(packed, dtype=dt, layout=layout, output=out, device="cuda")
                e = ei.value
                assert isinstance(e, RuntimeError)
                assert e.status_name == "PV_ERR_CUDA" and e.detail.startswith("no CUDA device")
    # The CPU loader still works afterwards.
    assert sum(len(y) for _, y in small(packed, device="cpu", output="numpy")) == N_IMAGES


def test_without_the_cuda_build(packed):
    if _pvpack.HAVE_CUDA:
        pytest.skip("this build has the CUDA path (test_no_gpu_is_a_pvpack_error covers it)")
    with pytest.raises(RuntimeError, match="built without the CUDA path"):
        small(packed)


# ---- on a GPU -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch_cuda():
    if not _pvpack.HAVE_CUDA:
        pytest.skip("libpvpack built without the CUDA path")
    if N_GPU == 0:
        pytest.skip(f"GPU tests: {NO_GPU_REASON}")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip(f"GPU tests need a CUDA build of torch (have {torch.__version__})")
    return torch


def cpu_batches(packed, **kw):
    """The CPU loader's (images, labels) for one epoch (torch tensors, copies)."""
    kw = dict(kw, device="cpu", output="torch")
    return [(x.clone(), y.clone()) for x, y in small(packed, **kw)]


TORCH_DT = {"float16": "float16", "bfloat16": "bfloat16"}


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_device_batches_equal_cpu_batches(packed, torch_cuda, dtype, layout):
    torch = torch_cuda
    kw = dict(dtype=dtype if dtype in ("uint8", "float32") else "float32", layout=layout,
              pipeline="train", seed=5, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3))
    ref = cpu_batches(packed, **kw)
    ld = small(packed, **dict(kw, dtype=dtype))
    assert ld.output == "torch" and ld.device == "cuda:0"
    for epoch in range(2):
        if epoch:
            ref = cpu_batches(packed, **dict(kw, epoch=1))
        got = list(ld)
        assert len(got) == len(ref)
        for (x, y), (rx, ry) in zip(got, ref):
            assert x.device == torch.device("cuda", 0) and y.device == x.device
            assert x.is_contiguous() and y.dtype == torch.int64
            want = rx if dtype in ("uint8", "float32") else rx.to(getattr(torch, TORCH_DT[dtype]))
            assert x.dtype == want.dtype
            assert torch.equal(x.cpu(), want), f"epoch {epoch}: {dtype} {layout} differs"
            assert torch.equal(y.cpu(), ry)
        del got


def test_zero_copy_records_and_dlpack_protocol(packed, torch_cuda):
    torch = torch_cuda
    ld = small(packed, dtype="float32", layout="NCHW", output="torch")
    cpu = small(packed, device="cpu", output="numpy", dtype="float32", layout="NCHW")
    for b, cb in zip(ld.batches(), cpu.batches()):
        t = torch.from_dlpack(b.images)
        assert t.data_ptr() == b.address and b.images.address == b.address
        assert b.images.__dlpack_device__() == (2, 0)
        assert bytes(b.records) == bytes(cb.records) and bytes(b.labels) == bytes(cb.labels)
        assert torch.equal(torch.from_dlpack(b.device_labels).cpu(),
                           torch.from_numpy(np.frombuffer(cb.labels, np.int64)))
        with pytest.raises(ValueError, match="ambiguous"):
            b.images.__dlpack__(stream=0)
        with pytest.raises(BufferError):
            b.images.__dlpack__(dl_device=(1, 0))
        with pytest.raises(BufferError):
            b.images.__dlpack__(copy=True)
        cap = b.images.__dlpack__(stream=-1, max_version=(1, 0))  # never consumed
        del cap, t, b
    gc.collect()
    assert ld.stats()["held"] == 0


def test_kept_batches_stay_correct_and_memory_is_bounded(packed, torch_cuda):
    torch = torch_cuda
    kw = dict(dtype="float16", layout="NCHW", seed=3)
    fresh = [[x.cpu() for x, _ in small(packed, **dict(kw, epoch=e))] for e in (0, 1)]
    ld = small(packed, depth=2, **kw)
    base = ld.stats()["device_bytes"]
    kept = [[x for x, _ in ld] for _ in range(2)]  # every batch of two epochs, alive
    st = ld.stats()
    assert st["detached"] > 0
    assert len({x.data_ptr() for ep in kept for x in ep}) == sum(map(len, kept))
    assert st["device_bytes"] <= base + sum(map(len, kept)) * ld.batch_size * 3 * 24 * 20 * 2 * 2
    for ep, ref in zip(kept, fresh):
        for x, r in zip(ep, ref):
            assert torch.equal(x.cpu(), r)
    del kept, ep, x
    gc.collect()
    torch.cuda.synchronize()
    st = ld.stats()
    assert st["held"] == 0 and st["device_bytes"] == base


def test_batches_follow_torch_current_stream(packed, torch_cuda):
    torch = torch_cuda
    ref = cpu_batches(packed, dtype="uint8", layout="NHWC")
    ld = small(packed, dtype="uint8", layout="NHWC", depth=1)
    side = torch.cuda.Stream(device=0)
    with torch.cuda.stream(side):
        for k, b in enumerate(ld.batches()):
            assert b.stream == side.cuda_stream
            x = torch.from_dlpack(b.images)  # same stream: no extra wait
            assert torch.equal(x.cpu(), ref[k][0])
            del x, b


def test_slot_is_not_refilled_under_a_pending_read(packed, torch_cuda):
    """Release before the read runs: the slot (depth 1) must not be refilled
    until the stream has read it."""
    torch = torch_cuda
    ref = cpu_batches(packed, dtype="uint8", layout="NHWC")
    ld = small(packed, dtype="uint8", layout="NHWC", depth=1, hold_limit=0)
    it = iter(ld)
    outs = []
    for k in range(len(ref)):
        x, y = next(it)
        torch.cuda._sleep(20_000_000)  # stall the stream ~10 ms before the read
        outs.append(x.clone())         # enqueued behind the stall
        del x, y                       # released now; the read has not run
    torch.cuda.synchronize()
    for k, (o, (rx, _)) in enumerate(zip(outs, ref)):
        assert torch.equal(o.cpu(), rx), f"batch {k} overwritten before it was read"


def test_consumer_on_another_stream_waits(packed, torch_cuda):
    torch = torch_cuda
    ref = cpu_batches(packed, dtype="float32", layout="NCHW")
    ld = small(packed, dtype="float32", layout="NCHW")
    other = torch.cuda.Stream(device=0)
    for k, b in enumerate(ld.batches()):
        with torch.cuda.stream(other):
            x = torch.from_dlpack(b.images)  # __dlpack__(stream=other): waits for b
            s = x.sum()
        other.synchronize()
        assert torch.equal(x.cpu(), ref[k][0])
        assert torch.isclose(s.cpu(), ref[k][0].sum(), rtol=1e-4)  # summation order differs
        del x, b


def test_resume_from_state_dict(packed, torch_cuda):
    torch = torch_cuda
    kw = dict(dtype="bfloat16", layout="NHWC", seed=11)
    full = [x.cpu() for e in range(2) for x, _ in small(packed, **dict(kw, epoch=e))]
    nb = len(full) // 2
    for cut in (0, 1, nb - 1, nb + 1):
        ld = small(packed, **kw)
        got, it = [], iter(ld)
        for _ in range(min(cut, nb)):
            got.append(next(it)[0].cpu())
        if cut > nb:
            list(it)
            got = [x.cpu() for x in full[:nb]]
            it = iter(ld)
            got.append(next(it)[0].cpu())
        state = ld.state_dict()
        ld.close()
        ld2 = small(packed, **kw)
        ld2.load_state_dict(state)
        rest = [x.cpu() for x, _ in ld2]
        if state["epoch"] == 0:
            rest += [x.cpu() for x, _ in ld2]
        got += rest
        assert len(got) == len(full)
        assert all(torch.equal(a, b) for a, b in zip(got, full)), f"cut {cut}"


def test_local_rank_picks_the_device(packed, torch_cuda, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", str(N_GPU - 1))
    ld = small(packed, device="cuda")
    assert ld.device == f"cuda:{N_GPU - 1}"
    x, y = next(iter(ld))
    assert x.device == torch_cuda.device("cuda", N_GPU - 1)
    monkeypatch.setenv("LOCAL_RANK", str(N_GPU))
    with pytest.raises(pvpack.Error, match="PV_ERR_CUDA"):
        small(packed, device="cuda")


def test_output_dlpack_without_torch_tensors(packed, torch_cuda):
    torch = torch_cuda
    ld = small(packed, output="dlpack", dtype="uint8")
    ref = cpu_batches(packed, dtype="uint8", layout="NHWC")
    for (x, y), (rx, ry) in zip(ld, ref):
        assert x.__dlpack_device__() == (2, 0) and x.shape == tuple(rx.shape)
        assert torch.equal(torch.from_dlpack(x).cpu(), rx)
        assert torch.equal(torch.from_dlpack(y).cpu(), ry)
