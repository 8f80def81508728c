# pv_deps.cmake - the system libraries pvpack needs, found through
# pkg-config, with one message naming the packages to install when any is
# missing (instead of CMake's raw pkg_check_modules error), for
# `cmake -S .`, ./build.sh and `pip install ./python` alike.
#
# PV_TEST_HIDE_DEPS (a list of names from the table below, e.g. "spng") makes
# those count as missing: the test of this message
# (python/tests/test_install_message.py) builds nothing.

set(PV_TEST_HIDE_DEPS "" CACHE STRING "for tests: dependencies to treat as missing")

# name | pkg-config module | Debian/Ubuntu package | Fedora package
set(PV_DEPS
  "turbojpeg|libturbojpeg|libturbojpeg0-dev|turbojpeg-devel"
  "jpeg|libjpeg|libjpeg-dev|libjpeg-turbo-devel"
  "zstd|libzstd|libzstd-dev|libzstd-devel"
  "spng|spng|libspng-dev|libspng-devel"
  "webp|libwebp|libwebp-dev|libwebp-devel"
  "tiff|libtiff-4|libtiff-dev|libtiff-devel"
  "stb|stb|libstb-dev|stb-devel")

set(_pv_missing_deb "")
set(_pv_missing_fedora "")
set(_pv_missing_what "")

macro(_pv_missing what deb fedora)
  list(APPEND _pv_missing_what "${what}")
  list(APPEND _pv_missing_deb "${deb}")
  list(APPEND _pv_missing_fedora "${fedora}")
endmacro()

find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND OR "pkgconfig" IN_LIST PV_TEST_HIDE_DEPS)
  _pv_missing("pkg-config" "pkg-config" "pkgconf-pkg-config")
endif()
foreach(row ${PV_DEPS})
  string(REPLACE "|" ";" f "${row}")
  list(GET f 0 name)
  list(GET f 1 module)
  list(GET f 2 deb)
  list(GET f 3 fedora)
  string(TOUPPER "${name}" var)
  if(PKG_CONFIG_FOUND AND NOT name IN_LIST PV_TEST_HIDE_DEPS)
    pkg_check_modules(${var} QUIET IMPORTED_TARGET ${module})
  endif()
  if(NOT ${var}_FOUND OR name IN_LIST PV_TEST_HIDE_DEPS)
    _pv_missing("${module} (pkg-config)" "${deb}" "${fedora}")
  endif()
endforeach()
# xxHash is used header-only (XXH_INLINE_ALL): Debian's shared libxxhash is
# several times slower than the inlined SIMD build (shared/FACTS.md).
if(NOT "xxhash" IN_LIST PV_TEST_HIDE_DEPS)
  find_path(XXHASH_INCLUDE_DIR xxhash.h)
endif()
if(NOT XXHASH_INCLUDE_DIR OR "xxhash" IN_LIST PV_TEST_HIDE_DEPS)
  _pv_missing("xxhash.h" "libxxhash-dev" "xxhash-devel")
endif()

if(_pv_missing_what)
  string(REPLACE ";" ", " what "${_pv_missing_what}")
  string(REPLACE ";" " " deb "${_pv_missing_deb}")
  string(REPLACE ";" " " fedora "${_pv_missing_fedora}")
  message(FATAL_ERROR
    "\npvpack: system libraries missing: ${what}\n"
    "Install them, then build again (pip install ./python, or ./build.sh):\n"
    "  Debian / Ubuntu:  sudo apt-get install ${deb}\n"
    "  Fedora:           sudo dnf install ${fedora}\n"
    "(./build.sh installs them on Debian by itself; see the README, section "
    "Python, \"System libraries\".)\n")
endif()
