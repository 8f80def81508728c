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

    assert _records(out) == _records(whole)
    assert _batches(out) == _batches(whole)
    cli = os.environ.get("PVPACK_BIN") or shutil.which("pvpack")
    assert cli, "no pvpack command (PVPACK_BIN) to verify with"
    v = subprocess.run([cli, "verify", out, "--json"], capture_output=True, text=True,
                       timeout=120)
    assert v.returncode == 0, v.stdout + v.stderr
    rep = json.loads(v.stdout)
    assert rep["problem_total"] == 0
