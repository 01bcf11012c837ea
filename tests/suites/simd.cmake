# simd.cmake -- kapsul's own scripts, beside the official spec scripts: tests/simd/*.wast (v128
# values through every frame position -- locals, globals, blocks, branches, select, calls -- and
# out-of-bounds vector accesses) and tests/engine/*.wast (the interpreter's fused forms, shaped so
# lowering fuses them, expecting the unfused semantics; wabt's spectest-interp agrees). Test names
# are <dir>.<script>. Each must pass; they run under ASan+UBSan too.
file(GLOB kapsul_own_scripts CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/simd/*.wast
     ${CMAKE_SOURCE_DIR}/tests/engine/*.wast)
foreach(script ${kapsul_own_scripts})
  get_filename_component(name ${script} NAME_WE)
  get_filename_component(dir ${script} DIRECTORY)
  get_filename_component(dir ${dir} NAME)
  add_test(NAME ${dir}.${name}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/spec/run-one.sh $<TARGET_FILE:kapsul> ${script} pass)
  set_tests_properties(${dir}.${name} PROPERTIES LABELS "spec;sanitize" TIMEOUT 300
                       ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/fuzz/lsan.supp")
endforeach()
