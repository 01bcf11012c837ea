# oci.cmake -- the OCI client (label "oci"):
#   oci.registry  tests/oci/test_oci.py: kapsul oci push/pull of the wasm artifact, the compat image
#                 and a Spin application through Debian's docker-registry (started on 127.0.0.1 in a
#                 temporary directory, stopped by PID) and through OCI layouts; skopeo inspect and
#                 skopeo copy of what kapsul pushed; kapsul run REF and kapsul up -f REF; token auth
#                 with config.json credentials and corrupt images from a fake registry in the test.
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  set(Python3_EXECUTABLE python3)
endif()
add_test(NAME oci.registry
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/oci/test_oci.py $<TARGET_FILE:kapsul>)
set_tests_properties(oci.registry PROPERTIES LABELS "oci" TIMEOUT 600)
#   oci.parsers   tests/oci/test_ref.c: references, relative paths, manifests and configs (also in
#                 the sanitizer run).
add_executable(test_oci_parsers ${CMAKE_SOURCE_DIR}/tests/oci/test_ref.c)
target_link_libraries(test_oci_parsers PRIVATE kapsul_oci)
set_target_properties(test_oci_parsers PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME oci.parsers COMMAND test_oci_parsers)
set_tests_properties(oci.parsers PROPERTIES LABELS "oci;sanitize")
