"""pvpack.Loader's epochs and positions as torch users expect them (issue 12):
iter() is positionless until the first next(), set_epoch keeps a restored
position, eval / sequential pipelines do not shuffle, seed=None, the state's
dataset identity and sequence options, opt-in sharding, the unrepeated split,
record ids with a batch."""
import hashlib
import os
import pickle
import warnings

import numpy as np
import pytest

import pvpack
from conftest import N_IMAGES


def small(packed, **kw):
    args = dict(batch_size=5, size=(24, 20), threads=2, dtype="uint8", layout="NHWC",
                output="numpy", rank=0, world_size=1, seed=7)
    args.update(kw)
    return pvpack.Loader(packed, **args)


def recs(batch_iter):
    return [np.frombuffer(b.records, np.uint64).tolist() for b in batch_iter]


def hashes(loader):
    return [hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest() for x, _ in loader]


def test_iter_is_positionless_until_next(packed):
    """Two iter() calls, or iter() then set_epoch, consume nothing: epoch 0's
    first batch comes first. A peek (next(iter(loader))) does not shift the
    epochs either: the loop after it runs the whole epoch 0."""
    ref = hashes(small(packed))
    ld = small(packed)
    iter(ld)
    iter(ld)
    assert hashes(ld) == ref  # epoch 0, complete
    ld = small(packed)
    it = iter(ld)
    ld.set_epoch(0)
    first = next(it)[0].copy()  # the iterator made before set_epoch runs epoch 0
    assert hashlib.sha1(first.tobytes()).hexdigest() == ref[0]
    ld = small(packed)
    x, _ = next(iter(ld))  # a peek
    del x
    assert hashes(ld) == ref
    ld.set_epoch(1)
    e1 = hashes(ld)
    assert e1 != ref and hashes(small(packed, epoch=1)) == e1


def test_set_epoch_keeps_restored_position(packed):
    """The README's resume loop: load_state_dict, then set_epoch(epoch) for the
    epoch the state holds, resumes mid-epoch instead of replaying it."""
    ld = small(packed)
    ref = [recs(ld.batches()) for _ in range(2)]  # epochs 0 and 1
    ld = small(packed)
    it = ld.batches()
    got = [np.frombuffer(next(it).records, np.uint64).tolist() for _ in range(3)]
    state = ld.state_dict()
    assert (state["epoch"], state["batch"]) == (0, 3)
    fresh = small(packed)
    fresh.load_state_dict(state)
    seen = []
    for epoch in range(state["epoch"], 2):
        fresh.set_epoch(epoch)  # must keep batch 3 of epoch 0
        seen.append(recs(fresh.batches()))
    assert got + seen[0] == ref[0] and seen[1] == ref[1]
    assert len(seen[0]) == len(ld) - 3
    # another epoch than the state's starts that epoch from its start
    fresh = small(packed)
    fresh.load_state_dict(state)
    fresh.set_epoch(1)
    assert recs(fresh.batches()) == ref[1]


def test_eval_and_none_do_not_shuffle(packed):
    """pipeline='eval' / 'none' default to sequential order: every epoch
    (limit_val_batches) sees the same records; shuffling is asked for."""
    for pipeline in ("eval", "none"):
        ld = small(packed, pipeline=pipeline, eval_resize=24)
        assert ld.order == "sequential"
        e0, e1 = recs(ld.batches()), recs(ld.batches())
        assert e0 == e1 and [r for b in e0 for r in b] == list(range(N_IMAGES))
    ld = small(packed, pipeline="eval", eval_resize=24, order="shuffle")
    assert [r for b in recs(ld.batches()) for r in b] != list(range(N_IMAGES))
    assert small(packed).order == "shuffle"


def test_seed_none_draws_and_is_in_state_and_repr(packed, monkeypatch):
    import sys
    torch = pytest.importorskip("torch")
    torch.manual_seed(1234)
    ld = small(packed, seed=None)
    assert ld.seed == 1234 and "seed=1234" in repr(ld)
    assert ld.state_dict()["seed"] == 1234
    torch.manual_seed(99)
    assert small(packed, seed=None).seed == 99
    # without torch imported: from the OS, a different one each time
    monkeypatch.delitem(sys.modules, "torch")
    seeds = {small(packed, seed=None).seed for _ in range(3)}
    assert len(seeds) == 3
    monkeypatch.undo()
    # seed=None takes a restored state's seed (another process draws another)
    src = small(packed, seed=5)
    it = src.batches()
    next(it)
    state = src.state_dict()
    ref = recs(small(packed, seed=5).batches())
    torch.manual_seed(6)
    ld = small(packed, seed=None)
    ld.load_state_dict(state)
    assert ld.seed == 5 and recs(ld.batches()) == ref[1:]
    with pytest.raises(ValueError, match="seed"):
        small(packed, seed=6).load_state_dict(state)


def test_state_checks_dataset_identity_and_sequence_options(packed, tree, tmp_path):
    """A state is refused on another build of the same record count, and on
    options that change the sample or augmentation sequence."""
    import shutil
    state = small(packed).state_dict()
    # a rebuilt dataset: same record count, one image changed
    t2 = tmp_path / "tree2"
    shutil.copytree(tree, t2)
    f = sorted(p for p in t2.rglob("*") if p.is_file())[0]
    data = bytearray(f.read_bytes())
    f.write_bytes(bytes(data) + b"\0")  # a different file, the same image
    other = pvpack.build(str(t2), str(tmp_path / "other.pvpack"), quiet=True).out
    assert len(pvpack.Dataset(other)) == len(pvpack.Dataset(packed))
    with pytest.raises(ValueError, match="dataset"):
        small(other).load_state_dict(state)
    small(packed).load_state_dict(state)  # the same build: fine
    for kw, name in ((dict(size=(24, 24)), "height|width"), (dict(pipeline="none",
                      order="shuffle"), "pipeline"), (dict(scale=(0.5, 1.0)), "scale"),
                     (dict(drop_last=True), "drop_last"), (dict(ratio=(1.0, 1.0)), "ratio")):
        with pytest.raises(ValueError, match=name):
            small(packed, **kw).load_state_dict(state)
    # a state that went through pickle (torch.save) still loads
    small(packed).load_state_dict(pickle.loads(pickle.dumps(state)))


def test_sharding_is_opt_in_and_loud(packed, monkeypatch):
    """RANK / WORLD_SIZE alone do not shard (a full validation loader holds the
    full set), with a ShardingWarning; distributed=True shards."""
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "4")
    kw = dict(batch_size=5, size=16, output="numpy", seed=2, threads=2)
    with pytest.warns(pvpack.ShardingWarning, match="rank 0 of 4"):
        ld = pvpack.Loader(packed, pipeline="eval", **kw)
    assert (ld.rank, ld.world_size) == (0, 1) and ld.samples_per_epoch == N_IMAGES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pvpack.Loader(packed, distributed=False, **kw).samples_per_epoch == N_IMAGES
        ld = pvpack.Loader(packed, distributed=True, **kw)
    assert (ld.rank, ld.world_size) == (0, 4) and ld.samples_per_epoch == (N_IMAGES + 3) // 4
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # single process: no warning
        assert pvpack.Loader(packed, **kw).world_size == 1
        assert pvpack.Loader(packed, distributed=True, **kw).world_size == 1


def test_with_records_yields_record_ids(packed):
    ld = small(packed, with_records=True)
    ref = recs(small(packed).batches())
    got = []
    for x, y, r in ld:
        assert r.dtype == np.int64 and r.shape == y.shape
        got.append(r.tolist())
    assert got == ref
    ds = pvpack.Dataset(packed)
    assert all(ds.label(i) == lab for x, y, r in small(packed, with_records=True)
               for i, lab in zip(r.tolist(), y.tolist()))


def test_sampler_and_batch_sampler(packed):
    """loader.sampler / batch_sampler: set_epoch drives the loader, iterating
    them gives the records of the loader's epoch; a SequentialSampler for
    order='sequential' (what Lightning's overfit_batches asks for)."""
    torch = pytest.importorskip("torch")
    ld = small(packed)
    assert isinstance(ld.sampler, torch.utils.data.Sampler)
    assert not isinstance(ld.sampler, torch.utils.data.SequentialSampler)
    assert ld.batch_sampler.sampler is ld.sampler
    ld.sampler.set_epoch(3)
    assert ld.epoch == 3 and len(ld.sampler) == N_IMAGES and len(ld.batch_sampler) == len(ld)
    assert list(ld.batch_sampler) == recs(small(packed, epoch=3).batches())
    assert recs(ld.batches()) == recs(small(packed, epoch=3).batches())
    seq = small(packed, order="sequential")
    assert isinstance(seq.sampler, torch.utils.data.SequentialSampler)
    assert list(seq.sampler) == list(range(N_IMAGES))


def test_unrepeated_eval_split(packed):
    """rank_unrepeated: every sample exactly once across the ranks, unequal
    counts (Lightning's UnrepeatedDistributedSampler), for evaluation whose
    gathered results must score each sample once; record ids come along."""
    W = 4
    seen, counts = [], []
    for r in range(W):
        ld = small(packed, pipeline="eval", eval_resize=24, rank=r, world_size=W,
                   rank_unrepeated=True, with_records=True)
        got = [i for _, _, rs in ld for i in rs.tolist()]
        assert len(got) == ld.samples_per_epoch
        assert got == list(range(r, N_IMAGES, W))  # rank r: records r, r + W, ...
        seen += got
        counts.append(len(got))
    assert sorted(seen) == list(range(N_IMAGES)) and sum(counts) == N_IMAGES
    assert max(counts) - min(counts) == 1  # 47 over 4: 12, 12, 12, 11
    # the padded default repeats a sample to even the counts out
    assert small(packed, rank=3, world_size=W).samples_per_epoch == 12
    with pytest.raises(pvpack.Error, match="rank_unrepeated"):
        small(packed, rank=0, world_size=W, rank_unrepeated=True, rank_drop=True)


def test_indices_subset_and_class_filter(packed):
    """indices= (a subset in the given order, or shuffled) and classes= (a class
    filter), as FFCV's Loader(indices=...): a train / val split of one packed
    tree without a re-pack."""
    ds = pvpack.Dataset(packed)
    val = [40, 3, 17, 3, 9, 22, 31]  # any order, repeats allowed
    ld = small(packed, indices=val, order="sequential")
    assert ld.samples_per_epoch == len(val) and len(ld) == 2
    got = [r for b in recs(ld.batches()) for r in b]
    assert got == val
    assert list(ld.indices) == val
    # labels and images are those of the records
    x, y = next(iter(small(packed, indices=[5], order="sequential", pipeline="none")))
    full = small(packed, pipeline="none", order="sequential", batch_size=N_IMAGES)
    fx, fy = next(iter(full))
    assert np.array_equal(x[0], fx[5]) and y[0] == fy[5] == ds.label(5)
    # shuffled: the subset's records, a new order each epoch, nothing else
    train = [i for i in range(N_IMAGES) if i not in set(val)]
    ld = small(packed, indices=train)
    e0 = [r for b in recs(ld.batches()) for r in b]
    e1 = [r for b in recs(ld.batches()) for r in b]
    assert sorted(e0) == sorted(e1) == sorted(train) and e0 != e1 and e0 != sorted(train)
    assert e0 == [ld.sample_record(0, k) for k in range(len(train))]
    # ranks split the subset
    parts = [[r for b in recs(small(packed, indices=train, rank=k, world_size=3,
                                    rank_unrepeated=True).batches()) for r in b]
             for k in range(3)]
    assert sorted(sum(parts, [])) == sorted(train)
    # class filter, alone or within indices
    c = ds.classes[1]
    want = [i for i in range(N_IMAGES) if ds.label(i) == 1]
    ld = small(packed, classes=[c], order="sequential")
    assert [r for b in recs(ld.batches()) for r in b] == want
    assert list(small(packed, classes=1, indices=val, order="sequential").indices) == \
        [i for i in val if ds.label(i) == 1]
    # the state knows the subset
    st = small(packed, indices=train).state_dict()
    with pytest.raises(ValueError, match="indices"):
        small(packed, indices=train[:-1] + [train[-1]]).load_state_dict(dict(st, options=dict(
            st["options"], indices="0")))
    with pytest.raises(ValueError, match="indices|records"):
        small(packed).load_state_dict(st)
    small(packed, indices=train).load_state_dict(st)
    for bad, err in (([N_IMAGES], ValueError), ([-1], ValueError), ([1.5], TypeError),
                     ([], ValueError)):
        with pytest.raises(err):
            small(packed, indices=bad)
    with pytest.raises(ValueError, match="no class"):
        small(packed, classes=["nope"])


def samples(ld, nbatches=None):
    """[(record, sha1 of its image)] of the next nbatches (None: the rest of
    the epoch) of ld, and its state after them."""
    out = []
    for i, b in enumerate(ld.batches()):
        img = np.asarray(b)
        out += [(int(r), hashlib.sha1(img[j].tobytes()).hexdigest())
                for j, r in enumerate(np.frombuffer(b.records, np.uint64))]
        del img, b
        if nbatches is not None and i + 1 == nbatches:
            break
    return out, ld.state_dict()


def test_elastic_resume(packed):
    """A state saved at world size 3 (every rank 2 batches in) resumes at world
    size 2 and 4: every sample of the epoch no rank delivered is delivered
    exactly once across the new ranks (plus the padding that evens the counts),
    each with the record and augmentation of its global position, i.e. the
    rest of the epoch in the same global order; the epoch after is a full one.
    A state saved inside such a rest resumes at yet another world size."""
    e, W, b = 2, 3, 2
    kw = dict(epoch=e)
    # position q of the global order: record and image of a world-1 loader's sample q
    ref, _ = samples(small(packed, **kw))
    before, states = [], []
    for r in range(W):
        got, st = samples(small(packed, rank=r, world_size=W, **kw), b)
        before += got
        states.append(st)
    assert all((s["epoch"], s["batch"], s["base"]) == (e, b, 0) for s in states)
    first = b * 5 * W  # 30 positions delivered
    assert sorted(before) == sorted(ref[:first])
    for W2 in (2, 4):
        after, after_states = [], []
        for r in range(W2):
            ld = small(packed, rank=r, world_size=W2)
            ld.load_state_dict(states[0])  # rank 0's checkpoint, as Lightning saves
            ld.set_epoch(e)                # the README loop: keeps the position
            got, _ = samples(ld)
            span = N_IMAGES - first
            want = [ref[first + (k * W2 + r) % span] for k in range(len(got))]
            assert [x for x, _ in got] == [x for x, _ in want]
            # images too, but for the padding (augmented as its own position,
            # as the padding of a full epoch is)
            real = [k for k in range(len(got)) if k * W2 + r < span]
            assert [got[k] for k in real] == [want[k] for k in real]
            assert len(real) >= len(got) - 1
            after += got
            nxt, _ = samples(ld)  # the next epoch: a full one at world size W2
            assert [x for x, _ in nxt] == [small(packed, rank=r, world_size=W2, epoch=e + 1)
                                           .sample_record(e + 1, k) for k in range(len(nxt))]
        recs_all = [x for x, _ in before + after]
        pad = -(-(N_IMAGES - first) // W2) * W2 - (N_IMAGES - first)
        assert sorted(set(recs_all)) == list(range(N_IMAGES))
        assert len(recs_all) == N_IMAGES + pad  # exactly once, plus the padding
    # a state inside a rest (world 2, 1 batch into it) resumes at world 3
    mid = []
    for r in range(2):
        ld = small(packed, rank=r, world_size=2)
        ld.load_state_dict(states[0])
        got, st = samples(ld, 1)
        mid += got
        if r == 0:
            st0 = st
    assert (st0["epoch"], st0["batch"], st0["base"]) == (e, 1, first)
    rest = []
    for r in range(3):
        ld = small(packed, rank=r, world_size=3)
        ld.load_state_dict(st0)
        rest += samples(ld)[0]
    done = before + mid + rest
    assert sorted({x for x, _ in done}) == list(range(N_IMAGES))
    assert len(done) - N_IMAGES == -(-(N_IMAGES - first - 10) // 3) * 3 - (N_IMAGES - first - 10)
    # the same world size still resumes bit-exactly (not through the rest)
    ld = small(packed, rank=1, world_size=W)
    ld.load_state_dict(states[1])
    full, _ = samples(small(packed, rank=1, world_size=W, **kw))
    assert samples(ld)[0] == full[b * 5:]


def test_readme_resume_loop(packed):
    """The README's resume loop, executed: restored at batch 3 of epoch 0, it
    runs the 7 remaining batches of epoch 0 and then epoch 1 in full (before,
    set_epoch discarded the position: 10 + 10)."""
    import re
    import types
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"```python\n(\s*loader = pvpack.Loader\(\"/data/train.pvpack\", "
                  r"batch_size=256\)\n\s*start = 0\n.*?)```", text, re.S)
    assert m, "README has no resume loop"
    code = "\n".join(line[2:] for line in m.group(1).splitlines())
    code = code.replace('"/data/train.pvpack", batch_size=256',
                        'PACKED, batch_size=5, size=16, threads=2, seed=7, output="numpy"')

    class Counting(pvpack.Loader):
        delivered = []

        def __iter__(self):
            for x in super().__iter__():
                Counting.delivered.append((self.epoch, self._next_batch - 1))
                yield x

    src = pvpack.Loader(packed, batch_size=5, size=16, threads=2, seed=7, output="numpy")
    it = iter(src)
    for _ in range(3):
        next(it)
    ns = {"pvpack": types.SimpleNamespace(Loader=Counting), "PACKED": packed, "epochs": 2,
          "ckpt": {"loader": src.state_dict()}}
    exec(compile(code, "README.md", "exec"), ns)
    assert Counting.delivered == [(0, b) for b in range(3, 10)] + [(1, b) for b in range(10)]


_RANK_SCRIPT = r"""
import json, sys, warnings
import numpy as np, torch, torch.distributed as dist
import pvpack
packed, store, rank = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(100 + rank)            # every rank its own torch seed
dist.init_process_group("gloo", init_method="file://" + store, rank=rank, world_size=2)
ld = pvpack.Loader(packed, batch_size=5, size=16, threads=1, output="numpy",
                   distributed=True)     # seed=None: rank 0's, shared
recs = [int(r) for b in ld.batches() for r in np.frombuffer(b.records, np.uint64)]
print(json.dumps({"seed": ld.seed, "world": ld.world_size, "recs": recs}))
dist.destroy_process_group()
"""


def test_seed_none_is_shared_by_the_ranks(packed, tmp_path):
    """Sharded with seed=None, the ranks take rank 0's seed (torch.distributed
    broadcast), so their shares of one global order do not overlap; without
    torch.distributed, a sharded loader asks for a seed."""
    import json
    import subprocess
    import sys
    pytest.importorskip("torch")
    procs = [subprocess.Popen([sys.executable, "-c", _RANK_SCRIPT, packed,
                               str(tmp_path / "store"), str(r)], stdout=subprocess.PIPE,
                              text=True) for r in range(2)]
    out = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert out[0]["seed"] == out[1]["seed"] == 100 and out[0]["world"] == 2
    a, b = out[0]["recs"], out[1]["recs"]
    assert len(a) == len(b) == 24 and len(set(a) | set(b)) == N_IMAGES  # one repeat: padding
    with pytest.raises(ValueError, match="seed"):
        pvpack.Loader(packed, rank=0, world_size=2, output="numpy")


def test_version_1_state_still_loads(packed):
    """A state of the previous format (version 1: no dataset identity, no
    sequence options) resumes, with a warning that those are not checked."""
    ld = small(packed)
    it = ld.batches()
    next(it), next(it)
    v2 = ld.state_dict()
    v1 = {k: v2[k] for k in ("epoch", "batch", "seed", "batch_size", "rank", "world_size",
                             "order", "batches_per_epoch", "records")}
    v1["version"] = 1
    fresh = small(packed)
    with pytest.warns(UserWarning, match="version-1"):
        fresh.load_state_dict(v1)
    assert recs(fresh.batches()) == recs(small(packed).batches())[2:]
    with pytest.raises(ValueError, match="seed"), pytest.warns(UserWarning):
        small(packed, seed=8).load_state_dict(v1)
    with pytest.raises(ValueError, match="version"):
        small(packed).load_state_dict(dict(v1, version=7))


def test_interrupt_after_a_batch_left_c_loses_nothing(packed):
    """Ctrl-C can land after the C loader handed a batch out and before the
    binding counted it: the next iteration repositions the C loader and runs
    the whole epoch (the batch the caller never got is not skipped), and the
    state says nothing was delivered."""
    ref = recs(small(packed).batches())
    ld = small(packed)
    real = ld._source.next

    def next_then_interrupt(core):
        real(core)  # the batch leaves the C loader...
        raise KeyboardInterrupt  # ...and never reaches the caller

    ld._source.next = next_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        next(iter(ld))
    del ld._source.next
    assert (ld.state_dict()["epoch"], ld.state_dict()["batch"]) == (0, 0)
    assert recs(ld.batches()) == ref
