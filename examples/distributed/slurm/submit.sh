#!/bin/bash
# usage: submit.sh SRC OUT N [pvpack build options]
# Submits the plan job (the tree listed once), then N part tasks as one job
# array once it succeeded, then the merge job once every task succeeded
# (afterok). CPUS: CPUs per part (default 8).
# Logs: pvpack-plan-<job>.out, pvpack-part-<array>_<K>.out and
# pvpack-merge-<job>.out in this folder.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,7p "$0" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
src=$(realpath "$1") out=$(realpath -m "$2") n=$3
shift 3
plan=$(sbatch --parsable --cpus-per-task="${CPUS:-8}" "$here/plan.sbatch" "$src" "$out" "$n" "$@")
plan=${plan%%;*}  # --parsable prints "id;cluster" on a multi-cluster site
array=$(sbatch --parsable --array=0-$((n - 1)) --cpus-per-task="${CPUS:-8}" \
        --dependency=afterok:"$plan" --kill-on-invalid-dep=yes \
        "$here/pack_part.sbatch" "$src" "$out" "$n" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
        "$here/merge.sbatch" "$out")
echo "plan job $plan: lists $src once"
echo "array job $array: parts 0..$((n - 1)) of $src"
echo "merge job ${merge%%;*}: $out once all succeed"
