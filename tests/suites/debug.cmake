# Diagnostics (docs/DEBUGGING.md):
#   debug.backtrace  tests/debug/run-debug.py builds a C program (clang -g) and a Rust program
#                    (rustc -g, legacy and v0 mangling) that trap at known lines and checks the
#                    backtrace: names demangled, file:line from DWARF, an inlined call, a deep
#                    stack cut with "... N frames omitted", offsets on the right instructions.
add_test(NAME debug.backtrace
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/debug/run-debug.py
                 $<TARGET_FILE:kapsul> ${CMAKE_SOURCE_DIR}/tests/debug)
set_tests_properties(debug.backtrace PROPERTIES LABELS "debug" TIMEOUT 600)
# debug.native   the same script with --native: `kapsul run --tier native --profile` on hot.wat
#                attributes most samples to the hot function (stacks from the native frame
#                records), and --perf-map writes /tmp/perf-PID.map with every function of
#                perf.wat inside the process's code, which `perf report` uses to name the hot one.
if(TARGET kapsul-llvmc)
  add_test(NAME debug.native
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/debug/run-debug.py
                   $<TARGET_FILE:kapsul> ${CMAKE_SOURCE_DIR}/tests/debug --native
                   ${CMAKE_BINARY_DIR}/debug-native-cache)
  set_tests_properties(debug.native PROPERTIES LABELS "debug;native" TIMEOUT 600)
endif()
# unit.test_native_sample (tests/unit/test_native_sample.c, registered with the unit tests): the
# sampler over mixed interpreted and native stacks, re-entry, and the native code ranges; it
# compiles with this build's kapsul-llvmc.
if(TARGET kapsul-llvmc)
  set_tests_properties(unit.test_native_sample PROPERTIES ENVIRONMENT "KAPSUL_LLVMC=$<TARGET_FILE:kapsul-llvmc>;ASAN_OPTIONS=detect_leaks=0")
endif()
