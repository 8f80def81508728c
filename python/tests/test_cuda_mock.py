"""The binding's device path over tests/cuda_mock.c, a CPU stand-in for the
CUDA Runtime (asynchronous streams run by threads, events, "device" memory
that is host memory). Runs only against the mock build of the extension
(BUILD/python-mock, ctest python_cuda_mock_tests), where a batch's device
address can be read from the host after CudaBatch.synchronize().

What it checks without a GPU: CudaLoader / CudaBatch / DeviceArray
lifetimes (slots handed back when the last view dies, detach of kept
batches, device memory back to the ring's), device batches equal to the CPU
loader's (uint8 and float32 bit-exact, float16 = numpy's float32->float16,
bfloat16 = round-to-nearest-even of the float32 bits), the DLPack capsule's
ABI (read back through ctypes), the __dlpack__ argument rules, LOCAL_RANK,
resume, Ctrl-C. What it cannot check: real CUDA streams and torch's CUDA
tensors (test_cuda.py on a GPU)."""
import ctypes
import gc
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import pvpack
from pvpack import _pvpack
from conftest import N_IMAGES

if os.environ.get("PV_EXPECT_CUDA_MOCK") == "1" and not getattr(_pvpack, "CUDA_MOCK", 0):
    raise RuntimeError(f"PV_EXPECT_CUDA_MOCK=1 but {_pvpack.__file__} is not the mock build")
pytestmark = pytest.mark.skipif(not getattr(_pvpack, "CUDA_MOCK", 0),
                                reason="needs the extension built over tests/cuda_mock.c")

NP_DT = {"uint8": np.uint8, "float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}


def gpu(packed, **kw):
    args = dict(batch_size=5, size=(24, 20), threads=2, dtype="uint8", layout="NHWC",
                rank=0, world_size=1, device="cuda:0", output="dlpack")
    args.update(kw)
    return pvpack.Loader(packed, **args)


def host_view(arr, batch):
    """The bytes of a DeviceArray (mock device memory is host memory)."""
    batch.synchronize()
    shape = arr.shape
    dt = NP_DT[arr.dtype] if arr.dtype != "int64" else np.int64
    n = int(np.prod(shape)) * np.dtype(dt).itemsize
    return np.frombuffer(ctypes.string_at(arr.address, n), dtype=dt).reshape(shape)


def bf16_bits(f32):
    u = f32.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def expected(packed, dtype, layout, **kw):
    base = "uint8" if dtype == "uint8" else "float32"
    cpu = pvpack.Loader(packed, **dict(dict(batch_size=5, size=(24, 20), threads=2, rank=0,
                                            world_size=1, output="numpy"),
                                       dtype=base, layout=layout, **kw))
    out = []
    for x, y in cpu:
        x = np.array(x)
        if dtype == "float16":
            x = x.astype(np.float16)
        elif dtype == "bfloat16":
            x = bf16_bits(x)
        out.append((x, np.array(y)))
    return out


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_device_batches_equal_cpu(packed, dtype, layout):
    kw = dict(seed=4, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3))
    ld = gpu(packed, dtype=dtype, layout=layout, **kw)
    assert ld.device == "cuda:0" and ld.output == "dlpack"
    for epoch in range(2):
        ref = expected(packed, dtype, layout, epoch=epoch, **kw)
        n = 0
        for k, b in enumerate(ld.batches()):
            assert b.dtype == dtype and b.epoch == epoch and b.index == k
            x, y = host_view(b.images, b), host_view(b.device_labels, b)
            assert x.shape == ref[k][0].shape
            assert np.array_equal(x.view(np.uint8), ref[k][0].view(np.uint8)), (dtype, layout, k)
            assert np.array_equal(y, ref[k][1])
            assert np.array_equal(np.frombuffer(b.labels, np.int64), ref[k][1])
            n += b.count
            del x, y, b
        assert n == N_IMAGES
    assert ld.stats()["held"] == 0


def test_slots_come_back_when_views_die(packed):
    ld = gpu(packed, depth=3)
    assert ld._core.depth == 3 and ld._core.hold_limit == 1
    it = ld.batches()
    b = next(it)
    img, lab = b.images, b.device_labels
    del b
    assert ld.stats()["held"] == 1  # the views keep the batch
    del img
    assert ld.stats()["held"] == 1
    del lab
    gc.collect()
    assert ld.stats()["held"] == 0
    for x, y in ld:  # a normal loop holds one batch while asking for the next
        pass
    assert ld.stats()["detached"] == 0


def test_kept_batches_detach_and_memory_returns(packed):
    ref = [expected(packed, "float16", "NCHW", epoch=e, seed=3) for e in (0, 1)]
    ld = gpu(packed, depth=2, dtype="float16", layout="NCHW", seed=3)
    base = ld.stats()["device_bytes"]
    kept = [list(ld) for _ in range(2)]  # every (images, labels) of two epochs
    st = ld.stats()
    nb = sum(map(len, kept))
    assert st["detached"] >= nb - 2 and st["held"] <= ld._core.hold_limit
    assert len({x.address for ep in kept for x, _ in ep}) == nb  # no buffer reused
    per = 5 * 3 * 24 * 20 * 2 + 5 * 8
    assert st["device_bytes"] <= base + nb * per
    for ep, rep in zip(kept, ref):
        for (x, y), (rx, ry) in zip(ep, rep):
            assert np.array_equal(host_view(x, x.batch).view(np.uint8), rx.view(np.uint8))
            assert np.array_equal(host_view(y, y.batch), ry)
    del kept, ep, x, y
    gc.collect()
    st = ld.stats()
    assert st["held"] == 0 and st["device_bytes"] == base


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    pass


DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                            ("deleter", ctypes.CFUNCTYPE(None, ctypes.c_void_p))]


class DLManagedTensorVersioned(ctypes.Structure):
    pass


DLManagedTensorVersioned._fields_ = [
    ("major", ctypes.c_uint32), ("minor", ctypes.c_uint32), ("manager_ctx", ctypes.c_void_p),
    ("deleter", ctypes.CFUNCTYPE(None, ctypes.c_void_p)), ("flags", ctypes.c_uint64),
    ("dl_tensor", DLTensor)]

_get = ctypes.pythonapi.PyCapsule_GetPointer
_get.restype, _get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
_rename = ctypes.pythonapi.PyCapsule_SetName
_rename.restype, _rename.argtypes = ctypes.c_int, [ctypes.py_object, ctypes.c_char_p]


# The capsule keeps the char * it is renamed to: module-level names stay alive.
_USED = {False: b"used_dltensor", True: b"used_dltensor_versioned"}


def consume(cap, versioned):
    """What a DLPack consumer does: read the tensor, rename the capsule, and
    call the deleter when done with the memory."""
    name = b"dltensor_versioned" if versioned else b"dltensor"
    p = _get(cap, name)
    m = (DLManagedTensorVersioned if versioned else DLManagedTensor).from_address(p)
    t = m.dl_tensor
    info = dict(data=t.data, device=(t.device.device_type, t.device.device_id), ndim=t.ndim,
                dtype=(t.dtype.code, t.dtype.bits, t.dtype.lanes),
                shape=tuple(t.shape[i] for i in range(t.ndim)), strides=bool(t.strides),
                version=(m.major, m.minor) if versioned else None)
    _rename(cap, _USED[versioned])
    return info, (lambda: m.deleter(p))


@pytest.mark.parametrize("dtype,code", [("uint8", (1, 8, 1)), ("float32", (2, 32, 1)),
                                        ("float16", (2, 16, 1)), ("bfloat16", (4, 16, 1))])
def test_dlpack_capsules(packed, dtype, code):
    ld = gpu(packed, dtype=dtype, layout="NCHW")
    b = next(ld.batches())
    assert b.images.__dlpack_device__() == (2, 0) == b.device_labels.__dlpack_device__()
    for versioned in (False, True):
        kw = dict(max_version=(1, 0)) if versioned else {}
        info, deleter = consume(b.images.__dlpack__(stream=1, **kw), versioned)
        assert info["data"] == b.address and info["device"] == (2, 0)
        assert info["dtype"] == code and info["shape"] == b.shape and not info["strides"]
        assert info["version"] == ((1, 0) if versioned else None)
        linfo, ldel = consume(b.device_labels.__dlpack__(stream=None, **kw), versioned)
        assert linfo["data"] == b.labels_address and linfo["dtype"] == (0, 64, 1)
        assert linfo["shape"] == (b.count,)
        del b
        gc.collect()
        assert ld.stats()["held"] == 1  # the consumers still hold it
        deleter()
        ldel()
        gc.collect()
        assert ld.stats()["held"] == 0
        b = next(ld.batches()) if not versioned else None
    # Argument rules (array API): stream 0 is ambiguous for CUDA, a foreign
    # device or copy=True is refused, an unconsumed capsule frees itself.
    b = next(ld.batches())
    with pytest.raises(ValueError, match="ambiguous"):
        b.images.__dlpack__(stream=0)
    with pytest.raises(ValueError):
        b.images.__dlpack__(stream=-5)
    with pytest.raises(BufferError, match="CUDA device 0"):
        b.images.__dlpack__(dl_device=(1, 0))
    with pytest.raises(BufferError):
        b.images.__dlpack__(dl_device=(2, 1))
    b.images.__dlpack__(dl_device=(2, 0))
    with pytest.raises(BufferError):
        b.images.__dlpack__(copy=True)
    cap = b.images.__dlpack__(stream=-1)
    r = sys.getrefcount(b)
    cap2 = b.images.__dlpack__(stream=-1, max_version=(1, 0))
    assert sys.getrefcount(b) == r + 1
    del cap, cap2, b
    gc.collect()
    assert ld.stats()["held"] == 0


def test_resume_from_state_dict(packed):
    kw = dict(dtype="float32", layout="NCHW", seed=11)
    full = [host_view(x, x.batch).copy() for e in range(2) for x, _ in gpu(packed, epoch=e, **kw)]
    nb = len(full) // 2
    for cut in (1, nb - 1):
        ld = gpu(packed, **kw)
        it = iter(ld)
        got = [host_view(x, x.batch).copy() for x, _ in (next(it) for _ in range(cut))]
        state = ld.state_dict()
        ld.close()
        with pytest.raises(ValueError, match="closed"):
            next(iter(ld))
        ld2 = gpu(packed, **kw)
        ld2.load_state_dict(state)
        got += [host_view(x, x.batch).copy() for x, _ in ld2]
        got += [host_view(x, x.batch).copy() for x, _ in ld2]  # next epoch by itself
        assert len(got) == len(full)
        assert all(np.array_equal(a, b) for a, b in zip(got, full)), cut


def test_local_rank_and_device_index(packed, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    ld = gpu(packed, device="cuda")
    assert ld.device == "cuda:1" and ld._core.device == 1
    b = next(ld.batches())
    assert b.device == 1 and b.images.__dlpack_device__() == (2, 1)
    del b
    monkeypatch.setenv("LOCAL_RANK", "2")  # the mock has 2 devices
    with pytest.raises(pvpack.Error, match="CUDA device 2 requested .* but 2 present"):
        gpu(packed, device="cuda")
    assert gpu(packed, device="cuda:0").device == "cuda:0"  # explicit index: LOCAL_RANK unused


def test_ctrl_c_stops_a_waiting_next(packed):
    """SIGINT while next() waits for the device ring raises KeyboardInterrupt
    within ~50 ms. The loop runs epoch after epoch of 1024x1024 outputs on one
    thread, far longer than the 50 ms after which the signal comes, and its
    main thread spends nearly all of it waiting in next(). (One next() alone
    is not enough: on a fast machine the first batch is ready before 50 ms.)"""
    ld = gpu(packed, size=(1024, 1024), pipeline="none", threads=1, batch_size=16, prefetch=1,
             depth=1)
    sent = []

    def interrupt():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.05, interrupt)
    with pytest.raises(KeyboardInterrupt):
        timer.start()
        for _ in range(1000):
            for _ in ld:
                pass
    assert sent and time.monotonic() - sent[0] < 0.5
    timer.join()
    n = sum(x.shape[0] for x, _ in ld)
    assert n == N_IMAGES


def test_pin_memory_cpu_loader_uses_pinned_host_memory(packed):
    """device='cpu', pin_memory=True: the ring (prefetch buffers) and the
    buffers detached batches get come from cudaHostAlloc, same bytes as the
    unpinned loader, and all of it goes back with cudaFreeHost."""
    kw = dict(batch_size=5, size=(24, 20), threads=2, output="numpy", seed=3, prefetch=3)
    before = _pvpack.mock_host_allocs()
    ld = pvpack.Loader(packed, pin_memory=True, **kw)
    assert ld.pin_memory is True
    assert _pvpack.mock_host_allocs() - before == 3
    ref = [np.array(x) for x, _ in pvpack.Loader(packed, **kw)]
    kept = [x for x, _ in ld]                       # all kept: batches are detached
    assert len(kept) == len(ref) and all(np.array_equal(a, b) for a, b in zip(kept, ref))
    assert _pvpack.mock_host_allocs() - before > 3  # detached buffers are pinned too
    del kept
    ld.close()
    del ld
    gc.collect()
    assert _pvpack.mock_host_allocs() == before
