"""examples/distributed/ray_pack.py and spark_pack.py run as a user runs them
(N = 4 parts on a local Ray cluster of 2 CPUs, on PySpark's local[2]), then the
merged dataset against a one-machine build of the same tree and options: the
same records (payload bytes, labels, sizes, source paths, order), bit-identical
loader batches for one seed, `pvpack verify` clean, nothing left in parts/.

Without ray or pyspark installed these skip, unless PV_REQUIRE_ENGINES=1 (CI
sets it): then they fail, so CI never skips them silently."""
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import pvpack
from conftest import N_IMAGES
from test_parts import _records

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                        "distributed")
N = 4
OPTS = {"shard_size": 40 * 1024, "seed": 5}


def _need(module):
    if importlib.util.find_spec(module) is None:
        if os.environ.get("PV_REQUIRE_ENGINES") == "1":
            pytest.fail(f"{module} is not importable by {sys.executable}, and "
                        "PV_REQUIRE_ENGINES=1")
        pytest.skip(f"{module} not installed (pip install {module}; "
                    "PV_REQUIRE_ENGINES=1 makes this a failure)")


@pytest.fixture(scope="module")
def whole(tree, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("whole") / "whole.pvpack")
    pvpack.build(tree, out, quiet=True, **OPTS)
    return out


def _batches(d):
    """[(records, labels, sha256 of the pixels)] of two epochs, seed 11."""
    ld = pvpack.Loader(d, batch_size=5, size=(24, 20), threads=2, dtype="uint8",
                       layout="NHWC", output="numpy", seed=11)
    out = []
    for epoch in range(2):
        ld.set_epoch(epoch)
        for b in ld.batches():
            out.append((np.frombuffer(b.records, np.uint64).tolist(),
                        np.frombuffer(b.labels, np.int64).tolist(),
                        hashlib.sha256(np.asarray(b).tobytes()).hexdigest()))
            del b
    return out


@pytest.mark.parametrize("engine,script,args", [
    ("ray", "ray_pack.py", ["--num-cpus", "2", "--cpus", "1"]),
    ("pyspark", "spark_pack.py", ["--master", "local[2]", "--cpus", "1"]),
])
def test_engine_example_matches_one_machine(engine, script, args, tree, whole, tmp_path):
    _need(engine)
    out = str(tmp_path / f"{engine}.pvpack")
    sets = [x for k, v in OPTS.items() for x in ("--set", f"{k}={v}")]
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), tree, out, str(N),
                        *args, *sets], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"{N} parts, {N_IMAGES} images" in r.stdout, r.stdout
    assert not os.path.exists(os.path.join(out, "parts"))  # no part, lock or attempt left

    _same_as_whole(out, whole)


def _same_as_whole(out, whole):
    assert _records(out) == _records(whole)
    assert _batches(out) == _batches(whole)
    cli = os.environ.get("PVPACK_BIN") or shutil.which("pvpack")
    assert cli, "no pvpack command (PVPACK_BIN) to verify with"
    v = subprocess.run([cli, "verify", out, "--json"], capture_output=True, text=True,
                       timeout=120)
    assert v.returncode == 0, v.stdout + v.stderr
    rep = json.loads(v.stdout)
    assert rep["problem_total"] == 0


# Two attempts of part 1 running together on the engine, released at once by
# a barrier (what a retry beside a first attempt that is not dead, or Spark
# speculation, does), then the other parts, then the merge: both attempts
# succeed, nothing is left in parts/, the result is the usual.
_DUP_COMMON = """
import os, sys, time
import pvpack
src, out, opts, bar = sys.argv[1], sys.argv[2], eval(sys.argv[3]), sys.argv[4]
def attempt(k):
    return pvpack.build(src, out, part=(k, 4), threads=1, quiet=True, **opts).images
def together(who):  # both attempts of part 1 wait for each other (60 s at most)
    open(os.path.join(bar, str(who)), "w").close()
    t = time.monotonic()
    while len(os.listdir(bar)) < 2 and time.monotonic() - t < 60:
        time.sleep(0.002)
    return attempt(1)
"""
_DUP = {
    "ray": _DUP_COMMON + """
import ray
ray.init(num_cpus=2)
dup, task = ray.remote(num_cpus=1)(together), ray.remote(num_cpus=1)(attempt)
print("dup", ray.get([dup.remote(0), dup.remote(1)]))
print("rest", ray.get([task.remote(k) for k in (0, 2, 3)]))
pvpack.merge(out)
""",
    "pyspark": _DUP_COMMON + """
from pyspark import SparkConf, SparkContext
sc = SparkContext(conf=SparkConf().setMaster("local[2]").setAppName("dup")
                  .set("spark.ui.showConsoleProgress", "false"))
sc.setLogLevel("ERROR")
print("dup", sc.parallelize([0, 1], 2).map(together).collect())
print("rest", sc.parallelize([0, 2, 3], 3).map(attempt).collect())
sc.stop()
pvpack.merge(out)
""",
}


@pytest.mark.parametrize("engine", ["ray", "pyspark"])
def test_engine_duplicate_attempts(engine, tree, whole, tmp_path):
    _need(engine)
    out = str(tmp_path / f"{engine}-dup.pvpack")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    bar = tmp_path / "barrier"
    bar.mkdir()
    r = subprocess.run([sys.executable, "-c", _DUP[engine], tree, out, repr(OPTS), str(bar)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    dup = [line for line in r.stdout.splitlines() if line.startswith("dup ")]
    assert len(dup) == 1, r.stdout
    # each attempt packed the part (one kept, one discarded) or found it
    # complete (0 images)
    counts = eval(dup[0][4:])
    assert len(counts) == 2 and max(counts) > 0, dup
    assert len(os.listdir(bar)) == 2  # both ran
    assert not os.path.exists(os.path.join(out, "parts"))
    _same_as_whole(out, whole)
