#!/usr/bin/env bash
# check_abi.sh BUILD_DIR - the designed ABI, checked on an installed copy:
#   1. every installed header compiles alone, with only the installed
#      include directory on the path (-I PREFIX/include), as C11 and, when a
#      C++ compiler is present, as C++11; warnings are errors;
#   2. libpvpack.so exports pv_ symbols only (no pv__ internals, no
#      third-party code), and every PV_API declaration of the installed
#      headers is exported (a declaration without a definition, or one that
#      lost its PV_API, fails).
# Run by ctest (check_abi) and by .ci/run. Needs cc, nm, and the build.
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
inc="$tmp/prefix/include"
hdrs=$(cd "$inc/pvpack" && ls *.h)
[ -n "$hdrs" ] || { echo "check_abi: no headers installed under $inc/pvpack" >&2; exit 1; }
fail=0

# ---- 1. each header alone ---------------------------------------------------
cxx=""
for c in c++ g++ clang++; do
  if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
done
for h in $hdrs; do
  # Both spellings a consumer may use: <pvpack/X.h> with -I PREFIX/include,
  # and "X.h" with pkg-config's -I PREFIX/include/pvpack.
  # (The typedef: a header of macros alone is an empty unit to -Wpedantic.)
  tu="#include <pvpack/$h>
typedef int check_abi_unit;"
  if ! echo "$tu" |
       cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$inc" -c -x c - -o /dev/null; then
    echo "check_abi: <pvpack/$h> does not compile alone as C11" >&2
    fail=1
  fi
  if ! echo "#include \"$h\"" |
       cc -std=c11 -Wall -Wextra -Werror -I"$inc/pvpack" -c -x c - -o /dev/null; then
    echo "check_abi: \"$h\" does not compile alone as C11 (-I include/pvpack)" >&2
    fail=1
  fi
  if [ -n "$cxx" ] &&
     ! echo "$tu" |
       "$cxx" -std=c++11 -Wall -Wextra -Werror -I"$inc" -c -x c++ - -o /dev/null; then
    echo "check_abi: <pvpack/$h> does not compile alone as C++11 ($cxx)" >&2
    fail=1
  fi
done
# Every function declared at file scope in an installed header is PV_API.
if grep -nE '^[A-Za-z_][A-Za-z0-9_ *]*[ *]pv_[a-z0-9_]+\(' "$inc"/pvpack/*.h |
     grep -vE '^[^:]+:[0-9]+:(PV_API|typedef) ' >&2; then
  echo "check_abi: the declarations above lack PV_API" >&2
  fail=1
fi
# Internal (pv__) names stay out of the installed headers.
if grep -n 'pv__[a-z]' "$inc"/pvpack/*.h >&2; then
  echo "check_abi: the installed headers above name pv__ internals" >&2
  fail=1
fi

# ---- 2. the exported symbols ------------------------------------------------
so=$(find "$tmp/prefix" -name 'libpvpack.so' | head -1)
[ -n "$so" ] || { echo "check_abi: libpvpack.so not installed" >&2; exit 1; }
# Text, data, read-only data, BSS, weak and indirect-function symbols.
nm -D --defined-only "$so" | awk '$2 ~ /^[TDRBVWiu]$/ {print $3}' | sed 's/@.*//' | sort -u \
  >"$tmp/exported"
[ -s "$tmp/exported" ] || { echo "check_abi: libpvpack.so exports nothing" >&2; exit 1; }
if grep -v '^pv_[a-z0-9]' "$tmp/exported" >"$tmp/foreign"; then
  echo "check_abi: libpvpack.so exports symbols that are not pv_ API:" >&2
  head -40 "$tmp/foreign" >&2
  echo "($(wc -l <"$tmp/foreign") in all)" >&2
  fail=1
fi
# Every PV_API declaration of the installed headers is exported.
grep -ho 'PV_API[^;(]*\bpv_[a-z0-9_]*(' "$inc"/pvpack/*.h | grep -o 'pv_[a-z0-9_]*($' |
  tr -d '(' | sort -u >"$tmp/declared"
if comm -23 "$tmp/declared" "$tmp/exported" | grep . >"$tmp/missing"; then
  echo "check_abi: declared PV_API but not exported by libpvpack.so:" >&2
  cat "$tmp/missing" >&2
  fail=1
fi
if comm -13 "$tmp/declared" "$tmp/exported" | grep . >"$tmp/undeclared"; then
  echo "check_abi: exported but not declared PV_API in an installed header:" >&2
  cat "$tmp/undeclared" >&2
  fail=1
fi
[ "$fail" = 0 ] || exit 1
echo "check_abi: ok ($(echo $hdrs | wc -w) headers alone as C11${cxx:+ and C++11}," \
     "$(wc -l <"$tmp/exported") pv_ symbols exported, all declared PV_API)"
