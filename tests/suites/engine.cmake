# engine.cmake -- kapsul's own scripts for the interpreter's fused forms (tests/engine/*.wast):
# each function is shaped so lowering fuses it, and the expected results are the unfused
# semantics (also accepted by wabt's spectest-interp). They run under ASan+UBSan too.
file(GLOB kapsul_engine_scripts CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/engine/*.wast)
foreach(script ${kapsul_engine_scripts})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME engine.${name}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/spec/run-one.sh $<TARGET_FILE:kapsul> ${script} pass)
  set_tests_properties(engine.${name} PROPERTIES LABELS "spec;sanitize" TIMEOUT 300
                       ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/fuzz/lsan.supp")
endforeach()
