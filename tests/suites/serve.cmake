# serve.cmake -- the HTTP front (src/serve/http*.c) with a test handler, tests/serve/http_echo.c:
#   serve.http  tests/serve/test_http.py starts http_echo on 127.0.0.1 (a free port it reports) and
#               drives it with http.client, raw sockets and curl: keep-alive, a 1 MiB body, 400
#               concurrent requests, malformed and oversized requests, 200 stalled connections,
#               slow handlers, HTTP/2 over TLS and h2c, the full queue (503), SIGTERM draining.
#   serve.wagi  tests/serve/test_serve.py builds tests/serve/guests/wagi_echo.c with clang for
#               wasm32-wasi and drives `kapsul serve` / `kapsul up` (build/kapsul execs
#               build/kapsul-serve): the WAGI contract, routing from a manifest, files, 400 concurrent
#               fresh instances, timeouts, fuel, keep-alive, SIGTERM, the JSON log and trace context,
#               --trace-wasi (each request's WASI calls logged with its trace id).
#               It also runs in the sanitizer pass (the guest builds in seconds).
#   serve.wagi.native  the same with --tier native (a subset; needs kapsul-llvmc).
#   serve.tenants tests/serve/test_tenants.py: `kapsul up` with 500 generated components (WAT,
#               `kapsul wat2wasm`), every route answering its own id, also with --max-templates 16
#               (templates evicted and rebuilt under load). bench/density.sh measures 10,000.
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  set(Python3_EXECUTABLE python3)
endif()
add_executable(http_echo ${CMAKE_SOURCE_DIR}/tests/serve/http_echo.c)
target_link_libraries(http_echo PRIVATE kapsul_http)
set_target_properties(http_echo PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME serve.http
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/serve/test_http.py $<TARGET_FILE:http_echo>)
# h2o's per-thread chunk caches die with the loop threads (tests/serve/lsan.supp says why).
set_tests_properties(serve.http PROPERTIES LABELS "serve;sanitize" TIMEOUT 300
                     ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/serve/lsan.supp")
add_test(NAME serve.wagi
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/serve/test_serve.py $<TARGET_FILE:kapsul>
                 ${CMAKE_SOURCE_DIR}/tests/serve/guests)
set_tests_properties(serve.wagi PROPERTIES LABELS "serve;sanitize" TIMEOUT 600
                     ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/serve/lsan.supp")
if(TARGET kapsul-llvmc)
  # The same contract with the guest compiled to native code (a subset: test_serve.py NATIVE_TESTS).
  add_test(NAME serve.wagi.native
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/serve/test_serve.py $<TARGET_FILE:kapsul>
                   ${CMAKE_SOURCE_DIR}/tests/serve/guests --tier native)
  set_tests_properties(serve.wagi.native PROPERTIES LABELS "serve;native" TIMEOUT 600)
endif()
add_test(NAME serve.tenants
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/serve/test_tenants.py $<TARGET_FILE:kapsul> 500)
set_tests_properties(serve.tenants PROPERTIES LABELS "serve" TIMEOUT 600)
# serve.components  tests/serve/test_components.py: wasi:http components (issue 16) under kapsul
#               serve and kapsul up: a componentize-js handler built at test time (GET, POST, headers,
#               status, 140 requests each on a fresh instance, outbound allowed and denied through a
#               local http.server, Spin's executor and per-component allowed_outbound_hosts), the same
#               answers as `jco serve --isolate-requests instance` on node; the Spin JS SDK handler
#               (tests/component/spin-js, j2w) under kapsul up against jco serve; and a hostile handler
#               (trap, no response, loop, error-code, unfinished body, bad header names). Needs
#               tests/component/node_modules (scripts/setup.sh).
add_test(NAME serve.components
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/serve/test_components.py $<TARGET_FILE:kapsul>
                 ${CMAKE_SOURCE_DIR}/tests/component)
set_tests_properties(serve.components PROPERTIES LABELS "serve;component" TIMEOUT 1200)
# serve.components.hostile  the hostile handler and the refusals only (no JavaScript build), so the
#               sanitizer pass covers the wasi:http host's error paths.
add_test(NAME serve.components.hostile
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/serve/test_components.py $<TARGET_FILE:kapsul>
                 ${CMAKE_SOURCE_DIR}/tests/component)
set_tests_properties(serve.components.hostile PROPERTIES LABELS "serve;component;sanitize" TIMEOUT 600
                     ENVIRONMENT "KAPSUL_SERVE_TEST=hostile;LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/serve/lsan.supp")
if(TARGET kapsul-llvmc)
  # The hostile handler with its core modules compiled to native code (--tier native).
  add_test(NAME serve.components.native
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/serve/test_components.py $<TARGET_FILE:kapsul>
                   ${CMAKE_SOURCE_DIR}/tests/component)
  set_tests_properties(serve.components.native PROPERTIES LABELS "serve;component;native" TIMEOUT 600
                       ENVIRONMENT "KAPSUL_SERVE_TEST=hostile;KAPSUL_TEST_TIER=native")
endif()
