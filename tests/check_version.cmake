# check_version.cmake - the library's version is spelled once, in
# CMakeLists.txt's project(VERSION): pv_version.h, pvpack.pc and
# pvpackConfigVersion.cmake are generated from it. The one copy that cannot
# be generated, python/pyproject.toml's (read by pip before CMake runs), is
# checked here.
#   cmake -DSRC=<source dir> -DVERSION=<PROJECT_VERSION> -P tests/check_version.cmake
cmake_minimum_required(VERSION 3.18)
file(READ ${SRC}/python/pyproject.toml toml)
if(NOT toml MATCHES "\nversion = \"([^\"]*)\"")
  message(FATAL_ERROR "python/pyproject.toml: no version = \"...\" line")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL VERSION)
  message(FATAL_ERROR "python/pyproject.toml says version ${CMAKE_MATCH_1}, "
                      "CMakeLists.txt's project(VERSION) ${VERSION}: change both together")
endif()
message(STATUS "version ok: ${VERSION}")
