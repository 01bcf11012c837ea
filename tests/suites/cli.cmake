# cli.cmake -- golden-file tests of the kapsul command line: each tests/cli/NAME.sh runs kapsul
# commands through tests/cli/golden.sh, whose output must equal tests/cli/NAME.golden (stdout,
# stderr and exit status of every command).
file(GLOB kapsul_cli_cases CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/cli/*.sh)
list(FILTER kapsul_cli_cases EXCLUDE REGEX "/golden\\.sh$")
foreach(case ${kapsul_cli_cases})
  get_filename_component(name ${case} NAME_WE)
  add_test(NAME cli.${name}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/golden.sh $<TARGET_FILE:kapsul> ${name})
  set_tests_properties(cli.${name} PROPERTIES LABELS "cli;sanitize" TIMEOUT 120
                       ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/fuzz/lsan.supp")
endforeach()
