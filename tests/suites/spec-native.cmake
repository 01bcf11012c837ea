# spec-native.cmake -- the same official WebAssembly 2.0 scripts as spec.cmake, through the native
# tier: `kapsul wast --tier native` (every module compiled by kapsul-llvmc, cached under the build
# directory). Test names are spec-native.<script>; tests/spec/wasm-2.0.native.known-failures lists
# the scripts the native tier does not pass yet (it only shrinks, as the interpreter's list).
# Registered only when LLVM was found (kapsul-llvmc is built).
if(TARGET kapsul-llvmc)
  set(KAPSUL_NATIVE_KNOWN ${CMAKE_SOURCE_DIR}/tests/spec/wasm-2.0.native.known-failures)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${KAPSUL_NATIVE_KNOWN})
  file(STRINGS ${KAPSUL_NATIVE_KNOWN} kapsul_native_lines)
  set(kapsul_native_known "")
  foreach(line ${kapsul_native_lines})
    string(REGEX REPLACE "#.*" "" line "${line}")
    string(STRIP "${line}" line)
    if(line)
      list(APPEND kapsul_native_known ${line})
    endif()
  endforeach()
  file(GLOB kapsul_native_scripts CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/../shared/testsuite/wasm-2.0/*.wast)
  foreach(script ${kapsul_native_scripts})
    get_filename_component(name ${script} NAME_WE)
    list(FIND kapsul_native_known ${name} known_index)
    if(known_index EQUAL -1)
      set(expect pass)
    else()
      set(expect fail)
    endif()
    add_test(NAME spec-native.${name}
             COMMAND bash ${CMAKE_SOURCE_DIR}/tests/spec/run-one.sh $<TARGET_FILE:kapsul> ${script} ${expect}
                     ${KAPSUL_NATIVE_KNOWN} --tier native --cache ${CMAKE_BINARY_DIR}/native-cache)
    set_tests_properties(spec-native.${name} PROPERTIES LABELS "native" TIMEOUT 900)
  endforeach()
endif()
