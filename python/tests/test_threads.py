"""The loader's default thread count: the CPUs this process may use
(affinity, cgroup quota) divided among the ranks on this machine
(LOCAL_WORLD_SIZE), not all cores per loader."""
import os

import pytest

import pvpack
from pvpack import _pvpack
import pvpack._loader as L


@pytest.fixture
def affinity():
    """Restores this process's CPU affinity after the test."""
    saved = os.sched_getaffinity(0)
    yield saved
    os.sched_setaffinity(0, saved)


def test_default_is_the_cpus_this_process_may_use(packed, monkeypatch, affinity):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    cpus = _pvpack.available_cpus()
    assert 1 <= cpus <= len(affinity)
    assert pvpack.Loader(packed, batch_size=4, size=16).threads == cpus
    os.sched_setaffinity(0, {min(affinity)})       # taskset -c N
    assert _pvpack.available_cpus() == 1
    ld = pvpack.Loader(packed, batch_size=4, size=16)
    assert ld.threads == 1 and len(list(ld)) == len(ld)
    assert pvpack.Loader(packed, batch_size=4, size=16, threads=3).threads == 3


def test_local_world_size_divides(packed, monkeypatch, affinity):
    cpus = _pvpack.available_cpus()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    want = max(1, cpus // 2) if len(affinity) >= (os.cpu_count() or 1) else cpus
    assert pvpack.Loader(packed, batch_size=4, size=16).threads == want
    assert pvpack.default_threads() == want
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(4 * cpus))  # more ranks than CPUs: 1 each
    assert pvpack.Loader(packed, batch_size=4, size=16).threads == 1
    assert pvpack.Loader(packed, batch_size=4, size=16, threads=2).threads == 2  # explicit wins
    for bad in ("x", "0", "-2"):
        monkeypatch.setenv("LOCAL_WORLD_SIZE", bad)
        with pytest.raises(ValueError, match="LOCAL_WORLD_SIZE"):
            pvpack.Loader(packed, batch_size=4, size=16)


def test_division_on_a_larger_machine(monkeypatch):
    """16 CPUs, 4 ranks per node: 4 threads each; a rank already bound to 4
    of the 16 CPUs (its share) keeps its 4; a cgroup quota of 8 CPUs gives 2."""
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(L._pvpack, "available_cpus", lambda: 16)
    assert L.default_threads() == 4
    monkeypatch.setattr(L._pvpack, "available_cpus", lambda: 8)  # cpu.max quota 8
    assert L.default_threads() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {4, 5, 6, 7})
    monkeypatch.setattr(L._pvpack, "available_cpus", lambda: 4)
    assert L.default_threads() == 4
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(L._pvpack, "available_cpus", lambda: 16)
    assert L.default_threads() == 16
