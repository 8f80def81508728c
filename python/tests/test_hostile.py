"""Hostile and changing datasets through Dataset[i] and Loader (issue 9,
items 8-10): a shard label of 4294967295 whose checksums were recomputed
(refused at open), the same label written into a shard while the dataset is
open (refused at record access), a shard truncated under an open Dataset,
and a FIFO named index.pvi (refused without blocking).

The fixtures are the session's packed dataset, copied and rewritten with
the byte layout of spec/FORMAT.md; checksums are recomputed with the
library's own XXH3 (pv_checksum, exported by the extension module)."""
import ctypes
import os
import shutil
import struct
import subprocess
import sys

import pytest

import pvpack
from pvpack import _pvpack

from conftest import N_IMAGES


def _checksum():
    try:
        f = ctypes.CDLL(_pvpack.__file__).pv_checksum
    except (OSError, AttributeError):
        pytest.skip("pv_checksum is not exported by the extension module")
    f.restype = ctypes.c_uint64
    f.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return lambda b: f(bytes(b), len(b))


def _entry_offset(data, j):
    """File offset of record-table entry j of a shard held in data."""
    table_offset = struct.unpack_from("<Q", data, len(data) - 64)[0]
    return table_offset + 40 * j


def _first_record(data):
    return struct.unpack_from("<Q", data, 40)[0]


def _reseal_shard(data, xxh3):
    """Recomputes the table and footer checksums; returns the footer's."""
    n = len(data)
    ft = n - 64
    toff, count = struct.unpack_from("<QI", data, ft)
    struct.pack_into("<Q", data, ft + 32, xxh3(data[toff:toff + 40 * count]))
    fsum = xxh3(data[ft:ft + 48])
    struct.pack_into("<Q", data, ft + 48, fsum)
    return fsum


def _reseal_index(ix, shard, footer_sum, xxh3):
    """Stores shard's new footer checksum in the index and reseals it."""
    off0, size0 = struct.unpack_from("<QQ", ix, 64)  # section 0: shard references
    struct.pack_into("<Q", ix, off0 + 32 * shard + 24, footer_sum)
    struct.pack_into("<Q", ix, 64 + 16, xxh3(ix[off0:off0 + size0]))
    hsum = xxh3(ix[:248])
    struct.pack_into("<Q", ix, 248, hsum)
    struct.pack_into("<Q", ix, len(ix) - 16, hsum)


def _shards(root):
    return sorted(f for f in os.listdir(root) if f.startswith("shard-"))


def test_label_out_of_range_refused_at_open(packed, tmp_path):
    xxh3 = _checksum()
    bad = str(tmp_path / "label.pvpack")
    shutil.copytree(packed, bad)
    shard = os.path.join(bad, "shard-00001.pvs")
    data = bytearray(open(shard, "rb").read())
    first = _first_record(data)
    struct.pack_into("<I", data, _entry_offset(data, 2) + 12, 0xFFFFFFFF)
    fsum = _reseal_shard(data, xxh3)
    open(shard, "wb").write(bytes(data))
    ixp = os.path.join(bad, "index.pvi")
    ix = bytearray(open(ixp, "rb").read())
    _reseal_index(ix, 1, fsum, xxh3)
    open(ixp, "wb").write(bytes(ix))
    for make in (lambda: pvpack.Dataset(bad), lambda: pvpack.Loader(bad, batch_size=4, size=16)):
        with pytest.raises(pvpack.Error) as e:
            make()
        assert e.value.status_name == "PV_ERR_CORRUPT"
        msg = str(e.value)
        assert "shard-00001.pvs" in msg and f"record {first + 2} " in msg
        assert "label 4294967295 out of range" in msg


def test_label_rewritten_after_open(packed, tmp_path):
    """The reader does not trust a table entry it validated at open: a label
    written into the mapped shard afterwards never reaches a batch."""
    bad = str(tmp_path / "live.pvpack")
    shutil.copytree(packed, bad)
    last = os.path.join(bad, _shards(bad)[-1])
    data = open(last, "rb").read()
    first = _first_record(data)
    count = struct.unpack_from("<I", data, len(data) - 64 + 8)[0]
    victim = first + count - 1  # the last record of the dataset
    assert victim == N_IMAGES - 1
    ds = pvpack.Dataset(bad)
    ld = pvpack.Loader(ds, batch_size=5, size=16, threads=2, order="sequential",
                       dtype="uint8", layout="NHWC", output="numpy", rank=0, world_size=1,
                       prefetch=1)
    it = iter(ld)
    next(it)  # the loader runs: batches 0 and 1 are done or in flight
    with open(last, "r+b") as f:  # in place: same inode, checksums stale
        f.seek(_entry_offset(data, count - 1) + 12)
        f.write(struct.pack("<I", 0xFFFFFFFF))
    with pytest.raises(pvpack.Error) as e:
        ds[victim]
    assert e.value.status_name == "PV_ERR_CORRUPT"
    assert "label 4294967295 out of range" in str(e.value)
    assert f"record {victim}" in str(e.value)
    with pytest.raises(pvpack.Error) as e:
        ds.label(victim)
    assert e.value.status_name == "PV_ERR_CORRUPT"
    with pytest.raises(pvpack.Error) as e:
        for _ in it:
            pass
    assert e.value.status_name == "PV_ERR_CORRUPT"
    assert os.path.basename(last) in str(e.value)
    img, label = ds[0]  # the rest of the dataset is still readable
    assert 0 <= label < len(ds.classes)


_TRUNCATE_SCRIPT = r"""
import os, sys, pvpack
root, shard = sys.argv[1], sys.argv[2]
ds = pvpack.Dataset(root)
info = [ds.record_info(i) for i in range(len(ds))]
victims = [i for i, r in enumerate(info) if r["shard"] == int(shard)]
os.truncate(os.path.join(root, f"shard-{int(shard):05d}.pvs"), 4096)
try:
    ds[victims[-1]]
except pvpack.Error as e:
    print(e.status_name, str(e))
else:
    print("no error")
ds[0]
print("alive")
"""


def test_shard_truncated_under_dataset(packed, tmp_path):
    """Dataset[i] on a shard truncated after open: an error naming the shard
    and how it changed, not SIGBUS (run in a child so a signal shows)."""
    bad = str(tmp_path / "trunc.pvpack")
    shutil.copytree(packed, bad)
    k = len(_shards(bad)) - 1
    size = os.path.getsize(os.path.join(bad, f"shard-{k:05d}.pvs"))
    assert size > 8192
    r = subprocess.run([sys.executable, "-c", _TRUNCATE_SCRIPT, bad, str(k)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.startswith("PV_ERR_CHANGED"), r.stdout
    assert f"shard-{k:05d}.pvs changed size while mapped (was {size}, now 4096)" in r.stdout
    assert r.stdout.rstrip().endswith("alive")


def test_fifo_index_refused(tmp_path):
    """A FIFO named index.pvi: refused at once (the child would block in
    open() forever otherwise: nobody writes to the FIFO)."""
    root = str(tmp_path / "fifo.pvpack")
    os.mkdir(root)
    os.mkfifo(os.path.join(root, "index.pvi"))
    code = ("import pvpack, sys\n"
            "try:\n    pvpack.Dataset(sys.argv[1])\n"
            "except pvpack.Error as e:\n    print(e.status_name, str(e))\n")
    r = subprocess.run([sys.executable, "-c", code, root], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("PV_ERR_IO") and "is a FIFO, not a regular file" in r.stdout


_LIMIT_FLAGS = ("--max-record-pixels", "--max-record-bytes", "--max-decoder-memory",
                "--max-scans")
_LIMIT_NAMES = ("max_record_pixels", "max_record_bytes", "max_decoder_memory", "max_scans")


def _status_of(fn):
    try:
        fn()
    except pvpack.Error as e:
        return e.status_name
    return "PV_OK"


def _loader_batch(root, pipeline, kw):
    ld = pvpack.Loader(root, batch_size=1, size=64, threads=1, prefetch=1, pipeline=pipeline,
                       output="numpy", dtype="uint8", layout="NHWC", rank=0, world_size=1, **kw)
    try:
        next(iter(ld))
    finally:
        ld.close()


def _status_texts():
    """status name -> pv_strerror text, for the statuses the library has."""
    texts = {}
    for st in range(-64, 1):
        name, msg = _pvpack.strerror(st)
        texts.setdefault(name, msg)
    return texts


def _cli_status(argv):
    """verify names the status ("[PV_ERR_LIMIT]"), get prints pv_strerror's text."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        return "PV_OK"
    out = r.stdout + r.stderr
    texts = _status_texts()
    for name in ("PV_ERR_LIMIT", "PV_ERR_DECODE"):
        if name in out or texts[name] in out:
            return name
    return f"exit {r.returncode}: {out.strip()}"


def test_codec_cases_agree(tmp_path):
    """Issue 10, point 2: hostile (and good) payloads of every codec of the
    codec table (tests/hostile_codecs.c) give the same status through
    Dataset[i], the Loader's three pipelines, `pvpack get` and `pvpack
    verify --decode` (the C paths: tests/test_hostile_decode.c)."""
    tool = os.environ.get("PV_MAKE_HOSTILE")
    cli = os.environ.get("PVPACK_BIN")
    if not tool or not cli:
        pytest.skip("PV_MAKE_HOSTILE / PVPACK_BIN not set: run through ctest")
    root = tmp_path / "cases"
    root.mkdir()
    subprocess.run([tool, "codec-cases", str(root)], check=True)
    lines = (root / "cases.tsv").read_text().splitlines()
    assert len(lines) >= 30
    codecs = {}
    bad = []
    for line in lines:
        name, want, codec, *limits = line.split("\t")
        d = str(root / name)
        kw = {} if limits[0] == "-" else {k: int(v) for k, v in zip(_LIMIT_NAMES, limits)}
        flags = [] if not kw else [x for f, v in zip(_LIMIT_FLAGS, limits) for x in (f, v)]
        got = {
            "Dataset[i]": _status_of(lambda: pvpack.Dataset(d, **kw)[0]),
            "get": _cli_status([cli, "get", d, "0", "-o", str(tmp_path / f"{name}.out")] + flags),
            "verify --decode": _cli_status([cli, "verify", d, "--decode", "--threads", "1"] +
                                           flags),
        }
        for p in ("train", "eval", "none"):
            got[f"Loader {p}"] = _status_of(lambda: _loader_batch(d, p, kw))
        for path, st in got.items():
            if st != want:
                bad.append(f"{name}: {path} gave {st}, want {want}")
        codecs.setdefault(codec, set()).add(want)
    assert not bad, "\n".join(bad)
    # every codec of the format, with payloads accepted and refused
    assert {"raw", "jpeg", "zstd"} <= set(codecs)
    for codec, wants in codecs.items():
        assert "PV_OK" in wants and "PV_ERR_LIMIT" in wants, (codec, wants)
    assert "PV_ERR_DECODE" in codecs["jpeg"] and "PV_ERR_DECODE" in codecs["zstd"]
