"""pvpack.build(src, out, part=(k, n)) and pvpack.merge(out): plain functions
a Ray task, a Spark foreach or a Dask delayed call can run."""
import os
import pickle

import pytest

import pvpack


def _records(d):
    ds = pvpack.Dataset(d)
    out = []
    for i in range(len(ds)):
        info = ds.record_info(i)
        out.append((ds.source_path(i), ds.label(i), info["length"], info["checksum"],
                    info["width"], info["height"], ds[i][0].tobytes()))
    return out


def test_parts_then_merge_equal_whole(tree, tmp_path):
    whole = str(tmp_path / "whole")
    out = str(tmp_path / "out")
    pvpack.build(tree, whole, shard_size=40 * 1024, quiet=True)
    for k in (2, 0, 1):
        s = pvpack.build(tree, out, shard_size=40 * 1024, quiet=True, part=(k, 3))
        assert s.images > 0
    assert os.path.isdir(os.path.join(out, "parts", "1-of-3"))
    again = pvpack.build(tree, out, shard_size=40 * 1024, quiet=True, part=(1, 3))
    assert again.images == 0  # complete already: a no-op
    r = pvpack.merge(out)
    assert r["images"] == len(pvpack.Dataset(whole))
    assert _records(out) == _records(whole)
    assert not os.path.exists(os.path.join(out, "parts"))
    # picklable: what an engine ships to a worker
    assert pickle.loads(pickle.dumps(pvpack.build)) is pvpack.build
    assert pickle.loads(pickle.dumps(pvpack.merge)) is pvpack.merge


def test_merge_missing_part_and_bad_part(tree, tmp_path):
    out = str(tmp_path / "out")
    pvpack.build(tree, out, quiet=True, part=(0, 2))
    with pytest.raises(pvpack.Error) as e:
        pvpack.merge(out)
    assert e.value.status_name == "PV_ERR_NOT_FOUND"
    assert "1-of-2" in str(e.value)
    with pytest.raises(ValueError):
        pvpack.build(tree, out, quiet=True, part=(2, 2))
    with pytest.raises(TypeError):
        pvpack.build(tree, out, quiet=True, part=("0", 2))
    with pytest.raises(ValueError):
        pvpack.build(tree, None, quiet=True, part=(0, 2))


def _attempt(args):
    tree, out, barrier = args
    barrier.wait()  # all attempts start together
    s = pvpack.build(tree, out, shard_size=40 * 1024, quiet=True, part=(1, 3))
    return s.images


def test_duplicate_attempts_at_once(tree, tmp_path):
    # Spark speculation / an engine retry beside a slow first attempt: four
    # processes build the same part at once; all succeed, one part remains
    # (no temporary folder, no lock file), and the merge is the usual one.
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    ref = str(tmp_path / "ref")
    for k in range(3):
        pvpack.build(tree, ref, shard_size=40 * 1024, quiet=True, part=(k, 3))
    pvpack.merge(ref)
    for rnd in range(3):
        out = str(tmp_path / f"out{rnd}")
        barrier = ctx.Barrier(4)
        procs = [ctx.Process(target=_attempt, args=((tree, out, barrier),)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
        assert os.listdir(os.path.join(out, "parts")) == ["1-of-3"]
    for k in (0, 2):
        pvpack.build(tree, out, shard_size=40 * 1024, quiet=True, part=(k, 3))
    pvpack.merge(out)
    assert sorted(os.listdir(out)) == sorted(os.listdir(ref))
    for name in os.listdir(ref):
        with open(os.path.join(ref, name), "rb") as a, open(os.path.join(out, name), "rb") as b:
            assert a.read() == b.read(), name


def test_plan_once_then_parts(tree, tmp_path):
    # pvpack.plan lists the tree once (out/parts/plan/); the parts read their
    # slice of it: the merged dataset is byte for byte the one of parts that
    # each listed the tree, and the plan goes with the merge.
    walked = str(tmp_path / "walked")
    out = str(tmp_path / "out")
    for k in range(3):
        pvpack.build(tree, walked, shard_size=40 * 1024, quiet=True, part=(k, 3))
    pvpack.merge(walked)
    s = pvpack.plan(tree, out, 3, shard_size=40 * 1024, quiet=True)
    assert s.files > 0 and s.classes > 0
    assert sorted(os.listdir(os.path.join(out, "parts", "plan"))) == [
        "0-of-3.pvl", "1-of-3.pvl", "2-of-3.pvl"]
    assert pickle.loads(pickle.dumps(pvpack.plan)) is pvpack.plan
    with pytest.raises(pvpack.Error) as e:  # parts must get the plan's options
        pvpack.build(tree, out, shard_size=40 * 1024, seed=5, quiet=True, part=(0, 3))
    assert e.value.status_name == "PV_ERR_INVALID_ARG"
    assert "seed=5" in str(e.value)
    with pytest.raises(pvpack.Error) as e:  # another plan is refused without force
        pvpack.plan(tree, out, 3, seed=5, quiet=True)
    assert e.value.status_name == "PV_ERR_EXISTS"
    with pytest.raises(TypeError):
        pvpack.plan(tree, out, 3, part=(0, 3))
    with pytest.raises(ValueError):
        pvpack.plan(tree, out, 0)
    for k in (2, 0, 1):
        pvpack.build(tree, out, shard_size=40 * 1024, quiet=True, part=(k, 3))
    pvpack.merge(out)
    assert not os.path.exists(os.path.join(out, "parts"))
    assert sorted(os.listdir(out)) == sorted(os.listdir(walked))
    for name in os.listdir(walked):
        with open(os.path.join(walked, name), "rb") as a, open(os.path.join(out, name), "rb") as b:
            assert a.read() == b.read(), name
