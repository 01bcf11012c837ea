# native.cmake -- the native tier's own tests, label "native" (only when kapsul-llvmc is built):
#   native.corrupt       a compiled artifact damaged every way (truncated, bits flipped in the
#                        header, the ELF header, section table, symbols, relocations) is refused by
#                        kpArtifact_read / kpNativeCode_load, never run and never crashes;
#   native.differential  tests/native/differential.sh: every module of tests/fuzz/corpus/exec run
#                        by the interpreter and by the native tier gives the same results, traps,
#                        backtrace frames (function indices; native offsets must point at a call
#                        or the trapping instruction) and fuel use;
#   native.calls         tests/native/calls.wast through the native tier (native.calls-interp:
#                        the interpreter), the call protocol's corner cases.
if(TARGET kapsul-llvmc)
  add_executable(test_native_corrupt ${CMAKE_SOURCE_DIR}/tests/native/test_native_corrupt.c)
  target_link_libraries(test_native_corrupt PRIVATE kapsul_core)
  set_target_properties(test_native_corrupt PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME native.compile-fixture
           COMMAND $<TARGET_FILE:kapsul-llvmc> ${CMAKE_SOURCE_DIR}/examples/fib.wat -o ${CMAKE_BINARY_DIR}/tests/fib.kwasm)
  # LLVM's own allocations outlive main; only kapsul's code is checked for leaks (native.corrupt).
  set_tests_properties(native.compile-fixture PROPERTIES FIXTURES_SETUP kwasm LABELS "native;sanitize"
                       ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
  add_test(NAME native.corrupt COMMAND test_native_corrupt ${CMAKE_BINARY_DIR}/tests/fib.kwasm)
  set_tests_properties(native.corrupt PROPERTIES FIXTURES_REQUIRED kwasm LABELS "native;sanitize" TIMEOUT 600)
  add_executable(diff_run ${CMAKE_SOURCE_DIR}/tests/native/diff_run.c)
  target_link_libraries(diff_run PRIVATE kapsul_core)
  set_target_properties(diff_run PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME native.differential
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/native/differential.sh $<TARGET_FILE:kapsul>
                   ${CMAKE_BINARY_DIR}/native-cache)
  set_tests_properties(native.differential PROPERTIES LABELS "native" TIMEOUT 1200)
  # tests/native/calls.wast: memory size after growing callees, call depth across recursion and
  # traps, globals beside memory in a loop; both tiers must pass it.
  add_test(NAME native.calls
           COMMAND $<TARGET_FILE:kapsul> wast --tier native --cache ${CMAKE_BINARY_DIR}/native-cache
                   ${CMAKE_SOURCE_DIR}/tests/native/calls.wast)
  add_test(NAME native.calls-interp COMMAND $<TARGET_FILE:kapsul> wast ${CMAKE_SOURCE_DIR}/tests/native/calls.wast)
  set_tests_properties(native.calls native.calls-interp PROPERTIES LABELS "native" TIMEOUT 300)
  # The embedding API's native tier (tests/unit/test_native_api.c) runs this build's compiler.
  set_tests_properties(unit.test_native_api PROPERTIES ENVIRONMENT "KAPSUL_LLVMC=$<TARGET_FILE:kapsul-llvmc>;ASAN_OPTIONS=detect_leaks=0")
endif()
