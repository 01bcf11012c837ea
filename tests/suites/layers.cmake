# layers.cmake -- the layering rule of DESIGN.md: tests/layers.py gives every directory of src/ a
# rank and fails on an include from a lower layer into a higher one, or on a directory it has no
# rank for. The self-test proves the check rejects both.
add_test(NAME unit.layers COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/layers.py ${CMAKE_SOURCE_DIR}/src)
add_test(NAME unit.layers_selftest COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/layers.py --self-test)
set_tests_properties(unit.layers unit.layers_selftest PROPERTIES LABELS "unit;sanitize" TIMEOUT 60)
