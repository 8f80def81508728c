"""examples/distributed/k8s/: the Indexed Job that packs N parts and the Job
that merges them. There is no Kubernetes here, so: the manifests' structure
is checked against what the API server requires (by hand, and against the
real OpenAPI schemas when kubernetes-validate is installed), then each pod's
container command is run as the kubelet would run it: the command and args
of the manifest with $(VAR) expanded from the container's env, that env plus
JOB_COMPLETION_INDEX=k, the volume's mount path mapped to a temp dir; the
pods of index 0..N-1 in a shuffled order, `parallelism` at a time; then the
merge Job's init container and container, in order. The result must hold the
records of a one-machine build of the same tree and options.

PyYAML (python3-yaml) and kubernetes-validate missing: these tests skip,
unless PV_REQUIRE_ENGINES=1 (CI), where they fail."""
import copy
import os
import random
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import pvpack

K8S = Path(__file__).resolve().parents[2] / "examples" / "distributed" / "k8s"
REQUIRED = os.environ.get("PV_REQUIRE_ENGINES") == "1"


def _need(module):
    try:
        return __import__(module)
    except ImportError:
        if REQUIRED:
            raise
        pytest.skip(f"{module} is not installed (PV_REQUIRE_ENGINES=1 makes this a failure)")


def _load(name):
    yaml = _need("yaml")
    with open(K8S / name) as f:
        return yaml.safe_load(f)


def _records(d):
    ds = pvpack.Dataset(d)
    out = []
    for i in range(len(ds)):
        info = ds.record_info(i)
        out.append((ds.source_path(i), ds.label(i), info["length"], info["checksum"],
                    info["width"], info["height"], ds[i][0].tobytes()))
    return out


# ---- structure: what the API server would refuse ---------------------------------

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
JOB_SPEC_KEYS = {"completionMode", "completions", "parallelism", "backoffLimit",
                 "backoffLimitPerIndex", "maxFailedIndexes", "activeDeadlineSeconds",
                 "ttlSecondsAfterFinished", "podFailurePolicy", "template", "suspend"}
CONTAINER_KEYS = {"name", "image", "command", "args", "env", "resources", "volumeMounts",
                  "workingDir", "imagePullPolicy", "securityContext"}


def _cpu(q):
    """A CPU quantity ("4", "500m", 2) in millicores."""
    s = str(q)
    return int(s[:-1]) if s.endswith("m") else int(float(s) * 1000)


def _expand(s, env):
    """The kubelet's $(VAR) expansion: $$ is a literal $, an unknown $(X) stays."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


def _env(c):
    env = {}
    for e in c.get("env", []):
        env[e["name"]] = _expand(e["value"], env)
    return env


def _argv(c):
    env = _env(c)
    return [_expand(a, env) for a in c["command"] + c.get("args", [])]


def job_problems(job, indexed):
    """What the API server (or a Job that works) would refuse; [] = none."""
    p = []
    if job.get("apiVersion") != "batch/v1" or job.get("kind") != "Job":
        return ["not apiVersion batch/v1, kind Job"]
    name = job.get("metadata", {}).get("name", "")
    if not (DNS_LABEL.match(name) and len(name) <= 63):
        p.append(f"metadata.name {name!r} is not a DNS label")
    spec = job.get("spec", {})
    p += [f"spec.{k} is not a JobSpec field" for k in set(spec) - JOB_SPEC_KEYS]
    if indexed:
        n, par = spec.get("completions"), spec.get("parallelism", 1)
        if spec.get("completionMode") != "Indexed":
            p.append("completionMode is not Indexed")
        if not isinstance(n, int) or n < 1:
            p.append("completions is not a positive integer")
        elif not isinstance(par, int) or not 1 <= par <= n:
            p.append(f"parallelism {par!r} is not within 1..completions")
    pod = spec.get("template", {}).get("spec", {})
    rp = pod.get("restartPolicy")
    if rp not in ("Never", "OnFailure"):
        p.append(f"restartPolicy {rp!r}: a Job's pods need Never or OnFailure")
    if ("backoffLimitPerIndex" in spec or "podFailurePolicy" in spec) and rp != "Never":
        p.append("backoffLimitPerIndex / podFailurePolicy need restartPolicy Never")
    if "backoffLimitPerIndex" in spec and not indexed:
        p.append("backoffLimitPerIndex needs completionMode Indexed")
    vols = {v.get("name"): v for v in pod.get("volumes", [])}
    boxes = pod.get("initContainers", []) + pod.get("containers", [])
    if not pod.get("containers"):
        p.append("no containers")
    names = [c.get("name") for c in boxes]
    if len(set(names)) != len(names):
        p.append("container names are not unique")
    used = set()
    for c in boxes:
        cn = c.get("name")
        p += [f"{cn}: {k} is not a Container field" for k in set(c) - CONTAINER_KEYS]
        if not (isinstance(cn, str) and DNS_LABEL.match(cn)):
            p.append(f"container name {cn!r} is not a DNS label")
        if not isinstance(c.get("image"), str) or not c.get("image"):
            p.append(f"{cn}: no image")
        argv = c.get("command", []) + c.get("args", [])
        if not c.get("command") or not all(isinstance(a, str) for a in argv):
            p.append(f"{cn}: command/args are not a non-empty list of strings")
        for e in c.get("env", []):
            if set(e) != {"name", "value"} or not isinstance(e["value"], str):
                p.append(f"{cn}: env {e.get('name')!r} needs a string value")
        res = c.get("resources", {})
        req, lim = res.get("requests", {}).get("cpu"), res.get("limits", {}).get("cpu")
        if req is None or lim is None:
            p.append(f"{cn}: no cpu request and limit (pvpack's threads follow the limit)")
        elif _cpu(req) > _cpu(lim):
            p.append(f"{cn}: cpu request above its limit")
        for m in c.get("volumeMounts", []):
            used.add(m.get("name"))
            if m.get("name") not in vols:
                p.append(f"{cn}: volumeMount {m.get('name')!r} names no volume")
            if not str(m.get("mountPath", "")).startswith("/"):
                p.append(f"{cn}: mountPath {m.get('mountPath')!r} is not absolute")
    p += [f"volume {v!r} is never mounted" for v in set(vols) - used]
    for c in pod.get("containers", []) if indexed else []:
        try:
            a = _argv(c)
            parts = a[a.index("--parts") + 1]
        except (KeyError, TypeError, ValueError, IndexError):
            parts = None
        if parts != str(spec.get("completions")):
            p.append(f"{c.get('name')}: --parts {parts} is not completions")
    return p


def _mounts(job):
    pod = job["spec"]["template"]["spec"]
    vols = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    return {(m["mountPath"], vols[m["name"]])
            for c in pod.get("initContainers", []) + pod["containers"]
            for m in c.get("volumeMounts", [])}


def test_manifests_structure():
    pack, merge, pvc = _load("pack-job.yaml"), _load("merge-job.yaml"), _load("pvc.yaml")
    plan = _load("plan-job.yaml")
    assert job_problems(pack, indexed=True) == []
    assert job_problems(merge, indexed=False) == []
    assert job_problems(plan, indexed=False) == []
    # the plan Job plans what the pack Job packs: the same env and arguments
    # (the parts refuse a plan of other options), with --plan
    pc, kc = plan["spec"]["template"]["spec"]["containers"][0], \
        pack["spec"]["template"]["spec"]["containers"][0]
    assert _env(pc) == _env(kc)
    assert [a for a in _argv(pc) if a != "--plan"] == _argv(kc) and "--plan" in _argv(pc)
    assert _mounts(plan) == _mounts(pack)
    assert pvc["apiVersion"] == "v1" and pvc["kind"] == "PersistentVolumeClaim"
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]  # pods on many nodes write
    # every pod mounts the one claim at one path (the plan records SRC's path)
    assert _mounts(pack) == _mounts(merge) == {("/data", pvc["metadata"]["name"])}
    # the merge Job merges, then verifies, the OUT the pack Job writes
    out = _env(pack["spec"]["template"]["spec"]["containers"][0])["OUT"]
    pod = merge["spec"]["template"]["spec"]
    assert [_argv(c) for c in pod["initContainers"] + pod["containers"]] == \
        [["pvpack", "merge", out], ["pvpack", "verify", out, "--decode"]]


@pytest.mark.parametrize("mutate, problem", [
    (lambda j: j["spec"].update(completionMode="NonIndexed"), "completionMode"),
    (lambda j: j["spec"].update(parallelism=5), "parallelism"),
    (lambda j: j["spec"].update(completions=3), "--parts"),
    (lambda j: j["spec"].update(completionsMode="Indexed"), "not a JobSpec field"),
    (lambda j: j["spec"]["template"]["spec"].update(restartPolicy="Always"), "restartPolicy"),
    (lambda j: j["spec"]["template"]["spec"]["containers"][0]["env"][2].update(value=4),
     "string value"),
    (lambda j: j["spec"]["template"]["spec"]["containers"][0].pop("image"), "no image"),
    (lambda j: j["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits"),
     "cpu"),
    (lambda j: j["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
     .update(name="other"), "names no volume"),
])
def test_structure_checks_refuse(mutate, problem):
    """Each check can fail: a broken copy of the pack Job is refused."""
    job = copy.deepcopy(_load("pack-job.yaml"))
    mutate(job)
    assert any(problem in s for s in job_problems(job, indexed=True)), job_problems(job, True)


def test_manifests_against_api_schemas():
    """The real OpenAPI schemas of the oldest and newest Kubernetes that
    kubernetes-validate carries, strict (an unknown field is an error)."""
    kv = _need("kubernetes_validate")
    for name in ("pvc.yaml", "plan-job.yaml", "pack-job.yaml", "merge-job.yaml"):
        for version in ("1.25.0", kv.latest_version()):
            kv.validate(_load(name), version, strict=True)
    broken = _load("pack-job.yaml")
    broken["spec"]["completionsMode"] = "Indexed"
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, kv.latest_version(), strict=True)


# ---- the pods, run as the kubelet would --------------------------------------------

def _run_container(c, root, extra_env, log):
    """One container: its argv and env from the manifest, each string under a
    mount path mapped to root + that path; pvpack from PVPACK_BIN's folder."""
    def mapped(s):
        for m in c.get("volumeMounts", []):
            mp = m["mountPath"]
            if s == mp or s.startswith(mp + "/"):
                return str(root) + s
        return s
    env = {k: mapped(v) for k, v in _env(c).items()}
    env.update(extra_env)
    env["PATH"] = os.path.dirname(os.environ["PVPACK_BIN"]) + os.pathsep + os.environ["PATH"]
    for k, v in os.environ.items():  # a sanitizer build's settings, nothing else
        if k.endswith("SAN_OPTIONS"):
            env[k] = v
    argv = [mapped(a) for a in _argv(c)]
    r = subprocess.run(argv, env=env, cwd=root, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    log.append((c["name"], extra_env, r.returncode, r.stdout))
    assert r.returncode == 0, f"{c['name']} {extra_env}: exit {r.returncode}\n{r.stdout}"
    return argv


def test_jobs_run_as_the_kubelet_would(tree, tmp_path):
    _need("yaml")
    if not os.environ.get("PVPACK_BIN"):
        pytest.skip("PVPACK_BIN not set (ctest sets it)")
    pack, merge = _load("pack-job.yaml"), _load("merge-job.yaml")
    root = tmp_path / "volume"  # the claim's contents; /data maps to root/data
    shutil.copytree(tree, str(root) + _env(pack["spec"]["template"]["spec"]["containers"][0])
                    ["SRC"])
    n, par = pack["spec"]["completions"], pack["spec"]["parallelism"]
    log = []
    # the plan Job first: the tree listed once, the pods then read their slice
    _run_container(_load("plan-job.yaml")["spec"]["template"]["spec"]["containers"][0], root,
                   {}, log)
    assert log[-1][3].startswith(f"planned {n} parts of "), log[-1][3]
    plan_dir = str(root) + _env(pack["spec"]["template"]["spec"]["containers"][0])["OUT"] + \
        "/parts/plan"
    assert sorted(os.listdir(plan_dir)) == [f"{k}-of-{n}.pvl" for k in range(n)]
    order = list(range(n))
    random.Random(1234).shuffle(order)
    assert order != sorted(order)
    box = pack["spec"]["template"]["spec"]["containers"][0]
    with ThreadPoolExecutor(max_workers=par) as pool:  # `parallelism` pods at once
        argvs = list(pool.map(lambda k: _run_container(
            box, root, {"JOB_COMPLETION_INDEX": str(k)}, log), order))
    for _, e, _, out in log[1:]:
        assert f"part {e['JOB_COMPLETION_INDEX']} of {n} of" in out, out
    pod = merge["spec"]["template"]["spec"]
    for c in pod["initContainers"] + pod["containers"]:  # in order, each to success
        _run_container(c, root, {}, log)
    assert log[-2][3].startswith("merged ") and log[-1][3].startswith("OK "), log[-2:]

    # the same tree and options on one machine: the pods' argv less --parts N
    a = argvs[0]
    i = a.index("--parts")
    a = a[:i] + a[i + 2:]
    out = a[a.index("-o") + 1]
    whole = str(tmp_path / "whole.pvpack")
    a[a.index("-o") + 1] = whole
    subprocess.run([os.environ["PVPACK_BIN"]] + a[1:], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([os.environ["PVPACK_BIN"], "verify", out, "--decode"], check=True,
                   stdout=subprocess.DEVNULL)
    assert not os.path.exists(os.path.join(out, "parts"))
    got, want = _records(out), _records(whole)
    assert len(got) == len(want) > 0
    assert got == want
