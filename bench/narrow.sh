#!/usr/bin/env bash
# Narrow int8 weights on AVX2 (issue "int8 at the hardware's pace", item 2), measured
# interleaved: bench-m-dense at one thread pinned to one core, `--kernels avx2`, ple-bench's p50
# of int8 with narrow weights, int8 and float32, one after the other (the order turns every
# round), ROUNDS times. Reports the median and the quartiles over rounds of each round's ratio
# f32 / narrow and f32 / int8: a shared machine drifts over minutes, so only ratios within a
# round mean anything. Runs bench/run.sh's model conversion first when a model is missing.
# Usage: bench/narrow.sh [ROUNDS (default 15)] [BATCH (default 200)] [RUNS per measurement (default 100)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15} batch=${2:-200} runs=${3:-100}
models=build/bench/models
for precision in f32 int8 int8narrow; do
  if [[ ! -f $models/bench-m-dense-$precision.ple ]]; then bash bench/run.sh build --benchmark_filter=none >/dev/null; fi
done
grep -qw avx2 /proc/cpuinfo || { echo "bench/narrow.sh: this CPU has no AVX2" >&2; exit 1; }
core=$(( $(nproc) - 1 ))
p50() {  # precision
  taskset -c "$core" build/tools/ple-bench "$models/bench-m-dense-$1.ple" --kernels avx2 --batch "$batch" \
    --runs "$runs" --warmup 10 --no-profile --json - |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['results'][0]['p50_us'])"
}
echo "bench/narrow.sh: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), batch $batch, $rounds rounds" >&2
results=$(mktemp)
trap 'rm -f "$results"' EXIT
order=(int8narrow int8 f32)
for r in $(seq "$rounds"); do
  declare -A value=()
  for precision in "${order[@]}"; do value[$precision]=$(p50 "$precision"); done
  echo "$r ${value[int8narrow]} ${value[int8]} ${value[f32]}" >> "$results"
  echo "round $r (${order[*]}): narrow ${value[int8narrow]} us, int8 ${value[int8]} us, f32 ${value[f32]} us" >&2
  order=("${order[2]}" "${order[0]}" "${order[1]}")
done
/usr/bin/python3 bench/round_ratios.py "$results" "f32 / narrow int8:2/0" "f32 / int8:2/1"
