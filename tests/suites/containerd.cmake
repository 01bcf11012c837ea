# containerd.cmake -- kapsul-runc (src/oci/runc.h) under a real containerd:
#   oci.containerd  tests/oci/test_containerd.py starts Debian's containerd (private state, CRI off,
#                   `unshare -m`) and docker-registry on 127.0.0.1, pushes tests/oci/guests/hello.c
#                   with `kapsul oci push --format compat`, and runs it with `ctr run --runc-binary
#                   build/kapsul-runc`: output, args, env, mounts, exit codes, `ctr task kill`, a native
#                   container delegated to runc; then kapsul-runc's lifecycle and bad bundles on its own.
#                   Needs root (containerd does).
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  set(Python3_EXECUTABLE python3)
endif()
add_test(NAME oci.containerd
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/oci/test_containerd.py ${CMAKE_BINARY_DIR})
set_tests_properties(oci.containerd PROPERTIES LABELS "oci" TIMEOUT 900 RUN_SERIAL TRUE)
