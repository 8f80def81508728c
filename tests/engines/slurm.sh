#!/usr/bin/env bash
# slurm.sh - examples/distributed/slurm/ on a REAL single-node Slurm.
#   tests/engines/slurm.sh [BUILD_DIR]     (default: build; run as root)
# Installs Debian's slurmctld, slurmd, slurm-client and munge when missing,
# then, all under one temp dir: a munge key and munged on its own socket, a
# slurm.conf for this host (its CPUs, free ports, task/affinity so that a
# task sees only the CPUs it was given), slurmctld and slurmd; waits until
# sinfo shows the node idle. Generates an ImageFolder tree, submits the
# example with N=4 as a user would (submit.sh, 1 CPU per part), waits for
# the merge job, and checks the result against a one-machine build of the
# same tree and options: every job COMPLETED with exit 0, each part ran with
# 1 thread (its CPUs, not the node's), pvpack verify --decode clean, the
# same records (payload bytes, labels, sizes, source paths, order) through
# the Python binding, the same skip report. Then stops what it started (by
# pid) and removes the temp dir (PV_KEEP=1 keeps it). Exit 0 = pass.
# A test rather than a benchmark (so tests/, not bench/): it checks results
# and its timings are only printed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
[ -x "$build/pvpack" ] || { echo "slurm.sh: no $build/pvpack (build first)" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "slurm.sh: needs root (slurmd, munged)" >&2; exit 2; }
  exec sudo -E bash "$0" "$build"
fi
t0=$(date +%s%N)
lap() {
  local ms=$((($(date +%s%N) - t0) / 1000000))
  printf '[%4d.%d s] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*"
}

pkgs=()
command -v slurmctld >/dev/null || pkgs+=(slurmctld)
command -v slurmd >/dev/null || pkgs+=(slurmd)
command -v sbatch >/dev/null || pkgs+=(slurm-client)
command -v munged >/dev/null || pkgs+=(munge)
if [ ${#pkgs[@]} -gt 0 ]; then
  lap "apt-get install ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" \
    >/dev/null || { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; }
  lap "installed"
fi

T=$(mktemp -d /tmp/pv-slurm.XXXXXX)
chmod 711 "$T"  # munged wants every directory above its socket searchable
pids=()
cleanup() {
  rc=$?
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ -n "${ctld:-}" ]; then
    # shellcheck disable=SC2086 # unset ids vanish
    scancel --quiet ${plan:-} ${array:-} ${merge:-} 2>/dev/null
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do  # slurmd, slurmctld, then munged
    kill "${pids[i]}" 2>/dev/null
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${pids[i]}" 2>/dev/null
    wait "${pids[i]}" 2>/dev/null
  done
  if [ $rc -ne 0 ]; then
    echo "slurm.sh: FAILED (rc $rc); logs:" >&2
    for f in "$T"/log/* "$T"/jobs/*.out; do [ -f "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done
  fi
  if [ "${PV_KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$T"/munge "$T"/state "$T"/spool "$T"/log "$T"/jobs
chmod 755 "$T"/munge

# munge: a key of our own, munged in the foreground on our own socket.
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
sock=$T/munge/munge.socket
munged -F --key-file="$T/munge/munge.key" --socket="$sock" --pid-file="$T/munge/munged.pid" \
  --seed-file="$T/munge/munged.seed" --log-file="$T/log/munged.log" >"$T/log/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
munge -S "$sock" -n | unmunge -S "$sock" >/dev/null

# slurm.conf: this host as controller and only node, on two free ports.
node=$(hostname -s)
cpus=$(nproc)
read -r p1 p2 < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
export SLURM_CONF=$T/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=pvtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$p1
SlurmdPort=$p2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=pv Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -f "$SLURM_CONF" >"$T/log/slurmctld.out" 2>&1 &
pids+=($!)
ctld=1
slurmd -D -f "$SLURM_CONF" -N "$node" >"$T/log/slurmd.out" 2>&1 &
pids+=($!)
state=
for _ in $(seq 120); do
  state=$(sinfo -h -N -n "$node" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || { echo "slurm.sh: node $node is '$state', not idle" >&2; exit 1; }
lap "Slurm up: node $node idle, $cpus CPUs (slurmctld :$p1, slurmd :$p2)"

# The tree: 5 classes of JPEGs and PNGs of assorted sizes, one broken file.
/usr/bin/python3 - "$T/src" <<'PY'
import os, sys
import numpy as np
from PIL import Image
root = sys.argv[1]
rng = np.random.default_rng(11)
for i in range(150):
    d = os.path.join(root, f"class{i % 5}")
    os.makedirs(d, exist_ok=True)
    h, w = 40 + (i * 37) % 200, 50 + (i * 53) % 220
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 3 + i) % 256, (y * 5 + 2 * i) % 256, (x + y + 7 * i) % 256], -1)
    img = (img + rng.integers(0, 24, img.shape)).clip(0, 255).astype(np.uint8)
    name = os.path.join(d, f"img{i:04d}")
    if i % 9 == 4:
        Image.fromarray(img).save(name + ".png")
    else:
        Image.fromarray(img).save(name + ".jpg", quality=85)
with open(os.path.join(root, "class2", "broken.jpg"), "wb") as f:
    f.write(b"\xff\xd8\xff\xe0 not really a JPEG")
PY
opts=(--shard-size 64K --seed 7 --codec auto)
lap "tree: $(find "$T/src" -type f | wc -l) files"

# Submit as a user would: the example's wrapper, pvpack on the PATH.
export PATH=$build:$PATH
cd "$T/jobs"
CPUS=1 bash "$repo/examples/distributed/slurm/submit.sh" "$T/src" "$T/out" 4 "${opts[@]}" |
  tee submit.txt
plan=$(sed -n 's/^plan job \([0-9]*\):.*/\1/p' submit.txt)
array=$(sed -n 's/^array job \([0-9]*\):.*/\1/p' submit.txt)
merge=$(sed -n 's/^merge job \([0-9]*\):.*/\1/p' submit.txt)
[ -n "$plan" ] && [ -n "$array" ] && [ -n "$merge" ]
lap "submitted plan job $plan, array job $array and merge job $merge"
for _ in $(seq 600); do
  [ -z "$(squeue -h -j "$plan,$array,$merge" -o %i 2>/dev/null)" ] && break
  sleep 0.5
done
lap "jobs done"
scontrol -o show job "$plan" >plan.txt
grep -q 'JobState=COMPLETED .* ExitCode=0:0' plan.txt || {
  echo "slurm.sh: plan job: $(grep -o 'JobState=[A-Z_]* .*ExitCode=[0-9:]*' plan.txt)" >&2; exit 1; }
grep -q "^planned 4 parts of " "pvpack-plan-$plan.out" || {
  echo "slurm.sh: the plan job did not plan:" >&2; cat "pvpack-plan-$plan.out" >&2; exit 1; }
echo "plan job log:"; sed 's/^/  /' "pvpack-plan-$plan.out"
scontrol -o show job "$array" >array.txt
scontrol -o show job "$merge" >merge.txt
ntask=$(grep -c 'JobState=COMPLETED .* ExitCode=0:0' array.txt || true)
grep -q 'JobState=COMPLETED .* ExitCode=0:0' merge.txt || {
  echo "slurm.sh: merge job: $(grep -o 'JobState=[A-Z_]* .*ExitCode=[0-9:]*' merge.txt)" >&2; exit 1; }
[ "$ntask" = 4 ] || { echo "slurm.sh: $ntask of 4 array tasks completed with exit 0" >&2; exit 1; }
for k in 0 1 2 3; do
  f=pvpack-part-${array}_$k.out
  # pvpack's default threads: the task's CPUs (1), not the node's ($cpus).
  grep -q "^part $k of 4 of .* s, 1 thread\$" "$f" || {
    echo "slurm.sh: part $k did not run with 1 thread (its CPU allocation):" >&2; cat "$f" >&2; exit 1; }
  sed 's/^/  /' "$f"
done
echo "merge job log:"; sed 's/^/  /' "pvpack-merge-$merge.out"

# Against one machine's build of the same tree and options.
pvpack verify "$T/out" --decode >/dev/null
pvpack build "$T/src" -o "$T/whole" "${opts[@]}" --quiet >/dev/null
cmp "$T/whole/report.txt" "$T/out/report.txt"
PYTHONPATH=$build/python /usr/bin/python3 - "$T/whole" "$T/out" <<'PY'
import sys
import pvpack
def records(d):
    ds = pvpack.Dataset(d)
    out = []
    for i in range(len(ds)):
        info = ds.record_info(i)
        out.append((ds.source_path(i), ds.label(i), info["length"], info["checksum"],
                    info["width"], info["height"], ds[i][0].tobytes()))
    return out
whole, merged = records(sys.argv[1]), records(sys.argv[2])
assert len(whole) == 150, len(whole)
assert merged == whole, "the merged dataset's records differ from the one-machine build's"
print(f"records: {len(merged)} identical to the one-machine build "
      "(paths, labels, sizes, checksums, decoded pixels, order)")
PY
[ ! -e "$T/out/parts" ]
lap "PASS: Slurm N=4 parts + merge == one-machine build"
