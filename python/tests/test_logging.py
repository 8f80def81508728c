"""build()'s messages through Python: logging.getLogger('pvpack') for
warnings and skips, a progress= callback and tqdm instead of C's fd 2."""
import logging
import os
import sys

import pytest

import pvpack
from conftest import write_tree


@pytest.fixture
def bad_tree(tmp_path):
    """The conftest tree plus an undecodable file, and a class whose only
    file is undecodable (a warning: the class has no packable image)."""
    root = str(tmp_path / "tree")
    write_tree(root)
    with open(os.path.join(root, "ant", "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    os.makedirs(os.path.join(root, "empty"))
    with open(os.path.join(root, "empty", "junk.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n truncated")
    return root


def _records(caplog):
    return [(r.levelno, getattr(r, "pvpack_level", None), r.getMessage())
            for r in caplog.records if r.name == "pvpack"]


def test_skips_and_warnings_go_to_the_logger(bad_tree, tmp_path, caplog, capfd):
    caplog.set_level(logging.INFO, logger="pvpack")
    s = pvpack.build(bad_tree, str(tmp_path / "out"), progress=lambda d, t: None)
    assert s.skipped == 2
    recs = _records(caplog)
    skips = [m for lv, k, m in recs if k == "skip"]
    warns = [m for lv, k, m in recs if k == "warn"]
    assert any("ant/broken.jpg" in m for m in skips) and any("empty/junk.png" in m for m in skips)
    assert any("empty" in m and "no packable image" in m for m in warns)
    assert all(lv == logging.WARNING for lv, k, _ in recs if k in ("skip", "warn"))
    assert capfd.readouterr().err == ""  # nothing from C on fd 2


def test_quiet_keeps_only_warnings(bad_tree, tmp_path, caplog, capfd):
    caplog.set_level(logging.INFO, logger="pvpack")
    pvpack.build(bad_tree, str(tmp_path / "out"), quiet=True)
    kinds = {k for _, k, _ in _records(caplog)}
    assert kinds == {"warn"}
    assert capfd.readouterr().err == ""


def test_log_callback_still_wins(bad_tree, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="pvpack")
    lines = []
    pvpack.build(bad_tree, str(tmp_path / "out"), progress="none",
                 log=lambda lv, line: lines.append(lv))
    assert "skip" in lines and "warn" in lines and _records(caplog) == []


def test_progress_callback(tree, tmp_path, capfd):
    calls = []
    s = pvpack.build(tree, str(tmp_path / "out"), progress=lambda d, t: calls.append((d, t)))
    assert calls, "no progress call"
    assert calls[-1] == (s.files, s.files)
    assert all(t == s.files for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert capfd.readouterr().err == ""
    with pytest.raises(TypeError, match="progress must be"):
        pvpack.build(tree, str(tmp_path / "out2"), progress=3)
    with pytest.raises(ValueError, match="progress must be one of"):
        pvpack.build(tree, str(tmp_path / "out3"), progress="bars")


FAKE_TQDM = '''
created = []
class tqdm:
    def __init__(self, total=None, desc=None, unit=None):
        self.total, self.desc, self.n, self.closed = total, desc, 0, False
        created.append(self)
    def update(self, k):
        self.n += k
    def close(self):
        self.closed = True
'''


@pytest.fixture
def fake_tqdm(tmp_path, monkeypatch):
    pkg = tmp_path / "fake" / "tqdm"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "auto.py").write_text(FAKE_TQDM)
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    for m in ("tqdm", "tqdm.auto"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    yield
    for m in ("tqdm", "tqdm.auto"):
        sys.modules.pop(m, None)


def test_tqdm_auto_by_default_when_installed(tree, tmp_path, fake_tqdm, capfd):
    s = pvpack.build(tree, str(tmp_path / "out"))
    import tqdm.auto
    bars = tqdm.auto.created
    assert len(bars) == 1 and bars[0].total == s.files and bars[0].n == s.files
    assert bars[0].closed and bars[0].desc == "imagefolder"
    assert capfd.readouterr().err == ""
    pvpack.build(tree, str(tmp_path / "out2"), progress="none")
    pvpack.build(tree, str(tmp_path / "out3"), quiet=True)
    assert len(tqdm.auto.created) == 1  # explicit choices are C's, quiet is quiet
    pvpack.build(tree, str(tmp_path / "out4"), progress="tqdm")
    assert len(tqdm.auto.created) == 2


def test_real_tqdm(tree, tmp_path):
    pytest.importorskip("tqdm")
    s = pvpack.build(tree, str(tmp_path / "out"), progress="tqdm")
    assert s.images > 0
