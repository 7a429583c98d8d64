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

file(READ ${CMAKE_CURRENT_SOURCE_DIR}/data/request.json EXAMPLE_REQUEST_JSON)
string(STRIP "${EXAMPLE_REQUEST_JSON}" EXAMPLE_REQUEST_JSON)

ple_cli_test("convert the example" COMMAND $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json
             --weights ${EXAMPLE}/weights.safetensors --output ${EXAMPLE_MODEL}
             REGEX "wrote .*3 tasks, 7 features" FIXTURE_SETUP example_model)
ple_cli_test("rank the example request (JSON lines in, CSV out)"
             COMMAND $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${EXAMPLE}/request.jsonl
             REGEX "request,rank,candidate,id,score,click,share,comment\n0,1,9,v5,2\.6432" FIXTURE_REQUIRED example_model)
ple_cli_test("rank the example request, top 2 with an exponent override (JSON out)"
             COMMAND $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${EXAMPLE}/request.jsonl --top-k 2
             --exponent share=0 --exponent comment=0 --output-format json --kernels reference
             REGEX "\"rank\": 1, \"candidate\": 9, \"id\": \"v5\"[^\n]*\n[^\n]*\"rank\": 2, \"candidate\": 2, \"id\": \"v215\"[^\n]*\n$"
             FIXTURE_REQUIRED example_model)
ple_cli_test("rank CSV candidates with --request"
             COMMAND $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${CMAKE_CURRENT_SOURCE_DIR}/data/request.csv
             --request "${EXAMPLE_REQUEST_JSON}"
             REGEX "0,1,2,v215,0\.96807[0-9]*,0\.5175" FIXTURE_REQUIRED example_model)
ple_cli_test("evaluate the example on its held-out data"
             COMMAND $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${EXAMPLE}/heldout.jsonl --evaluate
             REGEX "click,binary,1000,518,auc,0\.7854\nshare,binary,518,295,auc,0\.7814\ncomment,binary,518,216,auc,0\.8291"
             FIXTURE_REQUIRED example_model)
ple_cli_test("inspect the example" COMMAND $<TARGET_FILE:ple-inspect> ${EXAMPLE_MODEL}
             REGEX "history +request +sequence +table video \\(500 ids\\), max_length 20, mean pooling.*level 1: 5 experts, 3 gates.*score: click\\^1 \\* share\\^0.5 \\* comment\\^0.5 \\* f\\(video_len\\), f = Log1p.*parameters: 20052"
             FIXTURE_REQUIRED example_model)
foreach(tool ple-convert ple-run ple-inspect ple-conformance ple-bench)
  ple_cli_test("${tool} --help" COMMAND $<TARGET_FILE:${tool}> --help REGEX "(^|usage: )${tool}[: ]")
  ple_cli_test("${tool} --version" COMMAND $<TARGET_FILE:${tool}> --version
               REGEX "^${tool} ${PROJECT_VERSION} \\(C ABI ${PLE_ABI_VERSION_STRING}, model schema [0-9]+\\.[0-9]+\\.0\\)")
endforeach()

ple_cli_failure_test("convert without weights" "required"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --output out.ple)
ple_cli_failure_test("convert with mismatched weights"
                     "ple-convert: error: weights: tensor '[a-z0-9_.]+' has shape \\[32, 35\\], expected \\[16, 16\\]"
                     $<TARGET_FILE:ple-convert> --config ${PROJECT_SOURCE_DIR}/tests/bundles/mmoe/config.json
                     --weights ${EXAMPLE}/weights.safetensors --output ${CMAKE_CURRENT_BINARY_DIR}/never-written.ple)
ple_cli_failure_test("convert a framework model as native" "convert it with --from torch-rechub"
                     $<TARGET_FILE:ple-convert> --config ${PROJECT_SOURCE_DIR}/tests/bundles/rechub_ple/config.json
                     --weights ${PROJECT_SOURCE_DIR}/tests/bundles/rechub_ple/weights.safetensors
                     --output ${CMAKE_CURRENT_BINARY_DIR}/never-written.ple)
ple_cli_failure_test("run a file that is not a model" "invalid model: not a PLE model file"
                     $<TARGET_FILE:ple-run> ${EXAMPLE}/config.json --input ${EXAMPLE}/request.jsonl)
set(DATA ${CMAKE_CURRENT_SOURCE_DIR}/data)
ple_cli_failure_test("run a candidate with a missing feature" "line 3: feature 'video_category' missing"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${DATA}/missing_input.jsonl)
ple_cli_failure_test("run a candidate with a wrong width" "line 2: feature 'video_quality' needs 2 numbers, found 3 values"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${DATA}/wrong_width.jsonl)
ple_cli_failure_test("run a request with an out-of-vocabulary id"
                     "request 0 \\(line 1\\): invalid argument: feature 'user_id': id 300 .*oov policy: error"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${DATA}/oov_request.jsonl)
ple_cli_failure_test("run a request with a sequence over max_length" "feature 'history' has 21 ids, max_length is 20"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${DATA}/long_sequence.jsonl)
ple_cli_failure_test("run candidates before any request line" "line 1: a \\{\"request\": \\{...\\}\\} line must come first"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${DATA}/no_request_line.jsonl)
ple_cli_failure_test("run a request-scope feature on a candidate line" "line 2: 'hour' is a request-scope feature"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${DATA}/request_feature_on_candidate.jsonl)
ple_cli_failure_test("run CSV without --request" "give them with --request"
                     $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${DATA}/request.csv)
ple_cli_failure_test("conformance on a directory that is not a bundle" "error: cannot open"
                     $<TARGET_FILE:ple-conformance> ${CMAKE_CURRENT_SOURCE_DIR}/data)
ple_cli_test("the C example ranks with the golden v2 model"
             COMMAND $<TARGET_FILE:rank_feed_example> ${PROJECT_SOURCE_DIR}/tests/golden/v2-feed-ranker.ple
             REGEX "rank 1: video 5 score [0-9.]+ \\(click 0\\.[0-9]+, share 0\\.[0-9]+, comment 0\\.[0-9]+\\)\nrank 2: video 233")
ple_cli_test("ple-conformance converts and checks every bundle"
             COMMAND $<TARGET_FILE:ple-conformance> --quiet ${PLE_BUNDLES}
             REGEX "ple-conformance: [0-9]+ passed, 0 failed, 0 errors")
# Quantized conversions of every bundle on every kernel path built here, held to the measured
# accuracy bars (tools/conformance.h, docs/quantization.md); dense bundles also check that the
# request-level broadcast changes no bit.
foreach(precision f16 int8)
  ple_cli_test("ple-conformance checks every bundle converted as ${precision}"
               COMMAND $<TARGET_FILE:ple-conformance> --quiet --precision ${precision} ${PLE_BUNDLES}
               REGEX "ple-conformance: [0-9]+ passed, 0 failed, 0 errors")
endforeach()
ple_cli_test("convert the example to int8 with a quantization report on its held-out data" FIXTURE_SETUP example_int8_model
             COMMAND $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output feed-int8.ple --precision int8 --report-data ${EXAMPLE}/heldout.jsonl
             REGEX "precision embeddings=int8,experts=int8,gates=int8,towers=int8,heads=f16.*quantization report: int8 against float32 on 1000 candidates.*click +binary +[0-9.e+-]+ +[0-9.e+-]+ +0\\.78[0-9]+ +0\\.78[0-9]+ +[+-]0\\.000.*ranking by the score over 100 requests \\(the requests of the data\\):.*top-1 kept [01]\\.[0-9]+, top-3 [01]\\.[0-9]+, top-5 [01]\\.[0-9]+ \\(worst [01]\\.[0-9]+\\), top-10 - \\(mean overlap\\); Kendall tau-b 0\\.9")
ple_cli_test("a quantization report ranks each request of the example's evaluation set (50 candidates)"
             COMMAND $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output feed-int8-evaluation.ple --precision int8 --report-data ${EXAMPLE}/evaluation.jsonl
             REGEX "on 2000 candidates \\(40 requests\\).*ranking by the score over 40 requests \\(the requests of the data\\):.*top-1 kept [01]\\.[0-9]+, top-3 [01]\\.[0-9]+, top-5 [01]\\.[0-9]+ \\(worst [01]\\.[0-9]+\\), top-10 [01]\\.[0-9]+ \\(mean overlap\\); Kendall tau-b 0\\.9[0-9]+ \\(worst [0-9.]+\\); NDCG 0\\.9")
ple_cli_test("a quantization report on data without labels (the example's request file) gives no AUC"
             COMMAND $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output feed-int8-unlabelled.ple --precision int8 --report-data ${EXAMPLE}/request.jsonl
             REGEX "click +binary +[0-9.e+-]+ +[0-9.e+-]+ +- +- +\\(no labels\\)")
ple_cli_test("convert the example to int8 with input scales chosen on its calibration data"
             FIXTURE_SETUP example_calibrated_model
             COMMAND $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output feed-int8-calibrated.ple --precision int8 --calibration-data ${EXAMPLE}/calibration.jsonl
             REGEX "input scales chosen on [^ ]*calibration.jsonl \\(6000 candidates\\): user_id [^;]*user_activity[^;]*; predicted first-layer rounding error 0\\.[0-9]+ of one scale per segment.*precision embeddings=int8,experts=int8,gates=int8,towers=int8,heads=f16,inputs=auto")
ple_cli_test("ple-inspect names the features of each int8 input slice" FIXTURE_REQUIRED example_calibrated_model
             COMMAND $<TARGET_FILE:ple-inspect> feed-int8-calibrated.ple
             REGEX "min reader version 4.*int8 input scales, [0-9]+ slices \\(packed group 1\\): user_id[a-z_ |]*user_activity \\| video_id")
ple_cli_test("convert the example with each layer's precision chosen for top-5 0.995 (planned and verified)"
             COMMAND $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output feed-auto.ple --precision auto:top5=0.995 --calibration-data ${EXAMPLE}/calibration.jsonl
                     --report-data ${EXAMPLE}/evaluation.jsonl
             REGEX "precision plan auto:top5=0.995 on x86-avx512vnni: [0-9]+ units int8, [0-9]+ f16, [0-9]+ f32; predicted [0-9.]+ us per 200 candidates \\(all int8 [0-9.]+ us, all f32 [0-9.]+ us\\), [0-9]+ bytes.*calibration \\([^)]*\\): top5 [01]\\.[0-9]+ \\(expected [01]\\.[0-9]+\\).*evaluation \\([^)]*\\): top5 (0\\.99[5-9]|1\\.0)")
ple_cli_failure_test("convert with auto precision but no evaluation data" "plans on --calibration-data and verifies on --report-data"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output out.ple --precision auto:top5=0.99 --calibration-data ${EXAMPLE}/calibration.jsonl)
ple_cli_failure_test("convert with auto precision for an unmeasured target" "no cost table for it"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output out.ple --precision auto:top5=0.99 --target arm-dot
                     --calibration-data ${EXAMPLE}/calibration.jsonl --report-data ${EXAMPLE}/evaluation.jsonl)
ple_cli_failure_test("convert with inputs=auto but no calibration data" "give --calibration-data"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output out.ple --precision int8,inputs=auto)
ple_cli_failure_test("convert with calibration data but no int8" "give --precision int8"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output out.ple --calibration-data ${EXAMPLE}/calibration.jsonl)
ple_cli_failure_test("convert per-feature input scales for runtimes of reader version 3"
                     "per-feature input scales .* need reader version 4"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output ${CMAKE_CURRENT_BINARY_DIR}/never-written.ple --precision int8,inputs=features
                     --max-reader-version 3)
ple_cli_test("convert the example for runtimes of reader version 2"
             COMMAND $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output feed-reader2.ple --max-reader-version 2
             REGEX "runtimes of reader version 2 and newer load it \\(float32 layers unpacked\\)")
ple_cli_failure_test("convert int8 for runtimes of reader version 2" "int8 dense layers .* need reader version 3"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output ${CMAKE_CURRENT_BINARY_DIR}/never-written.ple --precision int8 --max-reader-version 2)
ple_cli_failure_test("convert with a report but no quantization" "give --precision"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output out.ple --report-data ${EXAMPLE}/heldout.jsonl)
ple_cli_failure_test("convert with an unknown layer class" "unknown layer class 'experts2'"
                     $<TARGET_FILE:ple-convert> --config ${EXAMPLE}/config.json --weights ${EXAMPLE}/weights.safetensors
                     --output out.ple --precision int8,experts2=f16)

# ple-bench (docs/ple-bench.md) on the example: JSON lines in, JSON out; from config and weights.
ple_cli_test("bench the example from its request file, JSON report"
             COMMAND $<TARGET_FILE:ple-bench> ${EXAMPLE_MODEL} --input ${EXAMPLE}/request.jsonl --batch 1,10
                     --runs 3 --warmup 1 --fresh-request --json -
             REGEX "\"peak_rss_bytes\": [0-9]+.*\"fresh_request\": true.*\"p99_us\": [0-9.e+-]+.*\"stage\": \"level 1\""
             FIXTURE_REQUIRED example_model)
ple_cli_test("bench the example converted in memory, per-row values"
             COMMAND $<TARGET_FILE:ple-bench> --config ${PROJECT_SOURCE_DIR}/tests/bundles/six_tasks/config.json
                     --weights ${PROJECT_SOURCE_DIR}/tests/bundles/six_tasks/weights.safetensors --precision f16
                     --mode per_row --batch 64 --runs 3 --no-profile --kernels reference
             REGEX "converted in memory: .*experts=f16.*kernel path reference, f16 weights.*batch 64 \\(")
ple_cli_failure_test("ple-bench: per_row needs a dense-only model" "--mode per_row needs a model whose features are all dense"
                     $<TARGET_FILE:ple-bench> ${EXAMPLE_MODEL} --mode per_row)
ple_cli_failure_test("ple-bench: a batch of 0" "--batch expects a whole number of at least 1, got '0'"
                     $<TARGET_FILE:ple-bench> ${EXAMPLE_MODEL} --batch 50,0)
ple_cli_failure_test("ple-bench: an unknown kernel path" "unknown kernel path 'avx9'"
                     $<TARGET_FILE:ple-bench> ${EXAMPLE_MODEL} --kernels avx9)
ple_cli_test("rank the example request with --threads 3 (10 candidates: one range)"
             COMMAND $<TARGET_FILE:ple-run> ${EXAMPLE_MODEL} --input ${EXAMPLE}/request.jsonl --threads 3 --max-batch 30
             REGEX "request,rank,candidate,id,score,click,share,comment\n0,1,9,v5,2\\.6432" FIXTURE_REQUIRED example_model)

# Integrity (docs/hardening.md): the trailer verified, a wrong pinned digest refused, and with
# libsodium the whole signing chain (a key pair, a signed file, its signature checked).
ple_cli_test("inspect --verify the example" COMMAND $<TARGET_FILE:ple-inspect> ${EXAMPLE_MODEL} --verify
             REGEX "sha256: [0-9a-f]+\n  integrity trailer: unsigned, data SHA-256 [0-9a-f]+ \\(verified\\)"
             FIXTURE_REQUIRED example_model)
ple_cli_failure_test("inspect with a wrong pinned SHA-256" "ple-inspect: error: .*SHA-256 is [0-9a-f]+, not the pinned 0+"
                     $<TARGET_FILE:ple-inspect> ${EXAMPLE_MODEL}
                     --sha256 0000000000000000000000000000000000000000000000000000000000000000)
if(PLE_HAVE_SODIUM)
  add_test(NAME "cli: sign a model and verify its signature"
           COMMAND ${CMAKE_COMMAND} -DCONVERT=$<TARGET_FILE:ple-convert> -DINSPECT=$<TARGET_FILE:ple-inspect>
                   -DEXAMPLE=${EXAMPLE} -DWORK=${CMAKE_CURRENT_BINARY_DIR}/signing
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/signing_cli.cmake)
  set_tests_properties("cli: sign a model and verify its signature" PROPERTIES LABELS unit)
endif()

# Encoders (docs/encoders.md): the example with encoders, served from raw values (category
# names, a fractional hour, user ids through a vocabulary) ranks exactly as from ids.
set(ENCODED_MODEL ${CMAKE_CURRENT_BINARY_DIR}/feed-encoded.ple)
ple_cli_test("convert the example with encoders"
             COMMAND $<TARGET_FILE:ple-convert> --config ${PROJECT_SOURCE_DIR}/tests/data/encoders/config.json
             --weights ${EXAMPLE}/weights.safetensors --output ${ENCODED_MODEL}
             REGEX "wrote .*3 tasks, 7 features" FIXTURE_SETUP encoded_model)
ple_cli_test("rank raw values through the model's encoders (the same ranking as from ids)"
             COMMAND $<TARGET_FILE:ple-run> ${ENCODED_MODEL} --input ${PROJECT_SOURCE_DIR}/tests/data/encoders/raw_request.jsonl
             REGEX "request,rank,candidate,id,score,click,share,comment\n0,1,9,v5,2\\.64328384,0\\.801710904" FIXTURE_REQUIRED encoded_model)
ple_cli_test("inspect shows the encoders"
             COMMAND $<TARGET_FILE:ple-inspect> ${ENCODED_MODEL}
             REGEX "user_id .*encoder: int64 vocabulary of 300 keys \\(4800 bytes\\), OOV an error.*hour .*encoder: 23 bucket boundaries.*video_category .*encoder: string vocabulary of 20 keys"
             FIXTURE_REQUIRED encoded_model)
add_test(NAME "cli: a raw value outside the vocabulary is an error naming it"
         COMMAND ${CMAKE_COMMAND} "-DCOMMAND=$<TARGET_FILE:ple-run>;${ENCODED_MODEL};--input;${PROJECT_SOURCE_DIR}/tests/data/encoders/unknown_category.jsonl"
                 "-DREGEX=line 3: feature 'video_category': .*\\('cat99'\\) is not in its vocabulary of 20"
                 "-DABSENT=${CMAKE_CURRENT_BINARY_DIR}/never-written.ple" -P ${CMAKE_CURRENT_SOURCE_DIR}/expect_failure.cmake)
set_tests_properties("cli: a raw value outside the vocabulary is an error naming it" PROPERTIES LABELS unit
                     FIXTURES_REQUIRED encoded_model)

# ONNX import (docs/importing.md, "ONNX"): a plain PyTorch PLE export from the corpus converts
# (recognized and self-checked), int8 too; a file that is not ONNX is refused.
if(PLE_HAVE_ONNX)
  ple_cli_test("convert an ONNX export (plain PyTorch PLE)"
               COMMAND $<TARGET_FILE:ple-convert> --from onnx
               --weights ${PROJECT_SOURCE_DIR}/tests/onnx_corpus/plain_ple_stack/model.onnx
               --output ${CMAKE_CURRENT_BINARY_DIR}/onnx-ple.ple --precision int8
               REGEX "wrote .*2 tasks, 1 features \\(10 floats per input row\\).*2 levels")
  ple_cli_failure_test("an ONNX import of a file that is not ONNX" "not an ONNX model"
                       $<TARGET_FILE:ple-convert> --from onnx --weights ${EXAMPLE}/config.json
                       --output ${CMAKE_CURRENT_BINARY_DIR}/never-written.ple)
endif()
if(PLE_HAVE_ONNX AND CMAKE_BINARY_DIR STREQUAL "${PROJECT_SOURCE_DIR}/build")
  # docs/importing.md's ONNX command block, run verbatim from the source directory (the build
  # directory is build/, as the README's commands assume), every line, stopping at the first error.
  add_test(NAME "docs: the ONNX command of docs/importing.md runs verbatim"
           COMMAND bash -c "sed -n '/^## ONNX/,/^## [^O]/p' docs/importing.md | awk '/^```sh/{f=1;next} /^```/{if(f)exit} f' | tee /dev/stderr | bash -e"
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties("docs: the ONNX command of docs/importing.md runs verbatim" PROPERTIES LABELS unit
                       PASS_REGULAR_EXPRESSION "wrote build/feed.ple .*2 tasks, 5 features.*from the outputs given there.*wrote build/rechub-ple-int8.ple .*2 tasks, 7 features.*precision embeddings=int8")
endif()
