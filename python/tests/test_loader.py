"""pvpack.Loader: order and determinism against the C library, rank split,
resume, lifetime of kept batches, DLPack, error mapping, Ctrl-C."""
import gc
import hashlib
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest

import pvpack
from conftest import N_IMAGES


def small(packed, **kw):
    args = dict(batch_size=5, size=(24, 20), threads=2, dtype="uint8", layout="NHWC",
                output="numpy", rank=0, world_size=1)
    args.update(kw)
    return pvpack.Loader(packed, **args)


def epoch_of(loader):
    """[(records, labels, sha1 of images)] for one epoch, copying nothing we keep."""
    out = []
    for b in loader.batches():
        img = np.asarray(b)
        out.append((np.frombuffer(b.records, np.uint64).tolist(),
                    np.frombuffer(b.labels, np.int64).tolist(),
                    hashlib.sha1(img.tobytes()).hexdigest()))
        del img, b
    return out


def test_shapes_len_and_types(packed):
    ld = small(packed)
    assert len(ld) == (N_IMAGES + 4) // 5
    assert ld.samples_per_epoch == N_IMAGES
    n = 0
    for i, (x, y) in enumerate(ld):
        assert isinstance(x, np.ndarray) and x.dtype == np.uint8
        assert x.shape == ((5 if i < len(ld) - 1 else N_IMAGES % 5), 24, 20, 3)
        assert y.dtype == np.int64 and y.shape == (x.shape[0],)
        n += x.shape[0]
    assert n == N_IMAGES
    ld = small(packed, layout="NCHW", dtype=np.float32, drop_last=True)
    assert len(ld) == N_IMAGES // 5
    shapes = [x.shape for x, _ in ld]
    assert shapes == [(5, 3, 24, 20)] * (N_IMAGES // 5)
    assert "batches/epoch" in repr(ld)


def test_order_matches_c_library(packed):
    """Every batch holds exactly the records pv_loader_sample_record names, with
    their labels; sequential order is record order."""
    ds = pvpack.Dataset(packed)
    for order in ("shuffle", "sequential", "blocks"):
        ld = small(packed, order=order, seed=3, block_records=4, block_group=2)
        for epoch in range(2):
            ld.set_epoch(epoch)
            got = epoch_of(ld)
            recs = [r for rs, _, _ in got for r in rs]
            assert recs == [ld.sample_record(epoch, k) for k in range(N_IMAGES)]
            assert sorted(recs) == list(range(N_IMAGES))
            assert [l for _, ls, _ in got for l in ls] == [ds.label(r) for r in recs]
            if order == "sequential":
                assert recs == list(range(N_IMAGES))
        with pytest.raises(IndexError):
            ld.sample_record(0, N_IMAGES)


def test_deterministic_across_threads_and_epochs(packed):
    a = epoch_of(small(packed, threads=1, seed=11))
    b = epoch_of(small(packed, threads=3, seed=11))
    assert a == b
    ld = small(packed, threads=2, seed=11)
    e0 = epoch_of(ld)
    e1 = epoch_of(ld)  # no set_epoch: the next epoch, like DataLoader(shuffle=True)
    assert e0 == a and e1 != e0
    assert ld.epoch == 1
    ld.set_epoch(0)
    assert epoch_of(ld) == a
    assert epoch_of(small(packed, seed=12)) != a


def test_eval_pipeline_is_center_crop(tree, tmp_path):
    """eval = Resize(eval_resize) + CenterCrop(size): with every record's
    shorter side equal to eval_resize (packed with resize shorter 60), it is
    torchvision's center crop of the decoded record, pixel for pixel."""
    out = pvpack.build(tree, str(tmp_path / "s60"), size=60, quiet=True).out
    ds = pvpack.Dataset(out)
    ld = pvpack.Loader(ds, batch_size=8, size=40, pipeline="eval", eval_resize=60,
                       order="sequential", dtype="uint8", layout="NHWC", output="numpy",
                       threads=2, rank=0, world_size=1)
    n = 0
    for b in ld.batches():
        imgs = np.asarray(b)
        for j, r in enumerate(np.frombuffer(b.records, np.uint64)):
            rec, _ = ds[int(r)]
            h, w, _ = rec.shape
            assert min(h, w) == 60
            top, left = int(round((h - 40) / 2.0)), int(round((w - 40) / 2.0))
            assert np.array_equal(imgs[j], rec[top:top + 40, left:left + 40]), int(r)
            n += 1
    assert n == len(ds)


def test_float32_is_normalized_uint8(packed):
    u = [np.array(x) for x, _ in small(packed, seed=5)]
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    f = [np.array(x) for x, _ in small(packed, seed=5, dtype="float32", mean=mean, std=std)]
    for a, b in zip(u, f):
        want = (a.astype(np.float32) / 255 - np.float32(mean)) / np.float32(std)
        np.testing.assert_allclose(b, want, rtol=1e-5, atol=1e-5)
    nchw = [np.array(x) for x, _ in small(packed, seed=5, layout="NCHW")]
    for a, b in zip(u, nchw):
        assert np.array_equal(a.transpose(0, 3, 1, 2), b)


def test_rank_split(packed, monkeypatch):
    W = 3
    per_rank = []
    for r in range(W):
        ld = small(packed, rank=r, world_size=W, order="shuffle", seed=2)
        assert len(ld) == -(-(-(-N_IMAGES // W)) // 5)
        recs = [x for rs, _, _ in epoch_of(ld) for x in rs]
        assert len(recs) == -(-N_IMAGES // W)  # padded like DistributedSampler
        per_rank.append(recs)
    # rank r's k-th sample is global position k*W + r of the epoch's order
    full = small(packed, order="shuffle", seed=2)
    order = [full.sample_record(0, k) for k in range(N_IMAGES)]
    for r in range(W):
        assert per_rank[r] == [order[(k * W + r) % N_IMAGES] for k in range(len(per_rank[r]))]
    assert set().union(*map(set, per_rank)) == set(range(N_IMAGES))
    # rank_drop: equal shares without padding
    ld = small(packed, rank=1, world_size=W, rank_drop=True, seed=2)
    assert ld.samples_per_epoch == N_IMAGES // W
    # from the environment when asked (distributed=True), as DistributedSampler
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", str(W))
    ld = pvpack.Loader(packed, batch_size=5, size=16, output="numpy", seed=2, dtype="uint8",
                       layout="NHWC", threads=2, distributed=True)
    assert (ld.rank, ld.world_size) == (2, W)
    assert [x for rs, _, _ in epoch_of(ld) for x in rs] == per_rank[2]
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(ValueError):
        pvpack.Loader(packed, output="numpy", distributed=True)
    with pytest.raises(ValueError):
        pvpack.Loader(packed, rank=1, output="numpy")


def test_resume_mid_epoch(packed):
    ref_loader = small(packed, seed=9)
    ref = epoch_of(ref_loader) + epoch_of(ref_loader)
    nb = len(ref_loader)
    for stop in (0, 1, 4, nb - 1, nb):
        ld = small(packed, seed=9)
        got = []
        for b in ld.batches():
            got.append((np.frombuffer(b.records, np.uint64).tolist(),
                        np.frombuffer(b.labels, np.int64).tolist(),
                        hashlib.sha1(np.asarray(b).tobytes()).hexdigest()))
            if len(got) == stop:
                break
        state = ld.state_dict()
        if stop == nb:  # the loop ended by itself at the last batch: no
            state = ld.state_dict()
        ld.close()
        fresh = small(packed, seed=9, threads=1)
        fresh.load_state_dict(state)
        rest = epoch_of(fresh)
        if state["epoch"] == 0:
            rest += epoch_of(fresh)
        assert got + rest == ref[:len(got) + len(rest)]
        assert len(got) + len(rest) in (2 * nb, nb + (nb - stop) + stop)
    # a finished epoch resumes at the next one
    ld = small(packed, seed=9)
    epoch_of(ld)
    st = ld.state_dict()
    assert (st["epoch"], st["batch"]) == (1, 0)
    bad = dict(st, seed=10)
    with pytest.raises(ValueError, match="seed"):
        small(packed, seed=9).load_state_dict(bad)


def test_keep_every_batch(packed):
    """User code that keeps every batch gets the same data as a fresh run, and
    the ring never stalls: the loader detaches kept batches."""
    ref = [h for _, _, h in epoch_of(small(packed, seed=4))]
    ld = small(packed, seed=4, prefetch=2)
    assert ld._core.hold_limit == 1
    kept = [x for x, _ in ld]
    assert len(kept) == len(ld)
    assert [hashlib.sha1(x.tobytes()).hexdigest() for x in kept] == ref
    st = ld.stats()
    assert st["detached"] >= len(ld) - 2
    # the next epoch, while every batch of the first is still alive
    kept2 = [x for x, _ in ld]
    assert [hashlib.sha1(x.tobytes()).hexdigest() for x in kept] == ref
    assert len({x.__array_interface__["data"][0] for x in kept + kept2}) == 2 * len(ld)
    del kept, kept2
    gc.collect()
    assert ld.stats()["held"] == 0


def test_views_release_slots(packed):
    """Dropping the arrays hands the slots back: a plain loop detaches nothing."""
    ld = small(packed, prefetch=2)
    for _ in range(3):
        for x, y in ld:
            pass
    assert ld.stats()["detached"] == 0
    # a view of a view keeps the batch alive
    it = iter(ld)
    x, _ = next(it)
    v = x[1:3]
    addr = x.__array_interface__["data"][0]
    snap = v.copy()
    del x
    for x2, y2 in it:
        pass
    del x2, y2
    assert np.array_equal(v, snap)  # still the first batch's bytes
    assert v.base is not None and addr <= v.__array_interface__["data"][0] < addr + snap.nbytes * 3
    del v
    assert ld.stats()["held"] == 0


def test_dlpack_protocol(packed):
    ld = small(packed)
    b = next(iter(ld.batches()))
    assert b.__dlpack_device__() == (1, 0)
    a = np.asarray(b)
    d = np.from_dlpack(b)
    assert a.__array_interface__["data"][0] == d.__array_interface__["data"][0] == b.address
    assert d.shape == a.shape == b.shape and d.dtype == np.uint8
    assert "dltensor_versioned" in repr(b.__dlpack__(max_version=(1, 0)))
    cap = b.__dlpack__()
    assert '"dltensor"' in repr(cap)
    with pytest.raises(BufferError):
        b.__dlpack__(stream=1)
    import sys
    before = sys.getrefcount(b)
    cap2 = b.__dlpack__()
    assert sys.getrefcount(b) == before + 1
    del cap2, cap  # unconsumed capsules run the deleter
    assert sys.getrefcount(b) == before - 1
    mv = memoryview(b)
    assert mv.shape == b.shape and mv.format == "B" and mv.nbytes == np.prod(b.shape)
    mv.release()


def test_error_mapping(packed, tree, tmp_path):
    """A damaged record: Error naming shard, record and source; or replaced."""
    bad = str(tmp_path / "bad.pvpack")
    shutil.copytree(packed, bad)
    ds = pvpack.Dataset(packed)
    victim = next(i for i in range(len(ds)) if ds.source_path(i).endswith(".jpg"))
    info = ds.record_info(victim)
    # JPEG sources that need no change are stored byte for byte: find the
    # payload in its shard by the source file's bytes and flip one.
    payload = open(os.path.join(tree, ds.source_path(victim)), "rb").read()
    assert len(payload) == info["length"]
    shard = os.path.join(bad, f"shard-{info['shard']:05d}.pvs")
    data = bytearray(open(shard, "rb").read())
    off = data.find(payload)
    assert off > 0
    data[off + len(payload) // 2] ^= 0x5A
    open(shard, "wb").write(bytes(data))
    dsb = pvpack.Dataset(bad, verify_on_read=True)
    with pytest.raises(pvpack.Error) as e:
        dsb[victim]
    assert e.value.status_name == "PV_ERR_CHECKSUM"
    ld = small(bad, verify_checksums=True, order="sequential", batch_size=N_IMAGES)
    with pytest.raises(pvpack.Error) as e:
        for _ in ld:
            pass
    msg = str(e.value)
    assert e.value.status_name == "PV_ERR_CHECKSUM"
    assert f"shard-{info['shard']:05d}.pvs" in msg and ds.source_path(victim) in msg
    assert f"record {victim}" in e.value.detail
    ld = small(bad, verify_checksums=True, order="sequential", on_error="replace")
    assert sum(x.shape[0] for x, _ in ld) == N_IMAGES
    # One replacement in this epoch; the loader already prefetches the next
    # epoch when this one ends, and may have reached the damaged record again.
    assert ld.stats()["replaced"] in (1, 2)


def test_option_errors(packed):
    with pytest.raises(ValueError, match="pipeline"):
        small(packed, pipeline="random")
    with pytest.raises(ValueError, match="layout"):
        small(packed, layout="CHW")
    with pytest.raises(ValueError, match="dtype"):
        small(packed, dtype="int32")
    with pytest.raises(pvpack.Error) as e:
        small(packed, scale=(0.9, 0.1))
    assert e.value.status_name == "PV_ERR_INVALID_ARG" and "scale" in str(e.value)
    with pytest.raises(pvpack.Error) as e:
        small(packed, batch_size=1000, drop_last=True)
    assert e.value.status_name == "PV_ERR_EMPTY"


def test_cuda_and_half_need_the_gpu_path(packed):
    from pvpack import _pvpack
    for dev in ("cuda", "cuda:1"):
        if not _pvpack.HAVE_CUDA:  # a CUDA build: test_cuda.py
            with pytest.raises(RuntimeError, match="built without the CUDA path"):
                small(packed, device=dev, output="auto")
    for dt in ("float16", "bfloat16"):
        with pytest.raises(ValueError, match=f"{dt} needs device='cuda'"):
            small(packed, dtype=dt)
    with pytest.raises(ValueError):
        small(packed, device="tpu")


def test_ctrl_c_stops_a_waiting_iteration(packed):
    """SIGINT while next() waits raises KeyboardInterrupt promptly; the loader
    stays usable."""
    ld = small(packed, size=(1536, 1536), pipeline="none", threads=1, batch_size=N_IMAGES,
               dtype="float32", layout="NCHW", prefetch=1)
    it = iter(ld)
    timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        next(it)
    took = time.monotonic() - t0
    timer.join()
    assert took < 0.5, took
    it = iter(ld)  # usable after: a new epoch runs to its end
    assert sum(x.shape[0] for x, _ in it) == N_IMAGES


def test_iteration_is_single_pass(packed):
    ld = small(packed)
    it1 = iter(ld)
    next(it1)
    it2 = iter(ld)
    with pytest.raises(RuntimeError, match="re-iterated"):
        next(it1)
    assert sum(x.shape[0] for x, _ in it2) == N_IMAGES
    ld.close()
    with pytest.raises(ValueError, match="closed"):
        iter(ld)
