# The command-line tools as a user runs them: the README's example end to end, help texts, and
# clear errors with a non-zero exit status.
set(EXAMPLE ${PROJECT_SOURCE_DIR}/examples/feed)
set(EXAMPLE_MODEL ${CMAKE_CURRENT_BINARY_DIR}/feed-ranker.ple)

function(ple_cli_test name)
  cmake_parse_arguments(T "" "REGEX;FIXTURE_SETUP;FIXTURE_REQUIRED" "COMMAND" ${ARGN})
  add_test(NAME "cli: ${name}" COMMAND ${T_COMMAND})
  set_tests_properties("cli: ${name}" PROPERTIES LABELS unit)
  if(T_REGEX)
    set_tests_properties("cli: ${name}" PROPERTIES PASS_REGULAR_EXPRESSION "${T_REGEX}")
  endif()
  if(T_FIXTURE_SETUP)
    set_tests_properties("cli: ${name}" PROPERTIES FIXTURES_SETUP ${T_FIXTURE_SETUP})
  endif()
  if(T_FIXTURE_REQUIRED)
    set_tests_properties("cli: ${name}" PROPERTIES FIXTURES_REQUIRED ${T_FIXTURE_REQUIRED})
  endif()
endfunction()

function(ple_cli_failure_test name regex)
  add_test(NAME "cli: ${name}"
           COMMAND ${CMAKE_COMMAND} "-DCOMMAND=${ARGN}" "-DREGEX=${regex}"
                   "-DABSENT=${CMAKE_CURRENT_BINARY_DIR}/never-written.ple"
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/expect_failure.cmake)
  set_tests_properties("cli: ${name}" PROPERTIES LABELS unit FIXTURES_REQUIRED example_model)
endfunction()

ple_cli_test("convert the example" COMMAND $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json
             --weights ${EXAMPLE}/weights.safetensors --output ${EXAMPLE_MODEL}
             REGEX "wrote .*4 tasks" FIXTURE_SETUP example_model)
ple_cli_test("run the example (JSON lines in, CSV out)"
             COMMAND $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${EXAMPLE}/request.jsonl
             REGEX "candidate,vtr,vcr,shr,cmr\n0,0\\.15624" FIXTURE_REQUIRED example_model)
ple_cli_test("run the example (CSV in, JSON out)"
             COMMAND $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${CMAKE_CURRENT_SOURCE_DIR}/data/request.csv
             --output-format json --kernels reference
             REGEX "\"candidate\": 1, \"vtr\": 0\\.19327" FIXTURE_REQUIRED example_model)
ple_cli_test("inspect the example" COMMAND $<TARGET_FILE:ple-inspect> ${EXAMPLE_MODEL}
             REGEX "level 1: 6 experts, 4 gates.*parameters: 14162" FIXTURE_REQUIRED example_model)
foreach(tool ple-convert ple-run ple-inspect ple-conformance)
  ple_cli_test("${tool} --help" COMMAND $<TARGET_FILE:${tool}> --help REGEX "${tool}:")
endforeach()

ple_cli_failure_test("convert without weights" "required"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --output out.ple)
ple_cli_failure_test("convert with mismatched weights"
                     "ple-convert: error: weights: tensor '[a-z0-9_.]+' has shape \\[32, 24\\], expected \\[16, 16\\]"
                     $<TARGET_FILE:ple-convert> --config ${PROJECT_SOURCE_DIR}/tests/bundles/mmoe/config.json
                     --weights ${EXAMPLE}/weights.safetensors --output ${CMAKE_CURRENT_BINARY_DIR}/never-written.ple)
ple_cli_failure_test("run a file that is not a model" "invalid model: not a PLE model file"
                     $<TARGET_FILE:ple-run> ${EXAMPLE}/config.json --input ${EXAMPLE}/request.jsonl)
ple_cli_failure_test("run a request with a missing input" "line 2: input 'item' missing"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${CMAKE_CURRENT_SOURCE_DIR}/data/missing_input.jsonl)
ple_cli_failure_test("run a request with a wrong width" "line 1: input 'context' needs 4 numbers, found 3 values"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${CMAKE_CURRENT_SOURCE_DIR}/data/wrong_width.jsonl)
ple_cli_failure_test("conformance on a directory that is not a bundle" "error: cannot open"
                     $<TARGET_FILE:ple-conformance> ${CMAKE_CURRENT_SOURCE_DIR}/data)
ple_cli_test("the C example scores the golden model"
             COMMAND $<TARGET_FILE:score_example> ${PROJECT_SOURCE_DIR}/tests/golden/v1-feed-ranker.ple
             REGEX "candidate 1 cmr 0\\.[0-9]+")
