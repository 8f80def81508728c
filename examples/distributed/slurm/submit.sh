#!/bin/bash
# usage: submit.sh SRC OUT N [pvpack build options]
# Submits N part tasks as one job array, then the merge job, which starts only
# when every task succeeded (afterok). CPUS: CPUs per part (default 8).
# Logs: pvpack-part-<array>_<K>.out and pvpack-merge-<job>.out in this folder.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,5p "$0" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
src=$(realpath "$1") out=$(realpath -m "$2") n=$3
shift 3
array=$(sbatch --parsable --array=0-$((n - 1)) --cpus-per-task="${CPUS:-8}" \
        "$here/pack_part.sbatch" "$src" "$out" "$n" "$@")
array=${array%%;*}  # --parsable prints "id;cluster" on a multi-cluster site
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
        "$here/merge.sbatch" "$out")
echo "array job $array: parts 0..$((n - 1)) of $src"
echo "merge job ${merge%%;*}: $out once all succeed"
