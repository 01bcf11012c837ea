# spec.cmake -- the official WebAssembly 2.0 spec suite: one ctest test per script
# (spec.<name>), each `kapsul wast SCRIPT` through tests/spec/run-one.sh. Scripts named in
# tests/spec/wasm-2.0.known-failures are expected to fail; one that starts passing fails its test
# so the list can shrink. tests/spec/run-suite.sh gives the summed assertion counts.
set(KAPSUL_SPEC_DIR ${CMAKE_SOURCE_DIR}/../shared/testsuite/wasm-2.0)
set(KAPSUL_SPEC_KNOWN ${CMAKE_SOURCE_DIR}/tests/spec/wasm-2.0.known-failures)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${KAPSUL_SPEC_KNOWN})

file(STRINGS ${KAPSUL_SPEC_KNOWN} kapsul_spec_lines)
set(kapsul_spec_known "")
foreach(line ${kapsul_spec_lines})
  string(REGEX REPLACE "#.*" "" line "${line}")
  string(STRIP "${line}" line)
  string(REGEX REPLACE "\\.wast$" "" line "${line}")
  if(line)
    list(APPEND kapsul_spec_known ${line})
  endif()
endforeach()

file(GLOB kapsul_spec_scripts CONFIGURE_DEPENDS ${KAPSUL_SPEC_DIR}/*.wast)
if(NOT kapsul_spec_scripts)
  # A missing suite must not look like a passing one.
  add_test(NAME spec.missing-suite COMMAND ${CMAKE_COMMAND} -E false)
  set_tests_properties(spec.missing-suite PROPERTIES LABELS "spec")
  message(WARNING "spec suite not found at ${KAPSUL_SPEC_DIR}")
endif()

foreach(script ${kapsul_spec_scripts})
  get_filename_component(name ${script} NAME_WE)
  list(FIND kapsul_spec_known ${name} known_index)
  if(known_index EQUAL -1)
    set(expect pass)
  else()
    set(expect fail)
  endif()
  add_test(NAME spec.${name}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/spec/run-one.sh $<TARGET_FILE:kapsul> ${script} ${expect})
  # tests/fuzz/lsan.supp holds no suppressions (any leak fails the sanitizer build).
  set_tests_properties(spec.${name} PROPERTIES LABELS "spec;sanitize" TIMEOUT 600
                       ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/fuzz/lsan.supp")
endforeach()

# A name in the known-failures list with no script is a typo or a stale entry.
foreach(name ${kapsul_spec_known})
  if(NOT EXISTS ${KAPSUL_SPEC_DIR}/${name}.wast)
    message(WARNING "tests/spec/wasm-2.0.known-failures: no script ${name}.wast")
  endif()
endforeach()
