#!/usr/bin/env bash
# What input slices cost (issue "int8 that keeps the ranking", item 3), measured interleaved at
# one thread pinned to one core, ple-bench's p50 in broadcast mode (the request columns' product
# once per request), the order turning every round:
#   bench-m (25 features, random weights): int8 with one scale per segment against
#     int8,inputs=features (14 request slices, 11 candidate slices: the most it can cost);
#   the example model: int8 against int8 with the slices --calibration-data chooses on
#     examples/feed/calibration.jsonl (inputs=auto).
# Reports each model's median and quartiles over rounds of the per-round ratio sliced / segments.
# Usage: bench/input_scales.sh [ROUNDS (default 9)] [BATCH (default 200)] [RUNS per measurement (default 100)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-9} batch=${2:-200} runs=${3:-100}
build=build models=build/bench/models out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[[ -f $models/bench-m.safetensors ]] || bash bench/run.sh "$build" --benchmark_filter=none >/dev/null
convert() { "$build/converter/ple-convert" -q "$@"; }
convert -c bench/models/bench-m.json -w "$models/bench-m.safetensors" -o "$out/m-segments.ple" -p int8
convert -c bench/models/bench-m.json -w "$models/bench-m.safetensors" -o "$out/m-sliced.ple" -p int8,inputs=features
ex=examples/feed
convert -c $ex/config.json -w $ex/weights.safetensors -o "$out/feed-segments.ple" -p int8
convert -c $ex/config.json -w $ex/weights.safetensors -o "$out/feed-sliced.ple" -p int8 --calibration-data $ex/calibration.jsonl
core=$(( $(nproc) - 1 ))
p50() {  # model file
  taskset -c "$core" "$build/tools/ple-bench" "$1" --batch "$batch" --runs "$runs" --warmup 10 --no-profile --json - |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['results'][0]['p50_us'])"
}
echo "bench/input_scales.sh: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), batch $batch, $rounds rounds" >&2
results=$out/results
order=(m-segments m-sliced feed-segments feed-sliced)
for r in $(seq "$rounds"); do
  declare -A value=()
  for name in "${order[@]}"; do value[$name]=$(p50 "$out/$name.ple"); done
  echo "$r ${value[m-segments]} ${value[m-sliced]} ${value[feed-segments]} ${value[feed-sliced]}" >> "$results"
  echo "round $r: bench-m ${value[m-segments]} / ${value[m-sliced]} us, example ${value[feed-segments]} / ${value[feed-sliced]} us" >&2
  order=("${order[@]:1}" "${order[0]}")
done
/usr/bin/python3 bench/round_ratios.py "$results" "bench-m inputs=features / segments:1/0" \
  "example inputs=auto / segments:3/2"
