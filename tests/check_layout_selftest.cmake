# check_layout_selftest.cmake - shows that check_layout.cmake can fail: runs
# it over small trees made here (with the real cmake/modules.txt), one
# allowed, then one per kind of forbidden include, and fails unless it
# accepts the first and refuses each of the others.
#   cmake -DSRC=<source dir> -DWORK=<scratch dir> -P check_layout_selftest.cmake
get_filename_component(_here "${CMAKE_CURRENT_LIST_FILE}" DIRECTORY)
function(run_case name expect_ok file text)
  set(t ${WORK}/${name})
  file(REMOVE_RECURSE ${t})
  file(MAKE_DIRECTORY ${t}/cmake ${t}/pack ${t}/reader/include ${t}/codec ${t}/cuda ${t}/image)
  configure_file(${SRC}/cmake/modules.txt ${t}/cmake/modules.txt COPYONLY)
  file(WRITE ${t}/reader/guard.h "/* internal to reader */\n")
  file(WRITE ${t}/reader/include/pvpack.h "/* public */\n")
  file(WRITE ${t}/codec/decode.h "/* codec */\n")
  file(WRITE ${t}/pack/walk.h "/* pack */\n")
  file(WRITE ${t}/${file} "${text}")
  execute_process(COMMAND ${CMAKE_COMMAND} -DSRC=${t}
                  -DMODULES_CMAKE=${SRC}/cmake/modules.cmake -P ${_here}/check_layout.cmake
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(expect_ok AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: check_layout refused an allowed tree")
  elseif(NOT expect_ok AND rc EQUAL 0)
    message(FATAL_ERROR "${name}: check_layout accepted a forbidden include")
  endif()
endfunction()
run_case(allowed TRUE pack/build.c "#include \"decode.h\"\n#include \"walk.h\"\n#include <stdio.h>\n")
run_case(public_allowed TRUE cuda/cuda_loader.c "#include \"pvpack.h\"\n")
run_case(pack_includes_reader FALSE pack/build.c "#include \"guard.h\"\n")
run_case(dotdot_path FALSE reader/dataset.c "#include \"../pack/walk.h\"\n")
run_case(internal_where_public_only FALSE cuda/cuda_loader.c "#include \"guard.h\"\n")
run_case(upward FALSE image/resample.c "#include \"pvpack.h\"\n")
message(STATUS "check_layout refuses every forbidden case")
