# mx_add_unit_test(NAME target SOURCES a.test.cpp ... LIBS lib ...)
# One GoogleTest binary per library, sources beside the code they test.
# Discovered at test time, named unit.<target>.<Suite>.<Test>, labelled "unit".
include(GoogleTest)
function(mx_add_unit_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main mx_options mx_warnings)
  gtest_discover_tests(${T_NAME}
    TEST_PREFIX "unit.${T_NAME}."
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS unit)
endfunction()
