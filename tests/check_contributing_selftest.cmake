# check_contributing_selftest.cmake - shows that check_contributing.cmake can
# fail: runs it over the real CONTRIBUTING.md and cmake/modules.txt (must
# pass), then over altered copies of either (each must fail).
#   cmake -DSRC=<source dir> -DWORK=<scratch dir> -P check_contributing_selftest.cmake
get_filename_component(_here "${CMAKE_CURRENT_LIST_FILE}" DIRECTORY)
file(MAKE_DIRECTORY ${WORK})
file(READ ${SRC}/CONTRIBUTING.md doc)
file(READ ${SRC}/cmake/modules.txt table)
function(run_case name expect_ok doc_text table_text)
  file(WRITE ${WORK}/${name}.md "${doc_text}")
  file(WRITE ${WORK}/${name}.txt "${table_text}")
  execute_process(COMMAND ${CMAKE_COMMAND} -DSRC=${SRC} -DDOC=${WORK}/${name}.md
                  -DTABLE=${WORK}/${name}.txt -P ${_here}/check_contributing.cmake
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(expect_ok AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: check_contributing refused matching files")
  elseif(NOT expect_ok AND rc EQUAL 0)
    message(FATAL_ERROR "${name}: check_contributing accepted files that differ")
  endif()
endfunction()
run_case(same TRUE "${doc}" "${table}")
# A dependency the table has and the document does not.
string(REGEX REPLACE "\ncuda( +)format " "\ncuda\\1format pack " t "${table}")
run_case(table_dep_added FALSE "${doc}" "${t}")
# A module the table has and the document does not.
string(REGEX REPLACE "\n\\| `platform/` [^\n]*" "" d "${doc}")
run_case(doc_row_removed FALSE "${d}" "${table}")
# A module the document has and the table does not.
string(REGEX REPLACE "\npython/src [^\n]*" "" t "${table}")
run_case(table_row_removed FALSE "${doc}" "${t}")
# The document's dependency cell changed.
string(REPLACE "(libc only) | `format/include` |" "(libc only) | `format/include` `codec` |" d "${doc}")
if(d STREQUAL doc)
  message(FATAL_ERROR "selftest: the image/ row of CONTRIBUTING.md was not found to alter")
endif()
run_case(doc_dep_added FALSE "${d}" "${table}")
# No table at all.
string(REPLACE "<!-- modules:end" "<!-- end" d "${doc}")
run_case(no_table FALSE "${d}" "${table}")
message(STATUS "check_contributing refuses every mismatch")
