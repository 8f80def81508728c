"""jpeg_decode: 'fast' (libjpeg's fast IDCT and plain upsampling) for the
train pipeline by default, 'accurate' for eval and none; the mode used is
``loader.jpeg_decode`` and is in the state, which refuses a resume in the
other mode (the pixels would differ)."""
import numpy as np
import pytest

import pvpack

KW = dict(batch_size=8, size=32, seed=11, threads=2, output="numpy")


def _epoch(loader, e=0):
    loader.set_epoch(e)
    return [(np.array(x), np.array(y)) for x, y in loader]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, u) and np.array_equal(y, v)
                                    for (x, y), (u, v) in zip(a, b))


def test_defaults_by_pipeline(packed):
    assert pvpack.Loader(packed, **KW).jpeg_decode == "fast"
    assert pvpack.Loader(packed, pipeline="eval", **KW).jpeg_decode == "accurate"
    assert pvpack.Loader(packed, pipeline="none", **KW).jpeg_decode == "accurate"
    assert pvpack.Loader(packed, pipeline="eval", jpeg_decode="fast", **KW).jpeg_decode == "fast"
    assert pvpack.Loader(packed, jpeg_decode="accurate", **KW).jpeg_decode == "accurate"
    with pytest.raises((ValueError, pvpack.Error)):
        pvpack.Loader(packed, jpeg_decode="fastest", **KW)


def test_modes_give_their_own_pixels(packed):
    auto = _epoch(pvpack.Loader(packed, **KW))
    fast = _epoch(pvpack.Loader(packed, jpeg_decode="fast", **KW))
    acc = _epoch(pvpack.Loader(packed, jpeg_decode="accurate", **KW))
    assert _same(auto, fast)
    # the same samples (labels, order), other pixels, close to the accurate ones
    assert all(np.array_equal(y, v) for (_, y), (_, v) in zip(fast, acc))
    assert not _same(fast, acc)
    diff = np.concatenate([np.abs(x.astype(np.float64) - u.astype(np.float64)).ravel()
                           for (x, _), (u, _) in zip(fast, acc)])
    assert diff.mean() < 0.1  # float32 normalized: ~0.02 per unit of 8-bit error
    # eval: auto is accurate, fast differs
    ev = dict(KW, pipeline="eval")
    assert _same(_epoch(pvpack.Loader(packed, **ev)),
                 _epoch(pvpack.Loader(packed, jpeg_decode="accurate", **ev)))
    assert not _same(_epoch(pvpack.Loader(packed, **ev)),
                     _epoch(pvpack.Loader(packed, jpeg_decode="fast", **ev)))


def test_fast_is_deterministic_across_threads(packed):
    a = _epoch(pvpack.Loader(packed, **dict(KW, threads=1)), 3)
    b = _epoch(pvpack.Loader(packed, **dict(KW, threads=3)), 3)
    assert _same(a, b)


def test_state_records_the_mode(packed):
    ld = pvpack.Loader(packed, **KW)
    it = iter(ld)
    next(it)
    st = ld.state_dict()
    assert st["options"]["jpeg_decode"] == "fast"
    rest = [np.array(x) for x, _ in it]
    again = pvpack.Loader(packed, **KW)
    again.load_state_dict(st)
    assert all(np.array_equal(x, np.array(u)) for x, (u, _) in zip(rest, again))
    with pytest.raises(ValueError, match="jpeg_decode"):
        pvpack.Loader(packed, jpeg_decode="accurate", **KW).load_state_dict(st)
    # a state written before jpeg_decode existed was decoded accurately
    old = dict(st, options={k: v for k, v in st["options"].items() if k != "jpeg_decode"})
    pvpack.Loader(packed, jpeg_decode="accurate", **KW).load_state_dict(old)
    with pytest.raises(ValueError, match="jpeg_decode"):
        pvpack.Loader(packed, **KW).load_state_dict(old)
