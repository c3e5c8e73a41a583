# mxlab_add_cases(DIR dir... [MTA name] [LABELS label...])
#
# Registers every conformance case file (*.xml, recursively) under the given
# directories as one ctest test named after the case id, mxlab.<mta>.<id>,
# labelled "conformance", with the case's area and any LABELS, running
#   mxlab run --mta <mta> <file>
# A case that cannot run here (lit's UNSUPPORTED: a missing capability, no
# root for an adapter that needs it, no libfaketime) is reported by ctest
# as skipped, not passed. The id and area are read from the file at
# configure time; the glob is re-checked at build time (CONFIGURE_DEPENDS),
# so a new case file is picked up without editing CMake.
function(mxlab_add_cases)
  cmake_parse_arguments(C "" "MTA" "DIR;LABELS" ${ARGN})
  if(NOT C_DIR)
    message(FATAL_ERROR "mxlab_add_cases: DIR is required")
  endif()
  if(NOT C_MTA)
    set(C_MTA reference)
  endif()
  foreach(dir IN LISTS C_DIR)
    file(GLOB_RECURSE files CONFIGURE_DEPENDS "${dir}/*.xml")
    list(SORT files)
    foreach(f IN LISTS files)
      file(READ "${f}" text LIMIT 4096)
      string(REGEX MATCH "<case[^>]*[ \t\r\n]id=\"([^\"]+)\"" _ "${text}")
      set(id "${CMAKE_MATCH_1}")
      string(REGEX MATCH "<case[^>]*[ \t\r\n]area=\"([^\"]+)\"" _ "${text}")
      set(area "${CMAKE_MATCH_1}")
      if(id STREQUAL "")
        message(WARNING "mxlab_add_cases: ${f}: no <case id=...>; not registered")
        continue()
      endif()
      add_test(NAME mxlab.${C_MTA}.${id}
        COMMAND $<TARGET_FILE:mxlab> run --mta ${C_MTA} ${f}
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
      set_tests_properties(mxlab.${C_MTA}.${id} PROPERTIES
        LABELS "conformance;${area};${C_LABELS}"
        SKIP_REGULAR_EXPRESSION "UNSUPPORTED: "
        TIMEOUT 600)
    endforeach()
  endforeach()
endfunction()

# mxlab_add_asan_cases(DIR dir... [LABELS label...])
#
# The asan build's own conformance tests: every case file under DIR as a ctest
# test asan.reference.<id>, labelled "asan" and by area, running the case
# against the asan mxmta through cmake/mxlab-asan-run.sh, which fails the test
# on any AddressSanitizer, LeakSanitizer or UBSan report of any MTA process,
# also one the case itself would not notice (a leak at the daemon's exit).
function(mxlab_add_asan_cases)
  cmake_parse_arguments(C "" "" "DIR;LABELS" ${ARGN})
  foreach(dir IN LISTS C_DIR)
    file(GLOB_RECURSE files CONFIGURE_DEPENDS "${dir}/*.xml")
    list(SORT files)
    foreach(f IN LISTS files)
      file(READ "${f}" text LIMIT 4096)
      string(REGEX MATCH "<case[^>]*[ \t\r\n]id=\"([^\"]+)\"" _ "${text}")
      set(id "${CMAKE_MATCH_1}")
      string(REGEX MATCH "<case[^>]*[ \t\r\n]area=\"([^\"]+)\"" _ "${text}")
      set(area "${CMAKE_MATCH_1}")
      if(id STREQUAL "")
        continue()
      endif()
      add_test(NAME asan.reference.${id}
        COMMAND ${PROJECT_SOURCE_DIR}/cmake/mxlab-asan-run.sh $<TARGET_FILE:mxlab> --mta reference ${f}
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
      set_tests_properties(asan.reference.${id} PROPERTIES
        LABELS "asan;${area};${C_LABELS}"
        SKIP_REGULAR_EXPRESSION "UNSUPPORTED: "
        TIMEOUT 600)
    endforeach()
  endforeach()
endfunction()
