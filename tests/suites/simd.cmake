# simd.cmake -- kapsul's own SIMD scripts (tests/simd/*.wast), beside the official simd_* spec
# scripts: v128 values through every frame position (locals, globals, blocks, branches, select,
# calls) and out-of-bounds vector accesses. Each must pass; they run under ASan+UBSan too.
file(GLOB kapsul_simd_scripts CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/simd/*.wast)
foreach(script ${kapsul_simd_scripts})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME simd.${name}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/spec/run-one.sh $<TARGET_FILE:kapsul> ${script} pass)
  set_tests_properties(simd.${name} PROPERTIES LABELS "spec;sanitize" TIMEOUT 300
                       ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/fuzz/lsan.supp")
endforeach()
