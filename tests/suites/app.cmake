# app.cmake -- the application flow (label "app"):
#   app.templates  tests/app/test_templates.py: `kapsul new` for each template, `kapsul build` with
#                  Debian's clang and rustc, the built handler answering a WAGI request under
#                  `kapsul run`, and under `kapsul up` through curl (a step that prints "TODO up"
#                  and does not run while this build has no `up` command). It needs the wasm32 toolchains (scripts/setup.sh), so it is not in
#                  the sanitizer run. The manifest reader and template writer have unit tests
#                  (unit.test_manifest, unit.test_template); `new` and `build` golden files
#                  (cli.new, cli.build).
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  set(Python3_EXECUTABLE python3)
endif()
add_test(NAME app.templates
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/app/test_templates.py $<TARGET_FILE:kapsul>)
set_tests_properties(app.templates PROPERTIES LABELS "app" TIMEOUT 600)
