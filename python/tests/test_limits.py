"""Argument checks of Dataset and Loader, the read-side limits as keywords,
and a slow hostile record abandoned on close / Ctrl-C (issue 9, items 5, 6
and 13)."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import pvpack
from pvpack import _pvpack
from conftest import N_IMAGES


def small(src, **kw):
    args = dict(batch_size=4, size=16, threads=2, output="numpy", dtype="uint8", layout="NHWC")
    args.update(kw)
    return pvpack.Loader(src, **args)


def test_dataset_index_types(packed):
    ds = pvpack.Dataset(packed)
    with pytest.raises(TypeError):
        ds[1.5]
    with pytest.raises(TypeError):
        ds[1.0]
    with pytest.raises(TypeError):
        ds["1"]
    with pytest.raises(TypeError):
        ds.label(2.5)
    with pytest.raises(TypeError):
        ds.source_path(0.0)
    with pytest.raises(TypeError):
        ds.record_info(None)
    # ints, NumPy integers and negative indexes as a Python sequence takes them
    a, la = ds[1]
    for i in (np.int64(1), np.uint8(1), np.int32(1 - N_IMAGES)):
        b, lb = ds[i]
        assert np.array_equal(a, b) and la == lb
    assert ds.label(np.int16(-1)) == ds.label(N_IMAGES - 1)
    for i in (N_IMAGES, -N_IMAGES - 1, 2**70, -(2**70)):
        with pytest.raises(IndexError):
            ds[i]
    # the binding itself refuses a float as well (it used to truncate it)
    with pytest.raises(TypeError):
        ds._ds.decode(1.5)
    with pytest.raises(TypeError):
        ds._ds.label(1.5)
    with pytest.raises(IndexError):
        ds._ds.decode(-1)


def test_dataset_empty_path(tmp_path, monkeypatch):
    # '' used to open '/index.pvi'
    with pytest.raises(ValueError, match="empty"):
        pvpack.Dataset("")
    with pytest.raises(ValueError, match="empty"):
        _pvpack.Dataset("")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pvpack.Error) as e:
        pvpack.Dataset(".")
    assert e.value.status_name == "PV_ERR_NOT_FOUND"


def test_loader_argument_checks(packed):
    with pytest.raises(ValueError, match="hold_limit"):
        small(packed, hold_limit=-5)
    assert small(packed, hold_limit=0)._core.hold_limit == 0
    # the low-level binding checks it too
    with pytest.raises(ValueError, match="hold_limit"):
        _pvpack.Loader(pvpack.Dataset(packed)._ds, dict(hold_limit=-5, threads=1))
    # eval_resize: the C loader's bound (PV_EVAL_RESIZE_MAX), shared
    top = _pvpack.eval_resize_max(224, 224)
    assert top == 4096 and _pvpack.eval_resize_max(2000, 100) == 8000
    with pytest.raises(ValueError, match="eval_resize"):
        small(packed, size=224, pipeline="eval", eval_resize=20000)
    with pytest.raises(pvpack.Error) as e:  # past the Python check: C refuses it too
        _pvpack.Loader(pvpack.Dataset(packed)._ds, dict(eval_resize=20000, threads=1))
    assert e.value.status_name == "PV_ERR_INVALID_ARG" and "eval_resize" in str(e.value)
    small(packed, size=224, pipeline="eval", eval_resize=top).close()
    with pytest.raises(ValueError, match="eval_resize"):
        small(packed, eval_resize=0)
    # integers must be integers, within range
    for kw in (dict(batch_size=1.5), dict(size=16.0), dict(size=(16, 16.5)),
               dict(prefetch=2.0), dict(seed=1.5), dict(epoch="1"), dict(threads=1.5),
               dict(eval_resize=256.0), dict(block_records=3.5), dict(hold_limit=1.5),
               dict(rank=0.0, world_size=1)):
        with pytest.raises(TypeError):
            small(packed, **kw)
    for kw in (dict(batch_size=0), dict(batch_size=2**21), dict(size=0), dict(size=(16, 20000)),
               dict(prefetch=0), dict(seed=-1), dict(epoch=-1), dict(threads=0),
               dict(threads=5000), dict(block_records=0), dict(block_group=0)):
        with pytest.raises(ValueError):
            small(packed, **kw)
    ld = small(packed, batch_size=np.int64(4), size=np.int32(16), seed=np.uint64(3))
    assert ld.batch_size == 4 and ld.size == (16, 16) and ld.seed == 3
    with pytest.raises(TypeError):
        ld.sample_record(0, 1.5)
    with pytest.raises(ValueError):
        ld.set_epoch(-1)


def test_limit_keywords(packed):
    ds = pvpack.Dataset(packed, max_record_pixels=100)
    info = ds.record_info(0)  # the table is still readable
    with pytest.raises(pvpack.Error) as e:
        ds[0]
    assert e.value.status_name == "PV_ERR_LIMIT"
    assert "max_record_pixels 100" in e.value.detail
    assert f"{info['width']}x{info['height']}" in e.value.detail
    assert pvpack.Dataset(packed, max_record_pixels=0)[0][0].shape[2] == 3  # 0 = no limit
    with pytest.raises(pvpack.Error) as e:
        pvpack.Dataset(packed, max_record_bytes=10)[0]
    assert e.value.status_name == "PV_ERR_LIMIT" and "max_record_bytes" in e.value.detail
    for bad in (dict(max_record_pixels=-1), dict(max_scans=2**32), dict(max_decoder_memory=-5)):
        with pytest.raises(ValueError):
            pvpack.Dataset(packed, **bad)
    with pytest.raises(TypeError):
        pvpack.Dataset(packed, max_scans=1.5)
    # the loader over a path takes them for its Dataset; a limit is an error
    # of the record, like damage
    ld = small(packed, max_record_pixels=100, order="sequential")
    with pytest.raises(pvpack.Error) as e:
        next(iter(ld))
    assert e.value.status_name == "PV_ERR_LIMIT" and "max_record_pixels" in e.value.detail
    assert "record 0" in e.value.detail
    assert sum(x.shape[0] for x, _ in small(packed, max_record_pixels=10**9)) == N_IMAGES
    with pytest.raises(ValueError, match="pvpack.Dataset"):
        small(pvpack.Dataset(packed), max_scans=10)


def _slow_dataset(tmp_path):
    tool = os.environ.get("PV_MAKE_HOSTILE")
    if not tool:
        pytest.skip("PV_MAKE_HOSTILE (tests/make_hostile) not set: run through ctest")
    out = str(tmp_path / "slow.pvpack")
    subprocess.run([tool, "slow-jpeg", out], check=True)
    return out


def test_slow_record_refused_by_default(tmp_path):
    """30000 scans: refused at once with the default scan limit (500)."""
    slow = _slow_dataset(tmp_path)
    t0 = time.monotonic()
    with pytest.raises(pvpack.Error) as e:
        pvpack.Dataset(slow)[0]
    assert e.value.status_name == "PV_ERR_LIMIT" and "max_scans 500" in e.value.detail
    with pytest.raises(pvpack.Error) as e:
        next(iter(small(slow)))
    assert e.value.status_name == "PV_ERR_LIMIT" and "scans" in e.value.detail
    assert time.monotonic() - t0 < 10


def test_close_abandons_a_slow_decode(tmp_path):
    """Without a scan limit the record takes tens of seconds: close() and
    dropping the loader come back within seconds, not after the decode."""
    slow = _slow_dataset(tmp_path)
    for how in ("close", "del"):
        ld = small(slow, max_scans=0, threads=1, batch_size=1, prefetch=1, pipeline="none")
        time.sleep(0.5)  # the worker is inside the decode
        t0 = time.monotonic()
        if how == "close":
            ld.close()
        else:
            del ld
        took = time.monotonic() - t0
        assert took < 2.0, (how, took)


def test_ctrl_c_exits_promptly(tmp_path):
    """Ctrl-C while waiting for a slow record: KeyboardInterrupt, and the
    process exits at once (it used to wait for the decode: 72.8 s)."""
    slow = _slow_dataset(tmp_path)
    script = textwrap.dedent("""
        import os, signal, sys, threading, pvpack
        ld = pvpack.Loader(sys.argv[1], batch_size=1, size=32, pipeline="none", threads=1,
                           prefetch=1, output="numpy", dtype="uint8", max_scans=0)
        it = iter(ld)
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            next(it)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
    """)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", script, slow], capture_output=True, text=True,
                       timeout=60)
    took = time.monotonic() - t0
    assert p.returncode == 130, p.stderr
    assert "interrupted" in p.stdout
    assert took < 10, took
