# install.cmake -- the install test (tests/install/run.sh): cmake --install into a scratch prefix,
# then examples/embed/host.c built through pkg-config against the shared and the static library
# and run on examples/embed/demo.wat against a golden transcript; the installed kapsul serve, and
# where the native tier is built, the installed kapsul compile (kapsul-llvmc beside kapsul).
find_program(KAPSUL_PKG_CONFIG pkg-config)
if(KAPSUL_PKG_CONFIG)
  add_test(NAME install.embed
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/install/run.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(install.embed PROPERTIES LABELS "unit" TIMEOUT 300)
else()
  message(STATUS "pkg-config not found: the install test is not registered")
endif()
