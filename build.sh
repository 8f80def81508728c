#!/usr/bin/env bash
# build.sh - one entry point for people and CI.
#   ./build.sh demo   install missing system packages, build, run `pvpack demo`
#   ./build.sh test   install missing system packages, build, run every test
#   ./build.sh build  install missing system packages, build only
# Environment: BUILD_DIR (default build), PV_WERROR=ON (CI), JOBS,
#   PV_PYTHON (the Python the binding is built and tested with; default
#   Debian's /usr/bin/python3, whose numpy/pytest/torch come from apt).
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# Debian 12 packages the build and the tests need.
PKGS=(build-essential cmake pkg-config libturbojpeg0-dev libjpeg62-turbo-dev libzstd-dev
      libxxhash-dev libcmocka-dev libspng-dev libwebp-dev libtiff-dev libstb-dev
      python3-dev python3-numpy python3-pytest python3-pil python3-venv
      python3-yaml  # test_k8s_manifest.py reads the Kubernetes examples
      # the binding's torch tests (torch 1.13 for the system Python: ~140 MB
      # download, ~35 s to install)
      python3-torch)
PV_PYTHON=${PV_PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 )}

install_deps() {
  local missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "build.sh: installing missing packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

configure_and_build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPV_WERROR="${PV_WERROR:-OFF}" \
        -DPV_BUILD_TESTS=ON -DPV_BUILD_PYTHON=ON -DPython3_EXECUTABLE="$PV_PYTHON" "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

case "${1:-}" in
  demo)
    install_deps
    configure_and_build
    "$BUILD_DIR/pvpack" demo "${2:-$BUILD_DIR/demo}"
    ;;
  test)
    install_deps
    configure_and_build
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
    ;;
  build)
    install_deps
    configure_and_build
    ;;
  *)
    echo "usage: ./build.sh demo|test|build" >&2
    exit 2
    ;;
esac
