#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR - installs the build into a temporary
# prefix, builds examples/ against it through find_package(pvpack) and through
# pkg-config, and runs both on a dataset packed by the installed pvpack.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# 1. CMake package
cmake -S "$src/examples" -B "$tmp/ex" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/ex" >/dev/null
# 2. pkg-config
libdir=$(find "$tmp/prefix" -name pvpack.pc -printf '%h\n' | head -1)
for ex in read_dataset train_loop; do
  PKG_CONFIG_PATH="$libdir" cc -std=c11 "$src/examples/$ex.c" \
    $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs pvpack) -o "$tmp/${ex}_pc"
done
# A tiny ImageFolder made with the installed command's own demo generator.
"$tmp/prefix/bin/pvpack" demo "$tmp/demo" >/dev/null
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/ex/read_dataset" "$tmp/demo/imagefolder.pvpack"
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/read_dataset_pc" "$tmp/demo/imagefolder.pvpack"
# The training-loop skeleton: 2 epochs, then a resumed run from epoch 1 batch 2.
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/ex/train_loop" "$tmp/demo/imagefolder.pvpack" 2
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/train_loop_pc" "$tmp/demo/imagefolder.pvpack" 2 1 2
# The GPU skeleton, where the installed pvpack has the CUDA path: it runs a
# training loop on a GPU, or says why not and exits 0 (CI has no GPU).
have_cuda=$(PKG_CONFIG_PATH="$libdir" pkg-config --variable=have_cuda pvpack)
if [ "$have_cuda" = 1 ]; then
  test -x "$tmp/ex/train_loop_cuda"
  LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/ex/train_loop_cuda" "$tmp/demo/imagefolder.pvpack" 2
else
  test ! -e "$tmp/ex/train_loop_cuda"
fi
echo "install test: ok"
