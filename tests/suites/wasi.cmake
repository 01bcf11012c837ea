# wasi.cmake -- the WASI layer's suites, each one ctest test:
#   wasi.testsuite  all 72 programs of ../shared/wasi-testsuite, one `kapsul run` process each,
#                   set up by their .json (tests/wasi/run-testsuite.py); failures listed in
#                   tests/wasi/known-failures are expected, and a listed test that passes fails
#                   the run so the list only shrinks;
#   wasi.testsuite-walk  the same with the portable path walk forced (KAPSUL_WASI_NO_OPENAT2=1,
#                   a seam that exists only with -DKAPSUL_TESTING=ON, the default);
#   wasi.sandbox    the hostile guests of tests/sandbox, compiled with clang at test time, each
#                   run with openat2 and with the portable path walk (tests/sandbox/run-sandbox.py;
#                   openat2 only without KAPSUL_TESTING);
#   wasi.guests     a C and a Rust program built by Debian's toolchains, a TCP echo through
#                   --tcplisten, --timeout on a guest blocked in the host (tests/guests);
#   wasi.run-cli    `kapsul run` flags, --invoke typing and exit statuses (tests/wasi/run-cli.py);
#   wasi.testsuite-native, wasi.sandbox-native  the testsuite and the sandbox suite again through
#                   `kapsul run --tier native --cache BUILD/native-cache` (KAPSUL_RUN_FLAGS; only
#                   when kapsul-llvmc is built), with their own list tests/wasi/known-failures-native.
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  set(Python3_EXECUTABLE python3)
endif()
set(KAPSUL_WASI_SUITE ${CMAKE_SOURCE_DIR}/../shared/wasi-testsuite)
add_test(NAME wasi.testsuite
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/wasi/run-testsuite.py
                 $<TARGET_FILE:kapsul> ${KAPSUL_WASI_SUITE} ${CMAKE_SOURCE_DIR}/tests/wasi/known-failures)
# The same 72 with the portable component-by-component path walk instead of openat2. Forcing the
# walk is a test seam (KAPSUL_TESTING); without it the sandbox suite runs each program once.
set(KAPSUL_WASI_TESTS wasi.testsuite wasi.sandbox wasi.guests wasi.run-cli)
set(KAPSUL_SANDBOX_MODES both)
if(KAPSUL_TESTING)
  add_test(NAME wasi.testsuite-walk
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/wasi/run-testsuite.py
                   $<TARGET_FILE:kapsul> ${KAPSUL_WASI_SUITE} ${CMAKE_SOURCE_DIR}/tests/wasi/known-failures)
  set_tests_properties(wasi.testsuite-walk PROPERTIES ENVIRONMENT KAPSUL_WASI_NO_OPENAT2=1)
  list(APPEND KAPSUL_WASI_TESTS wasi.testsuite-walk)
else()
  set(KAPSUL_SANDBOX_MODES openat2)
endif()
add_test(NAME wasi.sandbox
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/sandbox/run-sandbox.py
                 $<TARGET_FILE:kapsul> ${CMAKE_SOURCE_DIR}/tests/sandbox ${KAPSUL_SANDBOX_MODES})
add_test(NAME wasi.guests
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/guests/run-guests.py
                 $<TARGET_FILE:kapsul> ${CMAKE_SOURCE_DIR}/tests/guests)
add_test(NAME wasi.run-cli
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/wasi/run-cli.py
                 $<TARGET_FILE:kapsul> ${CMAKE_SOURCE_DIR}/tests/wasi)
set_tests_properties(${KAPSUL_WASI_TESTS} PROPERTIES LABELS "wasi;sanitize" TIMEOUT 900)

# The native tier under the same two suites: every program compiled once into the build's cache
# (the first run compiles 72 programs, most of the time), then run as .kwasm.
if(TARGET kapsul-llvmc)
  add_test(NAME wasi.testsuite-native
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/wasi/run-testsuite.py
                   $<TARGET_FILE:kapsul> ${KAPSUL_WASI_SUITE} ${CMAKE_SOURCE_DIR}/tests/wasi/known-failures-native)
  add_test(NAME wasi.sandbox-native
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/sandbox/run-sandbox.py
                   $<TARGET_FILE:kapsul> ${CMAKE_SOURCE_DIR}/tests/sandbox openat2)
  set_tests_properties(wasi.testsuite-native wasi.sandbox-native PROPERTIES LABELS "wasi;native" TIMEOUT 1800
                       ENVIRONMENT "KAPSUL_RUN_FLAGS=--tier native --cache ${CMAKE_BINARY_DIR}/native-cache")
endif()
