# The diagnostics report (docs/diagnostics.md) on real models: well-formed XML, one bar per
# gate and expert with the values the bundles' independent reference stored, pictures that
# render to non-blank PNGs, and the quantization view. Needs python3 (standard library only),
# xmllint (libxml2-utils) and rsvg-convert (librsvg2-bin).
find_program(PLE_XMLLINT xmllint)
find_program(PLE_PYTHON3 NAMES python3)
find_program(PLE_RSVG_CONVERT rsvg-convert)
set(report_dir ${CMAKE_CURRENT_BINARY_DIR}/reports)
file(MAKE_DIRECTORY ${report_dir})

function(ple_report_test name)
  cmake_parse_arguments(R "" "MODEL;DATA;FLOAT_MODEL;FIXTURE" "CHECK_ARGS;CONVERT_ARGS" ${ARGN})
  string(MAKE_C_IDENTIFIER "${name}" file)
  set(convert "")
  if(R_CONVERT_ARGS)
    string(REPLACE ";" "|" convert_args "${R_CONVERT_ARGS}")  # one argument through the list below
    set(convert -DCONVERT=$<TARGET_FILE:ple-convert> "-DCONVERT_ARGS=${convert_args}")
  endif()
  if(NOT PLE_RSVG_CONVERT)
    list(APPEND R_CHECK_ARGS --no-render)  # check_report.py then fails, naming the package
  endif()
  add_test(NAME "report: ${name}"
           COMMAND ${CMAKE_COMMAND} -DINSPECT=$<TARGET_FILE:ple-inspect> -DMODEL=${R_MODEL} -DDATA=${R_DATA}
                   -DREPORT=${report_dir}/${file}.html -DFLOAT_MODEL=${R_FLOAT_MODEL} -DXMLLINT=${PLE_XMLLINT}
                   -DPYTHON=${PLE_PYTHON3} -DCHECKER=${CMAKE_CURRENT_SOURCE_DIR}/report/check_report.py
                   "-DCHECK_ARGS=${R_CHECK_ARGS};--png-dir;${report_dir}/${file}" ${convert}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/report/run_report_check.cmake)
  set_tests_properties("report: ${name}" PROPERTIES LABELS unit)
  if(R_FIXTURE)
    set_tests_properties("report: ${name}" PROPERTIES FIXTURES_REQUIRED ${R_FIXTURE})
  endif()
endfunction()

set(bundles ${CMAKE_CURRENT_SOURCE_DIR}/bundles)
ple_report_test("rechub_ple float32: bars match the reference gate weights"
                MODEL ${PLE_MODELS_DIR}/rechub_ple.ple DATA ${bundles}/rechub_ple CHECK_ARGS --bundle ${bundles}/rechub_ple)
ple_report_test("ple3_noshared_last float32: a gate that is not computed"
                MODEL ${PLE_MODELS_DIR}/ple3_noshared_last.ple DATA ${bundles}/ple3_noshared_last
                CHECK_ARGS --bundle ${bundles}/ple3_noshared_last)
ple_report_test("eight_tasks int8 against float32"
                MODEL ${PLE_MODELS_DIR}/eight_tasks-int8.ple DATA ${bundles}/eight_tasks
                FLOAT_MODEL ${PLE_MODELS_DIR}/eight_tasks.ple
                CHECK_ARGS --bundle ${bundles}/eight_tasks --quantized --float)
ple_report_test("shared_bottom: gates without layers"
                MODEL ${PLE_MODELS_DIR}/shared_bottom.ple DATA ${bundles}/shared_bottom)
ple_report_test("the example model in int8 on its labelled held-out data"
                MODEL ${report_dir}/feed-ranker-int8.ple DATA ${EXAMPLE}/heldout.jsonl FLOAT_MODEL ${EXAMPLE_MODEL}
                CONVERT_ARGS --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors --precision int8
                CHECK_ARGS --float --labels FIXTURE example_model)
