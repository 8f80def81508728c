"""pvpack.Dataset and pvpack.build."""
import filecmp
import os
import subprocess

import numpy as np
import pytest

import pvpack
from conftest import CLASSES, N_IMAGES


def test_dataset_access(packed, tree):
    ds = pvpack.Dataset(packed)
    assert len(ds) == N_IMAGES
    assert ds.classes == sorted(CLASSES)
    assert ds.class_to_idx == {c: i for i, c in enumerate(sorted(CLASSES))}
    assert sum(ds.class_counts) == N_IMAGES
    seen = set()
    from PIL import Image
    for i in range(len(ds)):
        img, label = ds[i]
        info = ds.record_info(i)
        assert isinstance(img, np.ndarray) and img.dtype == np.uint8
        assert img.shape == (info["height"], info["width"], 3)
        src = ds.source_path(i)
        seen.add(src)
        cls = src.split("/")[0]
        assert label == ds.class_to_idx[cls] == ds.label(i) == info["label"]
        # The pixels of the source: these JPEGs need no resize, so they are
        # stored byte for byte and decode as PIL decodes them; the PNGs are
        # re-encoded as JPEG (quality 90), so they only come close.
        ref = np.asarray(Image.open(os.path.join(tree, src)).convert("RGB"))
        assert ref.shape == img.shape
        diff = np.abs(ref.astype(int) - img.astype(int)).mean()
        assert diff < (1.0 if src.endswith(".jpg") else 8.0), (src, diff)
    assert len(seen) == N_IMAGES
    last, _ = ds[-1]
    assert np.array_equal(last, ds[len(ds) - 1][0])
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(IndexError):
        ds[-len(ds) - 1]
    assert ds.targets == [ds.label(i) for i in range(len(ds))]
    assert ds.build_options.get("seed") == "0"
    assert "records" in repr(ds)


def test_dataset_transform(packed):
    ds = pvpack.Dataset(packed, transform=lambda a: a.shape, target_transform=lambda y: -y - 1)
    shape, t = ds[3]
    assert shape == (ds.record_info(3)["height"], ds.record_info(3)["width"], 3)
    assert t == -ds.label(3) - 1


def test_open_errors(tmp_path):
    with pytest.raises(pvpack.Error) as e:
        pvpack.Dataset(str(tmp_path))
    assert e.value.status_name == "PV_ERR_NOT_FOUND"
    assert e.value.status < 0
    (tmp_path / "index.pvi").write_bytes(b"not an index at all, just some bytes" * 4)
    with pytest.raises(pvpack.Error) as e:
        pvpack.Dataset(str(tmp_path))
    assert e.value.status_name in ("PV_ERR_NOT_PVPACK", "PV_ERR_TRUNCATED", "PV_ERR_CORRUPT")
    assert "index.pvi" in str(e.value)


def test_build_matches_cli(tree, tmp_path):
    """pvpack.build writes the same bytes as the `pvpack build` command."""
    cli = os.environ.get("PVPACK_BIN")
    if not cli:
        pytest.skip("PVPACK_BIN not set (ctest sets it)")
    a, b = str(tmp_path / "py.pvpack"), str(tmp_path / "cli.pvpack")
    lines = []
    s = pvpack.build(tree, a, codec="auto", shard_size="32K", seed=7, threads=2,
                     log=lambda lv, line: lines.append((lv, line)), progress="none")
    subprocess.run([cli, "build", tree, "-o", b, "--codec", "auto", "--shard-size", "32K",
                    "--seed", "7", "--threads", "1", "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    assert s.images == N_IMAGES and s.skipped == 0 and s.classes == len(CLASSES)
    assert s.shards == len([f for f in os.listdir(a) if f.endswith(".pvs")]) > 1
    assert s.out == a
    files = sorted(os.listdir(a))
    assert files == sorted(os.listdir(b))
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert mismatch == [] and errors == [], mismatch


def test_build_default_output_and_errors(tree, tmp_path):
    import shutil
    src = str(tmp_path / "train")
    shutil.copytree(tree, src)
    os.makedirs(os.path.join(src, "empty_class"))
    lines = []
    s = pvpack.build(src + "/", log=lambda lv, line: lines.append((lv, line)), progress="none")
    assert s.out == src + ".pvpack" and os.path.isdir(s.out)
    assert any(lv == "warn" and "empty_class" in line for lv, line in lines), lines
    with pytest.raises(pvpack.Error) as e:
        pvpack.build(src, progress="none", log=lambda *a: None)
    assert e.value.status_name == "PV_ERR_EXISTS"
    pvpack.build(src, force=True, progress="none", log=lambda *a: None)
    with pytest.raises(pvpack.Error) as e:
        pvpack.build(str(tmp_path / "missing"), str(tmp_path / "o"))
    assert e.value.status_name == "PV_ERR_NOT_FOUND"
    # strict: a broken file fails the build and names it
    with open(os.path.join(src, "ant", "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(pvpack.Error) as e:
        pvpack.build(src, str(tmp_path / "strict"), strict=True, progress="none",
                     log=lambda *a: None)
    assert e.value.status_name == "PV_ERR_SKIPPED"
    s = pvpack.build(src, str(tmp_path / "lenient"), progress="none", log=lambda *a: None)
    assert s.skipped == 1
    assert [p for p, _ in pvpack.Dataset(s.out).skipped] == ["ant/broken.jpg"]
    with pytest.raises(ValueError):
        pvpack.build(src, str(tmp_path / "x"), codec="gif")
    with pytest.raises(ValueError):
        pvpack.build(src, str(tmp_path / "x"), shard_size="lots")


def test_build_ctrl_c_cancels_cleanly(tree, tmp_path):
    """SIGINT during pvpack.build raises KeyboardInterrupt, removes the
    temporary directory and leaves no output."""
    import signal
    import threading
    import time
    src = tmp_path / "big"
    names = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(tree) for f in fs)
    for k in range(40):  # 40 x 47 hard links: long enough to interrupt
        for n in names:
            rel = os.path.relpath(n, tree)
            d = src / os.path.dirname(rel)
            d.mkdir(parents=True, exist_ok=True)
            os.link(n, d / f"{k}_{os.path.basename(rel)}")
    out = tmp_path / "big.pvpack"
    timer = threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        pvpack.build(str(src), str(out), threads=1, quiet=True, keep_original=False)
    timer.join()
    assert time.monotonic() - t0 < 5
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if "tmp" in p] == []
