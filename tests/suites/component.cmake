# component.cmake -- the component model and WASI 0.2 (issue 16):
#   component.reference  the pinned components of tests/component run under `jco run` on node and
#                        rebuilt from their recipe (build.sh); kapsul validates them
#                        (tests/component/run-components.py).
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  set(Python3_EXECUTABLE python3)
endif()
add_test(NAME component.reference
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/component/run-components.py
                 $<TARGET_FILE:kapsul> ${CMAKE_SOURCE_DIR}/tests/component)
set_tests_properties(component.reference PROPERTIES LABELS "component" TIMEOUT 600)
# component.js  JavaScript components built during the test (tests/component/run-js.py): a
#               componentize-js guest with custom exports and a Spin JS SDK HTTP handler (j2w),
#               validated, inspected, and instantiated both ways (kpCInstance_new and a component
#               template: test_ctemplate) with fresh JavaScript state in every instance.
add_test(NAME component.js
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/component/run-js.py
                 $<TARGET_FILE:kapsul> $<TARGET_FILE:test_ctemplate> ${CMAKE_SOURCE_DIR}/tests/component)
set_tests_properties(component.js PROPERTIES LABELS "component" TIMEOUT 900)
# component.sockets: wasi:sockets behind the --allow-* grants (tests/component/sockets.py): TCP
# connect/listen/accept and UDP against peers of the runner on 127.0.0.1, every denied case, the
# state machine's errors, name lookup of localhost, poll with a timer, --timeout.
add_test(NAME component.sockets
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/component/sockets.py
                 $<TARGET_FILE:kapsul> ${CMAKE_SOURCE_DIR}/tests/component)
set_tests_properties(component.sockets PROPERTIES LABELS "component;sanitize" TIMEOUT 300)
