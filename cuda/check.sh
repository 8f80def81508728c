#!/usr/bin/env bash
# cuda/check.sh - the GPU path's checks on a machine with an NVIDIA GPU, in
# one go (target: under 5 minutes on a 16-core machine):
#   1. builds the project with the CUDA path (PV_CUDA=ON, Release);
#   2. runs the GPU tests (tests/test_cuda_gpu: device batches equal the CPU
#      path's, bit-exact for every dtype; slot reuse against a stalled
#      consumer) and the host-side suite test_cuda;
#   3. generates a dataset of realistic JPEGs (the `pvpack demo` generator,
#      replicated to 6400 images) and packs it;
#   4. runs bench/cuda_bench, which prints (a) peak pinned H2D GB/s, (b) the loader's H2D GB/s, (c) images/s
#      with device vs host output (target >= 0.95x) for the pinned and the
#      write-combined ring, (d) the normalize kernel's GB/s vs a D2D copy;
#   4b. when $PY (default python3) has torch with CUDA, numpy and pytest and
#      the Python headers: the Python binding's GPU tests
#      (python/tests/test_cuda.py: device batches == CPU batches per dtype and
#      layout, kept batches, streams, resume) and the device figure of
#      bench/python_bench.py (pvpack through Python with device='cuda' vs
#      pvpack bench); otherwise it says why they were skipped;
#   5. runs test_cuda_gpu under compute-sanitizer memcheck and racecheck when
#      compute-sanitizer is installed, in the time left of the budget.
# Needs: cmake, a C compiler, nvcc, and the Debian -dev packages listed in
# build.sh (no network access is assumed; nothing is installed).
# Environment: BUILD_DIR (default build-gpu), WORK (scratch, default
# $BUILD_DIR/check-work), JOBS, BENCH_ARGS (extra cuda_bench options),
# SANITIZE=0 to skip compute-sanitizer, ALLOW_NO_GPU=1 to walk through
# every step on a machine without a GPU (tests the script only). Output
# is also written to $BUILD_DIR/check.log.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
BUILD_DIR=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
WORK=${WORK:-$BUILD_DIR/check-work}
mkdir -p "$BUILD_DIR"
exec > >(tee "$BUILD_DIR/check.log") 2>&1

step() { echo; echo "== [$(( $(date +%s) - T0 ))s] $*"; }

for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
  [ -d "$d" ] && case ":$PATH:" in *":$d:"*) ;; *) PATH="$PATH:$d" ;; esac
done
export PATH

step "machine"
uname -srm
echo "cores: $JOBS"
command -v nvidia-smi >/dev/null && nvidia-smi -L || echo "nvidia-smi: not found"
command -v nvcc >/dev/null && nvcc --version | tail -2 || { echo "nvcc not found"; exit 1; }

PY=${PY:-python3}
PY_SKIP=""
if ! command -v "$PY" >/dev/null; then
  PY_SKIP="no $PY"
elif ! "$PY" -c 'import numpy, pytest' >/dev/null 2>&1; then
  PY_SKIP="$PY lacks numpy or pytest"
elif ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  PY_SKIP="$PY has no torch with CUDA (or torch sees no GPU)"
fi
PY_CMAKE=(-DPV_BUILD_PYTHON=OFF)
[ -z "$PY_SKIP" ] && PY_CMAKE=(-DPV_BUILD_PYTHON=ON "-DPython3_EXECUTABLE=$(command -v "$PY")")

step "1. configure and build (PV_CUDA=ON) in $BUILD_DIR"
if [ -z "$PY_SKIP" ] && ! cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPV_CUDA=ON \
      -DPV_BUILD_TESTS=ON -DPV_BUILD_BENCH=ON "${PY_CMAKE[@]}" >"$BUILD_DIR/configure.log" 2>&1; then
  PY_SKIP="configuring the binding failed (Python headers? see $BUILD_DIR/configure-python.log)"
  cp "$BUILD_DIR/configure.log" "$BUILD_DIR/configure-python.log"
  PY_CMAKE=(-DPV_BUILD_PYTHON=OFF)
fi
if ! cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPV_CUDA=ON -DPV_BUILD_TESTS=ON \
      -DPV_BUILD_BENCH=ON "${PY_CMAKE[@]}" >"$BUILD_DIR/configure.log" 2>&1; then
  cat "$BUILD_DIR/configure.log"
  echo "check.sh: configure failed (missing -dev packages? see PKGS in build.sh)"
  exit 1
fi
grep -E "CUDA path|CUDA compiler identification" "$BUILD_DIR/configure.log" || true
cmake --build "$BUILD_DIR" -j "$JOBS" >"$BUILD_DIR/build.log" 2>&1 || { tail -50 "$BUILD_DIR/build.log"; exit 1; }
echo "built"

step "2. GPU tests"
rc=0
timeout 120 "$BUILD_DIR/tests/test_cuda_gpu" || rc=$?
if [ "$rc" = 77 ]; then
  echo "check.sh: test_cuda_gpu skipped: no usable GPU on this machine (reason above)"
  # ALLOW_NO_GPU=1 walks through the remaining steps anyway (to test this
  # script on a machine without a GPU); the figures are then missing.
  [ "${ALLOW_NO_GPU:-0}" = 1 ] || exit 1
elif [ "$rc" != 0 ]; then
  echo "check.sh: test_cuda_gpu FAILED (exit $rc)"
  exit 1
fi
timeout 120 "$BUILD_DIR/tests/test_cuda"

step "3. benchmark dataset (pvpack demo images x16, packed)"
rm -rf "$WORK"
mkdir -p "$WORK"
"$BUILD_DIR/pvpack" demo "$WORK/demo" >"$WORK/demo.log" 2>&1 || { cat "$WORK/demo.log"; exit 1; }
rm -f "$WORK/demo/imagefolder/cat/broken.jpg"
mkdir -p "$WORK/big"
for i in $(seq -w 0 15); do
  for c in "$WORK"/demo/imagefolder/*/; do
    cp -r "$c" "$WORK/big/r$i-$(basename "$c")"
  done
done
echo "$(find "$WORK/big" -name '*.jpg' | wc -l) JPEGs of 500x375 / 375x500"
"$BUILD_DIR/pvpack" build "$WORK/big" -o "$WORK/big.pvpack" --force --progress none --quiet
"$BUILD_DIR/pvpack" info "$WORK/big.pvpack" | head -5 || true

step "4. benchmark (bench/cuda_bench)"
rc=0
# shellcheck disable=SC2086
timeout 150 "$BUILD_DIR/bench/cuda_bench" "$WORK/big.pvpack" --batch 256 --size 224 \
  --epochs 3 --reps 3 ${BENCH_ARGS:-} || rc=$?
if [ "$rc" != 0 ] && ! { [ "$rc" = 77 ] && [ "${ALLOW_NO_GPU:-0}" = 1 ]; }; then
  echo "check.sh: cuda_bench failed (exit $rc)"
  exit 1
fi

step "4b. Python binding on the GPU (python/tests/test_cuda.py, python_bench --device-figure)"
py_summary=""
if [ -n "$PY_SKIP" ]; then
  echo "Python GPU tests and device figure SKIPPED: $PY_SKIP"
  py_summary="skipped ($PY_SKIP)"
else
  prc=0
  (cd "$BUILD_DIR" && PYTHONPATH="$PWD/python" PVPACK_BIN="$PWD/pvpack" timeout 150 "$PY" -m pytest \
     -q -rs -p no:cacheprovider ../python/tests/test_cuda.py ../python/tests/test_torch.py) || prc=$?
  if [ "$prc" = 0 ]; then py_summary="passed"; else py_summary="FAILED (exit $prc)"; fi
  echo "Python GPU tests: $py_summary"
  timeout 90 "$PY" bench/python_bench.py --build "$BUILD_DIR" --device-figure "$WORK/big.pvpack" \
    --threads "$JOBS" --batch 256 --size 224 --pv-epochs 2 --reps 2 ||
    echo "python_bench --device-figure failed or timed out (exit $?)"
fi

step "5. compute-sanitizer (last: it gets the time left of the 5-minute budget)"
CS=$(command -v compute-sanitizer || true)
for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
         /usr/local/cuda-*/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer; do
  [ -z "$CS" ] && [ -x "$c" ] && CS=$c
done
sanitizer_summary=""
if [ "${SANITIZE:-1}" = 0 ]; then
  echo "skipped (SANITIZE=0)"
elif [ -z "$CS" ]; then
  echo "compute-sanitizer not found: not run"
  sanitizer_summary="not available"
else
  for tool in memcheck racecheck; do
    src=0
    # One pass each, in the time left (the sanitizer slows the kernels and
    # the copies by an order of magnitude; a pass that runs out of time is
    # reported as such, not as a failure).
    left=$(( 285 - ($(date +%s) - T0) ))
    [ "$tool" = memcheck ] && left=$(( left * 2 / 3 ))
    if [ "$left" -lt 20 ]; then
      echo "compute-sanitizer --tool $tool: not run (5-minute budget spent)"
      sanitizer_summary="$sanitizer_summary $tool=not run (time);"
      continue
    fi
    timeout "$left" "$CS" --tool "$tool" --error-exitcode 99 "$BUILD_DIR/tests/test_cuda_gpu" \
      >"$BUILD_DIR/sanitizer-$tool.log" 2>&1 || src=$?
    tail -3 "$BUILD_DIR/sanitizer-$tool.log"
    case $src in
      0) res=clean ;;
      124) res="timed out (partial log: $BUILD_DIR/sanitizer-$tool.log)" ;;
      *) res="FAILED (exit $src, see $BUILD_DIR/sanitizer-$tool.log)" ;;
    esac
    echo "compute-sanitizer --tool $tool: $res"
    sanitizer_summary="$sanitizer_summary $tool=$res;"
  done
fi

step "done in $(( $(date +%s) - T0 ))s"
[ -n "$sanitizer_summary" ] && echo "compute-sanitizer:$sanitizer_summary"
echo "Python GPU tests: $py_summary"
echo "log: $BUILD_DIR/check.log"
case "$sanitizer_summary$py_summary" in *FAILED*) exit 1 ;; esac
exit 0
