# Installing and consuming (docs/install.md), as a user's build does: `cmake --install` into a
# prefix; a consumer project built against it with find_package(ple CONFIG) (shared and
# static libraries) and with pkg-config; the same consumer with add_subdirectory of the source
# tree (tools and tests off by default); the Python package imported from the prefix.
set(prefix ${CMAKE_CURRENT_BINARY_DIR}/install-prefix)
set(consumer ${CMAKE_CURRENT_SOURCE_DIR}/consumer)
add_test(NAME "install: clean the prefix" COMMAND ${CMAKE_COMMAND} -E rm -rf ${prefix})
add_test(NAME "install: cmake --install" COMMAND ${CMAKE_COMMAND} --install ${CMAKE_BINARY_DIR} --prefix ${prefix})
set_tests_properties("install: clean the prefix" PROPERTIES FIXTURES_SETUP install_clean LABELS unit)
set_tests_properties("install: cmake --install" PROPERTIES FIXTURES_SETUP installed FIXTURES_REQUIRED install_clean
                     LABELS unit PASS_REGULAR_EXPRESSION "lib/cmake/ple/pleConfig.cmake")
add_test(NAME "install: find_package(ple) consumer"
         COMMAND ${CMAKE_COMMAND} -DMODE=find_package -DPREFIX=${prefix} -DCONSUMER=${consumer}
                 -DWORK=${CMAKE_CURRENT_BINARY_DIR}/consumer-find -DMODEL=${EXAMPLE_MODEL}
                 -DGENERATOR=${CMAKE_GENERATOR} -P ${consumer}/build_and_run.cmake)
add_test(NAME "install: pkg-config consumer"
         COMMAND ${CMAKE_COMMAND} -DMODE=pkg-config -DPREFIX=${prefix} -DCONSUMER=${consumer}
                 -DWORK=${CMAKE_CURRENT_BINARY_DIR}/consumer-pc -DMODEL=${EXAMPLE_MODEL} -DCC=${CMAKE_C_COMPILER}
                 -P ${consumer}/build_and_run.cmake)
add_test(NAME "install: add_subdirectory consumer"
         COMMAND ${CMAKE_COMMAND} -DMODE=add_subdirectory -DSOURCE=${PROJECT_SOURCE_DIR} -DCONSUMER=${consumer}
                 -DWORK=${CMAKE_CURRENT_BINARY_DIR}/consumer-subdir -DMODEL=${EXAMPLE_MODEL}
                 -DGENERATOR=${CMAKE_GENERATOR} -P ${consumer}/build_and_run.cmake)
set_tests_properties("install: find_package(ple) consumer" "install: pkg-config consumer"
                     PROPERTIES FIXTURES_REQUIRED "installed;example_model" LABELS unit
                     PASS_REGULAR_EXPRESSION "C: library ${PROJECT_VERSION}, C ABI ${PLE_ABI_VERSION_STRING} .*3 tasks: click share comment")
set_tests_properties("install: add_subdirectory consumer" PROPERTIES FIXTURES_REQUIRED example_model LABELS unit
                     PASS_REGULAR_EXPRESSION "C: library ${PROJECT_VERSION}.*\nC\\+\\+: 7 features, 2 levels")
if(PLE_HAVE_PYTHON)
  add_test(NAME "install: the Python package from the prefix"
           COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${prefix}/${PLE_INSTALL_PYTHONDIR}
                   ${PLE_PYTHON_EXECUTABLE} -c "import ple; print('ple', ple.version(), ple.__file__)")
  set_tests_properties("install: the Python package from the prefix" PROPERTIES FIXTURES_REQUIRED installed
                       LABELS unit PASS_REGULAR_EXPRESSION "ple ${PROJECT_VERSION} ${prefix}/")
endif()
