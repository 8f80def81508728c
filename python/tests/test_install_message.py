"""A missing system library at configure time (`pip install ./python`,
./build.sh, cmake) names the packages to install, for Debian/Ubuntu and
Fedora, and points at the README, instead of CMake's raw pkg-config error.
PV_TEST_HIDE_DEPS (cmake/pv_deps.cmake) hides libraries that are installed."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _configure(tmp_path, hide, *extra):
    cmake = shutil.which("cmake")
    if cmake is None or not os.path.exists(os.path.join(ROOT, "CMakeLists.txt")):
        pytest.skip("needs cmake and the source tree")
    r = subprocess.run([cmake, "-S", ROOT, "-B", str(tmp_path / "b"), f"-DPV_TEST_HIDE_DEPS={hide}",
                        "-DPV_BUILD_TESTS=OFF", "-DPV_BUILD_BENCH=OFF", "-DPV_CUDA=OFF", *extra],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def test_missing_library_names_the_packages(tmp_path):
    rc, out = _configure(tmp_path, "spng;xxhash")
    assert rc != 0
    assert "pvpack: system libraries missing: spng (pkg-config), xxhash.h" in out
    assert "sudo apt-get install libspng-dev libxxhash-dev" in out
    assert "sudo dnf install libspng-devel xxhash-devel" in out
    assert "README" in out
    assert "A required package was not found" not in out  # no raw pkg_check_modules error


def test_every_library_has_both_names(tmp_path):
    names = "turbojpeg;jpeg;zstd;spng;webp;tiff;stb;xxhash;pkgconfig"
    rc, out = _configure(tmp_path, names)
    assert rc != 0
    deb = next(l for l in out.splitlines() if "apt-get install" in l).split("install", 1)[1]
    fed = next(l for l in out.splitlines() if "dnf install" in l).split("install", 1)[1]
    assert deb.split() == ["pkg-config", "libturbojpeg0-dev", "libjpeg-dev", "libzstd-dev",
                           "libspng-dev", "libwebp-dev", "libtiff-dev", "libstb-dev",
                           "libxxhash-dev"]
    assert len(fed.split()) == 9 and all(p.endswith(("-devel", "pkg-config"))
                                         for p in fed.split())


def test_missing_python_headers(tmp_path):
    rc, out = _configure(tmp_path, "python", "-DPV_BUILD_PYTHON=ON")
    assert rc != 0
    assert "pvpack: Python's C headers" in out
    assert "python3-dev" in out and "python3-devel" in out
