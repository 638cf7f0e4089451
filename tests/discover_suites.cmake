# Registers one ctest test per GoogleTest test suite (run with --gtest_filter=<Suite>.*), after
# each build of the test binary. One process per test, as gtest_discover_tests registers them,
# spends ~1 s per test loading LibTorch, nearly half the suite's time here; a suite's tests
# share one process and the output names every failed test.
#
#   cmake -DTEST_EXECUTABLE=<exe> -DCTEST_FILE=<out.cmake> -DTEST_ENVIRONMENT=<A=1|B=2>
#         -DTEST_TIMEOUT=<s> -P discover_suites.cmake
execute_process(COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
                OUTPUT_VARIABLE listing RESULT_VARIABLE status TIMEOUT 120)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${status}):\n${listing}")
endif()

# The listing: a suite per unindented line ("Suite." or "Prefix/Suite.  # TypeParam = ..."),
# then its tests, indented.
string(REPLACE ";" "\\;" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(suites)
foreach(line IN LISTS lines)
  if(line MATCHES "^([^ #][^ ]*)\\.")
    list(APPEND suites "${CMAKE_MATCH_1}")
  endif()
endforeach()
list(REMOVE_DUPLICATES suites)

string(REPLACE "|" ";" environment "${TEST_ENVIRONMENT}")
set(script "")
foreach(suite IN LISTS suites)
  string(APPEND script
         "add_test([==[${suite}]==] [==[${TEST_EXECUTABLE}]==] [==[--gtest_filter=${suite}.*]==])\n"
         "set_tests_properties([==[${suite}]==] PROPERTIES TIMEOUT ${TEST_TIMEOUT} "
         "ENVIRONMENT [==[${environment}]==])\n")
endforeach()
file(WRITE "${CTEST_FILE}" "${script}")
