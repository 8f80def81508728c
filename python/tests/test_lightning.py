"""pvpack.Loader under a real lightning.Trainer (issue 12): Lightning's epoch k
is pvpack's epoch k on fit, on resume from an epoch-end and from a mid-epoch
checkpoint, with reload_dataloaders_every_n_epochs; overfit_batches and
limit_val_batches see the same batches every epoch; under 2-process DDP the
ranks share one global order.

The DataModule is the README's (its code block is executed here). Skipped when
lightning is not installed, unless PV_REQUIRE_LIGHTNING=1 (CI), where a missing
lightning fails."""
import hashlib
import os
import re
import warnings

import numpy as np
import pytest

import pvpack
from conftest import N_IMAGES

if os.environ.get("PV_REQUIRE_LIGHTNING") == "1":
    import lightning as L  # noqa: F401  (CI: must be there)
else:
    L = pytest.importorskip("lightning")
torch = pytest.importorskip("torch")

# Debian's torch 1.13 on Python 3.11: torch.distributed._shard does not import
# (a dataclass default Python 3.11 refuses), and Lightning 2.2 imports it for
# torch < 2.1 to register ShardedTensor state-dict hooks, which these tests
# do not use. Skip that registration there, nothing else.
try:
    import torch.distributed._shard.sharded_tensor  # noqa: F401
except Exception:  # ValueError on that combination
    L.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = \
        lambda self: None

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
KW = dict(batch_size=5, size=8, threads=2, seed=3)


def digest(x, y):
    """One batch, as a short hash of its images and labels."""
    return hashlib.sha1(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest()[:16]


def readme_datamodule():
    """The README's PvpackData, executed from its code block."""
    text = open(README, encoding="utf-8").read()
    m = re.search(r"```python\n(\s*import lightning as L\n.*?)```", text, re.S)
    assert m, "README has no Lightning DataModule block"
    code = "\n".join(line[2:] if line.startswith("  ") else line
                     for line in m.group(1).splitlines())
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    return ns["PvpackData"]


class Recorder(L.LightningModule):
    """A tiny model; records (epoch, batch digest) of every train / val batch."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3 * 8 * 8, 4)
        self.train_seen, self.val_seen = [], []

    def training_step(self, batch, i):
        x, y = batch
        self.train_seen.append((self.current_epoch, digest(x, y)))
        return torch.nn.functional.cross_entropy(self.lin(x.flatten(1)), y % 4)

    def validation_step(self, batch, i):
        x, y = batch
        self.val_seen.append((self.current_epoch, digest(x, y)))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def trainer(tmp_path, **kw):
    args = dict(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                enable_model_summary=False, enable_checkpointing=False,
                default_root_dir=str(tmp_path), num_sanity_val_steps=0,
                limit_val_batches=0)
    args.update(kw)
    return L.Trainer(**args)


def expected(packed, epoch, **kw):
    """pvpack's epoch `epoch` (a fresh loader made at it): each batch's digest."""
    ld = pvpack.Loader(packed, **dict(KW, **kw), epoch=epoch)
    return [digest(x, y) for x, y in ld]


def by_epoch(seen):
    out = {}
    for e, r in seen:
        out.setdefault(e, []).append(r)
    return out


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_fit_epochs_are_pvpack_epochs(packed, tmp_path):
    PvpackData = readme_datamodule()
    m = Recorder()
    trainer(tmp_path, max_epochs=3).fit(m, datamodule=PvpackData(packed, packed, **KW))
    got = by_epoch(m.train_seen)
    assert sorted(got) == [0, 1, 2]
    for e in range(3):
        assert got[e] == expected(packed, e), e


def test_reload_every_epoch(packed, tmp_path):
    PvpackData = readme_datamodule()
    m = Recorder()
    trainer(tmp_path, max_epochs=3, reload_dataloaders_every_n_epochs=1).fit(
        m, datamodule=PvpackData(packed, packed, **KW))
    got = by_epoch(m.train_seen)
    assert [got[e] for e in range(3)] == [expected(packed, e) for e in range(3)]


def test_resume_from_epoch_end_checkpoint(packed, tmp_path):
    PvpackData = readme_datamodule()
    ck = L.pytorch.callbacks.ModelCheckpoint(dirpath=str(tmp_path / "ck"), save_top_k=-1,
                                             every_n_epochs=1)
    trainer(tmp_path, max_epochs=2, enable_checkpointing=True, callbacks=[ck]).fit(
        Recorder(), datamodule=PvpackData(packed, packed, **KW))
    path = [p for p in os.listdir(tmp_path / "ck") if p.startswith("epoch=1")]
    assert len(path) == 1, os.listdir(tmp_path / "ck")
    m = Recorder()
    trainer(tmp_path, max_epochs=4).fit(m, datamodule=PvpackData(packed, packed, **KW),
                                        ckpt_path=str(tmp_path / "ck" / path[0]))
    got = by_epoch(m.train_seen)
    assert sorted(got) == [2, 3]
    assert got[2] == expected(packed, 2) and got[3] == expected(packed, 3)


def test_resume_from_mid_epoch_checkpoint(packed, tmp_path):
    """A checkpoint after 3 steps of epoch 0: the resumed run gets batches 3.. of
    epoch 0 (Lightning restores the loader's state_dict), then epoch 1."""
    PvpackData = readme_datamodule()
    ck = L.pytorch.callbacks.ModelCheckpoint(dirpath=str(tmp_path / "ck"), save_top_k=-1,
                                             every_n_train_steps=3)
    trainer(tmp_path, max_epochs=1, enable_checkpointing=True, callbacks=[ck]).fit(
        Recorder(), datamodule=PvpackData(packed, packed, **KW))
    path = str(tmp_path / "ck" / "epoch=0-step=3.ckpt")
    assert os.path.exists(path), os.listdir(tmp_path / "ck")
    m = Recorder()
    trainer(tmp_path, max_epochs=2).fit(m, datamodule=PvpackData(packed, packed, **KW),
                                        ckpt_path=path)
    got = by_epoch(m.train_seen)
    assert got[0] == expected(packed, 0)[3:]
    assert got[1] == expected(packed, 1)


def test_overfit_batches_same_batches_every_epoch(packed, tmp_path):
    class Data(L.LightningDataModule):
        def __init__(self, order):
            super().__init__()
            self.order = order

        def train_dataloader(self):
            return pvpack.Loader(packed, order=self.order, **KW)

    m = Recorder()
    trainer(tmp_path, max_epochs=3, overfit_batches=2).fit(m, datamodule=Data("sequential"))
    got = by_epoch(m.train_seen)
    # pvpack's first two sequential batches of each epoch (records 0..9; the
    # augmentation is each epoch's, as a DataLoader's random transforms are)
    assert [got[e] for e in range(3)] == [expected(packed, e, order="sequential")[:2]
                                          for e in range(3)]
    assert expected(packed, 0, order="sequential")[:2] != expected(packed, 0)[:2]
    # a shuffling train loader: Lightning cannot swap its sampler, and says so
    # (it no longer silently overfits on fresh batches every epoch)
    with pytest.raises(ValueError, match="DataLoader"):
        trainer(tmp_path, max_epochs=1, overfit_batches=2).fit(Recorder(),
                                                               datamodule=Data("shuffle"))


def test_limit_val_batches_scores_the_same_batches(packed, tmp_path):
    PvpackData = readme_datamodule()
    m = Recorder()
    trainer(tmp_path, max_epochs=3, limit_val_batches=2, limit_train_batches=2).fit(
        m, datamodule=PvpackData(packed, packed, **KW))
    got = by_epoch(m.val_seen)
    first = expected(packed, 0, pipeline="eval", order="sequential")[:2]
    assert [got[e] for e in range(3)] == [first] * 3


def test_seed_everything_decides_the_order(packed, tmp_path):
    """seed=None follows Lightning's seed_everything (torch.initial_seed())."""
    L.seed_everything(1234)
    ld = pvpack.Loader(packed, **dict(KW, seed=None))
    assert ld.seed == 1234


_DDP_SCRIPT = r'''
import json, os, sys, warnings
warnings.simplefilter("ignore")
import torch, lightning as L
import pvpack
try:
    import torch.distributed._shard.sharded_tensor  # noqa: F401
except Exception:  # Debian's torch 1.13 on Python 3.11, as in test_lightning.py
    L.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None
packed, out = sys.argv[1], sys.argv[2]


class M(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3 * 8 * 8, 4)

    def training_step(self, batch, i):
        x, y, r = batch
        with open(os.path.join(out, f"rank{self.global_rank}.jsonl"), "a") as f:
            f.write(json.dumps([self.current_epoch, r.tolist()]) + "\n")
        return torch.nn.functional.cross_entropy(self.lin(x.flatten(1)), y % 4)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


class D(L.LightningDataModule):
    def train_dataloader(self):  # no seed, no seed_everything: rank 0's is shared
        ld = pvpack.Loader(packed, batch_size=5, size=8, threads=1, distributed=True,
                           with_records=True)
        with open(os.path.join(out, f"loader{ld.rank}.json"), "w") as f:
            json.dump([ld.seed, ld.rank, ld.world_size], f)
        return ld


if __name__ == "__main__":
    L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=2, logger=False,
              enable_progress_bar=False, enable_model_summary=False,
              enable_checkpointing=False).fit(M(), datamodule=D())
'''


def test_ddp_two_ranks_share_one_order(packed, tmp_path):
    """strategy='ddp_spawn' on 2 CPU processes: distributed=True takes
    Lightning's process group, the ranks share rank 0's seed (no
    seed_everything), each epoch k is pvpack's epoch k split as
    DistributedSampler splits it: together every record, disjoint but for the
    padding."""
    import json
    import subprocess
    import sys
    script = tmp_path / "ddp.py"
    script.write_text(_DDP_SCRIPT)
    p = subprocess.run([sys.executable, str(script), packed, str(tmp_path)], timeout=300,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    info = [json.loads((tmp_path / f"loader{r}.json").read_text()) for r in range(2)]
    seed = info[0][0]
    assert info == [[seed, 0, 2], [seed, 1, 2]]
    seen = {}
    for r in range(2):
        for line in (tmp_path / f"rank{r}.jsonl").read_text().splitlines():
            e, recs = json.loads(line)
            seen.setdefault((e, r), []).extend(recs)
    for e in range(2):
        for r in range(2):
            ref = pvpack.Loader(packed, batch_size=5, size=8, rank=r, world_size=2, seed=seed,
                                output="numpy")
            assert seen[(e, r)] == [ref.sample_record(e, k) for k in range(ref.samples_per_epoch)]
        both = seen[(e, 0)] + seen[(e, 1)]
        assert set(both) == set(range(N_IMAGES)) and len(both) == N_IMAGES + 1
    assert seen[(0, 0)] != seen[(1, 0)]
