#!/usr/bin/env bash
# Builds the bench models (random weights as PyTorch initialises them; bench/models/*.json),
# converts each to f32, f16, int8 and int8 with narrow weights, and runs ple_microbench on one core with repetitions,
# reporting medians. Usage: bench/run.sh [BUILD_DIR] [ple_microbench options...], e.g.
#   bench/run.sh build --benchmark_filter='model/bench-m-dense/.*/batch:200'
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target ple_microbench ple-bench-weights ple-convert -j"$(nproc)"
models="$build/bench/models"
mkdir -p "$models"
for config in bench/models/*.json; do
  name=$(basename "$config" .json)
  weights="$models/$name.safetensors"
  if [[ ! -f "$weights" || "$config" -nt "$weights" ]]; then
    echo "bench/run.sh: drawing $name's weights" >&2
    "$build/bench/ple-bench-weights" "$config" "$weights"
  fi
  for precision in f32 f16 int8 int8,narrow; do
    model="$models/$name-${precision/,/}.ple"  # int8,narrow: NAME-int8narrow.ple
    if [[ ! -f "$model" || "$weights" -nt "$model" || "$build/converter/ple-convert" -nt "$model" ]]; then
      "$build/converter/ple-convert" -q -c "$config" -w "$weights" -o "$model" -p "$precision"
    fi
  done
done
ls -l "$models"/*.ple >&2
# One core: pinned when taskset exists. Medians of 5 repetitions.
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c "$(( $(nproc) - 1 ))"); fi
PLE_BENCH_MODELS="$models" "${pin[@]}" "$build/bench/ple_microbench" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 "$@"
