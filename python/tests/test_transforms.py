"""Loader(sample_transform=..., batch_transform=...): Python hooks on decoded
uint8 CHW crops and on finished batches, deterministic per sample."""
import random

import numpy as np
import pytest

import pvpack

torch = pytest.importorskip("torch")


def _batches(loader, epochs=(0,)):
    out = []
    for e in epochs:
        loader.set_epoch(e)
        out += [(x.clone(), y.clone()) for x, y in loader]
    return out


def _same(a, b):
    return len(a) == len(b) and all(torch.equal(x, u) and torch.equal(y, v)
                                    for (x, y), (u, v) in zip(a, b))


@pytest.mark.parametrize("dtype,layout", [("float32", "NCHW"), ("uint8", "NHWC"),
                                          ("float32", "NHWC"), ("uint8", "NCHW")])
def test_identity_hook_gives_the_c_loaders_bytes(packed, dtype, layout):
    seen = []

    def ident(img):
        seen.append((img.dtype, tuple(img.shape)))
        return img
    kw = dict(batch_size=8, size=(24, 32), seed=5, dtype=dtype, layout=layout, threads=2)
    ref = _batches(pvpack.Loader(packed, **kw), (0, 1))
    got = _batches(pvpack.Loader(packed, sample_transform=ident, **kw), (0, 1))
    assert _same(ref, got)
    assert len(seen) == sum(len(y) for _, y in ref)
    assert set(seen) == {(torch.uint8, (3, 24, 32))}


def _jitter(img):
    """A ColorJitter-like brightness draw with plain torch ops (torchvision
    may be absent): uses torch's global generator, as v2 transforms do."""
    f = 0.5 + torch.rand(()).item()
    return (img.float() * f).clamp_(0, 255).to(torch.uint8)


def test_sample_hook_is_deterministic_and_leaves_user_rng(packed):
    kw = dict(batch_size=8, size=24, seed=3, sample_transform=_jitter)
    torch.manual_seed(123)
    random.seed(9)
    a = _batches(pvpack.Loader(packed, threads=1, **kw), (0, 1))
    after_t, after_p = torch.rand(3), random.random()
    torch.manual_seed(123)
    random.seed(9)
    want_t, want_p = torch.rand(3), random.random()
    assert torch.equal(after_t, want_t) and after_p == want_p  # user streams untouched
    b = _batches(pvpack.Loader(packed, threads=3, **kw), (0, 1))
    assert _same(a, b)
    plain = _batches(pvpack.Loader(packed, batch_size=8, size=24, seed=3), (0, 1))
    assert not torch.equal(a[0][0], plain[0][0])  # the hook did something
    # another seed: other draws
    c = _batches(pvpack.Loader(packed, threads=1, **dict(kw, seed=4)), (0,))
    assert not torch.equal(a[0][0], c[0][0])


def test_sample_seed_follows_the_record(packed):
    """The same record gets the same hook draw in the same epoch whatever its
    position (sequential vs shuffled order), given the same crop."""
    draws = {}

    def record_draw(tag):
        def f(img):
            draws.setdefault(tag, []).append(torch.randint(0, 2**31, ()).item())
            return img
        return f
    kw = dict(batch_size=5, size=16, seed=2, pipeline="eval")
    seq = pvpack.Loader(packed, order="sequential", sample_transform=record_draw("seq"), **kw)
    shuf = pvpack.Loader(packed, order="shuffle", sample_transform=record_draw("shuf"), **kw)
    rec_seq = [r for b in seq.batches() for r in np.frombuffer(b.records, np.uint64)]
    rec_shuf = [r for b in shuf.batches() for r in np.frombuffer(b.records, np.uint64)]
    # batches() yields raw batches without the hooks: iterate to call them
    seq.set_epoch(0)
    shuf.set_epoch(0)
    list(seq)
    list(shuf)
    by_rec_seq = dict(zip(rec_seq, draws["seq"]))
    by_rec_shuf = dict(zip(rec_shuf, draws["shuf"]))
    assert rec_seq != rec_shuf and by_rec_seq == by_rec_shuf


def _mixup(images, labels):
    """Batch mixup with plain torch ops (soft labels over 3 classes)."""
    lam = torch.rand(()).item()
    perm = torch.randperm(images.shape[0])
    onehot = torch.nn.functional.one_hot(labels, 3).float()
    return lam * images + (1 - lam) * images[perm], lam * onehot + (1 - lam) * onehot[perm]


def test_batch_hook_mixup_deterministic(packed):
    kw = dict(batch_size=8, size=24, seed=7, batch_transform=_mixup)
    a = _batches(pvpack.Loader(packed, threads=1, **kw), (0, 1))
    b = _batches(pvpack.Loader(packed, threads=2, **kw), (0, 1))
    assert _same(a, b)
    assert a[0][1].dtype == torch.float32 and tuple(a[0][1].shape) == (8, 3)
    assert torch.allclose(a[0][1].sum(1), torch.ones(8))
    both = _batches(pvpack.Loader(packed, threads=1, sample_transform=_jitter, **kw), (0,))
    assert len(both) == len(a) // 2 and not torch.equal(both[0][0], a[0][0])


def test_hook_errors(packed):
    with pytest.raises(ValueError, match="uint8 tensor of shape"):
        list(pvpack.Loader(packed, batch_size=4, size=16, sample_transform=lambda x: x.float()))
    with pytest.raises(ValueError, match="uint8 tensor of shape"):
        list(pvpack.Loader(packed, batch_size=4, size=16, sample_transform=lambda x: x[:, :8]))
    with pytest.raises(TypeError, match=r"return \(images, labels\)"):
        list(pvpack.Loader(packed, batch_size=4, size=16, batch_transform=lambda x, y: None))
    with pytest.raises(TypeError, match="must be callable"):
        pvpack.Loader(packed, sample_transform=3)
    with pytest.raises(ValueError, match="need device='cpu'"):
        pvpack.Loader(packed, device="cuda:0", sample_transform=lambda x: x)
    with pytest.raises(ValueError, match="output='torch'"):
        pvpack.Loader(packed, output="numpy", batch_transform=lambda x, y: (x, y))


def test_torchvision_v2_transforms(packed):
    v2 = pytest.importorskip("torchvision.transforms.v2")
    tf = v2.Compose([v2.RandAugment(), v2.TrivialAugmentWide(), v2.ColorJitter(0.4, 0.4, 0.4),
                     v2.RandomErasing(p=0.5)])
    kw = dict(batch_size=8, size=32, seed=1, sample_transform=tf)
    a = _batches(pvpack.Loader(packed, threads=1, **kw))
    b = _batches(pvpack.Loader(packed, threads=2, **kw))
    assert _same(a, b) and a[0][0].dtype == torch.float32
    if hasattr(v2, "MixUp"):
        mix = v2.RandomChoice([v2.MixUp(num_classes=3), v2.CutMix(num_classes=3)])
        c = _batches(pvpack.Loader(packed, batch_size=8, size=32, seed=1, batch_transform=mix))
        d = _batches(pvpack.Loader(packed, batch_size=8, size=32, seed=1, batch_transform=mix))
        assert _same(c, d) and tuple(c[0][1].shape) == (8, 3)


def test_readme_transforms(packed):
    """The README's transforms snippet, run as written (the path replaced)."""
    pytest.importorskip("torchvision.transforms.v2")
    v2 = __import__("torchvision.transforms.v2", fromlist=["MixUp"])
    if not hasattr(v2, "MixUp"):
        pytest.skip("torchvision without v2.MixUp (< 0.16)")
    import os
    import re
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"<!-- test_readme_transforms -->\s*```python\n(.*?)```", text, re.S)
    assert m, "the README's transforms snippet is missing"
    code = "\n".join(line[2:] if line.startswith("  ") else line
                     for line in m.group(1).splitlines())
    assert "/data/train.pvpack" in code
    exec(compile(code.replace("/data/train.pvpack", packed), "README.md", "exec"), {})


def _draws_by_record(loader, epoch):
    """record -> the hook's draw for it in `epoch` (every occurrence must agree:
    a padded or repeated record gets the same draw)."""
    draws = []

    def f(img):
        draws.append(torch.randint(0, 2**31, ()).item())
        return img
    loader._source.sample_transform = f
    loader.set_epoch(epoch)
    out = {}
    for _, _, recs in loader:
        got, draws[:] = list(draws), []
        assert len(got) == len(recs)
        for r, d in zip(recs.tolist(), got):
            assert out.setdefault(r, d) == d
    return out


def test_hook_seed_is_per_record_in_subsets_rank_splits_and_elastic_resume(packed):
    """A sample's hook draw depends on (seed, epoch, record) only: the same in
    an indices= subset (shuffled), on each rank of a split, and after an
    elastic resume at another world size (with_records gives the records)."""
    kw = dict(batch_size=4, size=16, seed=11, with_records=True, sample_transform=_jitter)
    full = _draws_by_record(pvpack.Loader(packed, order="sequential", **kw), 2)
    n = len(full)
    sub = pvpack.Loader(packed, indices=list(range(1, n, 2))[::-1], order="shuffle", **kw)
    got = _draws_by_record(sub, 2)
    assert set(got) == set(range(1, n, 2)) and all(full[r] == d for r, d in got.items())
    for rank in range(3):
        ld = pvpack.Loader(packed, rank=rank, world_size=3, **kw)
        assert all(full[r] == d for r, d in _draws_by_record(ld, 2).items())
    # elastic: 2 batches per rank at world size 2, then the rest at world size 3
    old = pvpack.Loader(packed, rank=0, world_size=2, **kw)
    old.set_epoch(2)
    it = iter(old)
    next(it), next(it)
    st = old.state_dict()
    seen = set()
    for rank in range(3):
        ld = pvpack.Loader(packed, rank=rank, world_size=3, **kw)
        ld.load_state_dict(st)
        d = _draws_by_record(ld, 2)       # set_epoch(2) keeps the restored rest
        assert d and all(full[r] == v for r, v in d.items())
        seen |= set(d)
    assert len(seen) == n - 2 * 4 * 2     # the undelivered records, each once or padded


def test_hook_seed_follows_a_restored_states_seed(packed):
    """seed=None adopts the state's seed on load_state_dict: the hooks' draws
    then are those of a loader made with that seed."""
    kw = dict(batch_size=4, size=16, sample_transform=_jitter, threads=2)
    ref = pvpack.Loader(packed, seed=123456789, **kw)
    st = ref.state_dict()
    want = _batches(ref, (0,))
    ld = pvpack.Loader(packed, **kw)       # a drawn seed
    assert ld.seed != 123456789
    ld.load_state_dict(st)
    assert ld.seed == 123456789 and _same(_batches(ld, (0,)), want)


def test_hook_with_records(packed):
    kw = dict(batch_size=4, size=16, seed=3, threads=2, sample_transform=_jitter)
    plain = _batches(pvpack.Loader(packed, **kw), (0,))
    ld = pvpack.Loader(packed, with_records=True, **kw)
    got = [(x.clone(), y.clone(), r) for x, y, r in ld]
    assert _same(plain, [(x, y) for x, y, _ in got])
    assert all(r.dtype == torch.int64 and len(r) == len(y) for _, y, r in got)
