#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: install what is missing, build, convert the
# bundled example model (examples/feed), rank a sample request with it, and print each task's
# AUC on the example's held-out data, then convert it to int8 (its input scales chosen on the
# example's calibration data) with an accuracy report and write
# the diagnostics report (gate activity, structure, quantization error) as build/feed-report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build --target ple-convert ple-run ple-inspect
build/converter/ple-convert --config examples/feed/config.json --weights examples/feed/weights.safetensors \
  --output build/feed-ranker.ple
echo
echo "Ranked candidates of one request (examples/feed/request.jsonl), best first:"
build/tools/ple-run build/feed-ranker.ple --input examples/feed/request.jsonl
echo
echo "Per-task AUC on the held-out data (examples/feed/heldout.jsonl: 100 requests, 1000 candidates):"
build/tools/ple-run build/feed-ranker.ple --input examples/feed/heldout.jsonl --evaluate
echo
echo "The same model converted to int8 (input scales chosen on the calibration data), and its accuracy"
echo "against float32 on the held-out data:"
build/converter/ple-convert --config examples/feed/config.json --weights examples/feed/weights.safetensors \
  --output build/feed-ranker-int8.ple --precision int8 --calibration-data examples/feed/calibration.jsonl \
  --report-data examples/feed/heldout.jsonl
echo
echo "Gate activity and quantization error of the int8 model on the held-out data (docs/diagnostics.md):"
build/tools/ple-inspect build/feed-ranker-int8.ple --activity examples/feed/heldout.jsonl \
  --float-model build/feed-ranker.ple --report build/feed-report.html
