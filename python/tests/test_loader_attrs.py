"""loader.size, .batch_size and .drop_last assigned between epochs
(progressive resizing) take effect at the next epoch, which is then exactly
what a new Loader with the new value gives for it; mid-epoch they are refused."""
import numpy as np
import pytest

import pvpack


def _epoch(loader, e=None):
    if e is not None:
        loader.set_epoch(e)
    return [(np.array(x), np.array(y)) for x, y in loader]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, u) and np.array_equal(y, v)
                                    for (x, y), (u, v) in zip(a, b))


KW = dict(batch_size=8, size=16, seed=4, threads=2, output="numpy")


def test_size_between_epochs(packed):
    ld = pvpack.Loader(packed, **KW)
    e0 = _epoch(ld)
    assert e0[0][0].shape[2:] == (16, 16)
    ld.size = 24                       # progressive resizing, FFCV-style
    assert ld.size == (24, 24)
    e1 = _epoch(ld)                    # the next epoch, 1, at the new size
    assert ld.epoch == 1 and e1[0][0].shape[2:] == (24, 24)
    assert _same(e1, _epoch(pvpack.Loader(packed, **dict(KW, size=24)), 1))
    ld.size = (20, 28)
    ld.set_epoch(5)
    assert _same(_epoch(ld), _epoch(pvpack.Loader(packed, **dict(KW, size=(20, 28))), 5))
    assert "size=(20, 28)" in repr(ld)


def test_batch_size_and_drop_last_between_epochs(packed):
    ld = pvpack.Loader(packed, **KW)
    n = len(ld.dataset)
    assert len(ld) == -(-n // 8)
    _epoch(ld)
    ld.batch_size = 5
    assert ld.batch_size == 5 and len(ld) == -(-n // 5)
    e1 = _epoch(ld)
    assert [len(y) for _, y in e1][:-1] == [5] * (len(e1) - 1)
    assert _same(e1, _epoch(pvpack.Loader(packed, **dict(KW, batch_size=5)), 1))
    assert ld.state_dict()["batch_size"] == 5
    ld.drop_last = True
    assert ld.drop_last is True and len(ld) == n // 5
    e2 = _epoch(ld)
    assert all(len(y) == 5 for _, y in e2)
    assert _same(e2, _epoch(pvpack.Loader(packed, **dict(KW, batch_size=5, drop_last=True)), 2))


def test_assign_before_the_first_epoch_and_after_set_epoch(packed):
    ld = pvpack.Loader(packed, **KW)
    ld.batch_size = 6                   # nothing iterated yet: epoch 0 with 6
    assert _same(_epoch(ld), _epoch(pvpack.Loader(packed, **dict(KW, batch_size=6)), 0))
    ld.set_epoch(3)
    ld.size = 12
    assert _same(_epoch(ld), _epoch(pvpack.Loader(packed, **dict(KW, batch_size=6, size=12)), 3))


def test_mid_epoch_assignment_is_refused(packed):
    ld = pvpack.Loader(packed, **KW)
    it = iter(ld)
    next(it)
    for attr, v in (("size", 24), ("batch_size", 4), ("drop_last", True)):
        with pytest.raises(RuntimeError, match=f"loader.{attr} can only be assigned between"):
            setattr(ld, attr, v)
    assert ld.size == (16, 16) and ld.batch_size == 8 and ld.drop_last is False
    rest = list(it)                     # the epoch goes on unchanged
    assert len(rest) == len(ld) - 1
    ld2 = pvpack.Loader(packed, **KW)
    st = ld.state_dict()
    ld2.load_state_dict(dict(st, batch=2, epoch=0))
    with pytest.raises(RuntimeError, match="resume epoch 0 at batch 2"):
        ld2.size = 24


def test_bad_values(packed):
    ld = pvpack.Loader(packed, **KW)
    with pytest.raises(ValueError):
        ld.batch_size = 0
    with pytest.raises(TypeError):
        ld.batch_size = 2.5
    with pytest.raises(ValueError):
        ld.size = 0
    with pytest.raises(TypeError):
        ld.drop_last = "yes"
    assert ld.batch_size == 8 and ld.size == (16, 16)
    ld.close()
    with pytest.raises(ValueError, match="closed"):
        ld.size = 20


def test_assignment_applies_to_an_iterator_not_yet_started(packed):
    """iter() is positionless: an assignment between iter() and its first
    next() holds for that iteration (as set_epoch does)."""
    ld = pvpack.Loader(packed, **KW)
    it = iter(ld)
    ld.size = 24
    got = [(np.array(x), np.array(y)) for x, y in it]
    assert got[0][0].shape[2:] == (24, 24)
    assert _same(got, _epoch(pvpack.Loader(packed, **dict(KW, size=24)), 0))


def test_state_records_the_assigned_values(packed):
    """The state holds the values in use; a loader with the old ones refuses
    it, one assigned the new ones first resumes exactly."""
    ld = pvpack.Loader(packed, **KW)
    _epoch(ld)
    ld.size, ld.batch_size, ld.drop_last = 24, 5, True
    it = iter(ld)
    next(it), next(it)
    st = ld.state_dict()
    assert (st["epoch"], st["batch"], st["batch_size"]) == (1, 2, 5)
    assert (st["options"]["height"], st["options"]["drop_last"]) == (24, True)
    rest = [(np.array(x), np.array(y)) for x, y in it]
    for attr in ("height", "batch_size", "drop_last"):
        other = pvpack.Loader(packed, **KW)
        if attr != "height":
            other.size = 24
        if attr != "batch_size":
            other.batch_size = 5
        if attr != "drop_last":
            other.drop_last = True
        with pytest.raises(ValueError, match=attr):
            other.load_state_dict(st)
    again = pvpack.Loader(packed, **KW)
    again.size, again.batch_size, again.drop_last = 24, 5, True
    again.load_state_dict(st)
    again.set_epoch(1)                    # the README loop: keeps the position
    assert _same(_epoch(again), rest)


def test_restored_positions_and_set_epoch(packed):
    """A restored mid-epoch position survives set_epoch(that epoch) and refuses
    assignment; set_epoch(another) or an epoch-end state allows it."""
    ld = pvpack.Loader(packed, **KW)
    st = ld.state_dict()
    ld.load_state_dict(dict(st, batch=2, epoch=4))
    ld.set_epoch(4)
    with pytest.raises(RuntimeError, match="resume epoch 4 at batch 2"):
        ld.batch_size = 4
    ld.set_epoch(5)
    ld.batch_size = 4
    assert _same(_epoch(ld), _epoch(pvpack.Loader(packed, **dict(KW, batch_size=4)), 5))
    end = pvpack.Loader(packed, **KW)
    end.load_state_dict(dict(st, epoch=3, batch=0))
    end.size = 20
    assert _same(_epoch(end, 3), _epoch(pvpack.Loader(packed, **dict(KW, size=20)), 3))


def test_abandoned_epoch_then_set_epoch(packed):
    """An epoch left part-way refuses assignment (a new iter() would restart
    it); set_epoch(e) starts e again and the assignment applies to it."""
    ld = pvpack.Loader(packed, **KW)
    it = iter(ld)
    next(it)
    del it
    with pytest.raises(RuntimeError, match="set_epoch"):
        ld.size = 20
    ld.set_epoch(0)
    ld.size = 20
    assert _same(_epoch(ld), _epoch(pvpack.Loader(packed, **dict(KW, size=20)), 0))


def test_elastic_rest_refuses_assignment(packed):
    st = None
    old = pvpack.Loader(packed, rank=0, world_size=2, **KW)
    it = iter(old)
    next(it)
    st = old.state_dict()
    ld = pvpack.Loader(packed, rank=0, world_size=3, **KW)
    ld.load_state_dict(st)
    with pytest.raises(RuntimeError, match="elastic resume, from global position 16"):
        ld.size = 24


def test_batch_sampler_follows_assignment(packed):
    ld = pvpack.Loader(packed, **KW)
    bs = ld.batch_sampler
    assert (bs.batch_size, bs.drop_last, len(bs)) == (8, False, len(ld))
    ld.batch_size, ld.drop_last = 5, True
    assert (bs.batch_size, bs.drop_last, len(bs)) == (5, True, len(ld))
    assert all(len(b) == 5 for b in bs)
