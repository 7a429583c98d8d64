#!/usr/bin/env bash
# The measurements behind a cost table of `ple-convert --precision auto:` (converter/src/cost_model.cc):
# bench-m-dense (random weights) at batch 200, one thread pinned, broadcast mode, converted
# with every layer in one precision (f32, f16, int8 heads included), ple-bench's p50 in
# interleaved rounds, on one kernel path.
# Prints the median p50 per precision over the rounds, in the table's order.
# Usage: bench/cost_table.sh KERNELS (avx512vnni, avx2, ...) [ROUNDS (default 9)]
set -euo pipefail
cd "$(dirname "$0")/.."
kernels=${1:?usage: bench/cost_table.sh KERNELS [ROUNDS]} rounds=${2:-9}
build=build models=build/bench/models out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[[ -f $models/bench-m-dense.safetensors ]] || bash bench/run.sh "$build" --benchmark_filter=none >/dev/null
for precision in f32 f16 int8,heads=int8; do
  "$build/converter/ple-convert" -q -c bench/models/bench-m-dense.json -w "$models/bench-m-dense.safetensors" \
    -o "$out/${precision%%,*}.ple" -p "$precision"
done
core=$(( $(nproc) - 1 ))
p50() {  # precision
  taskset -c "$core" "$build/tools/ple-bench" "$out/$1.ple" --kernels "$kernels" --batch 200 --runs 50 --warmup 10 \
    --no-profile --json - | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['results'][0]['p50_us'])"
}
echo "bench/cost_table.sh: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $kernels, $rounds rounds" >&2
order=(f32 f16 int8)
results=$out/results
for r in $(seq "$rounds"); do
  declare -A value=()
  for precision in "${order[@]}"; do value[$precision]=$(p50 "$precision"); done
  echo "${value[f32]} ${value[f16]} ${value[int8]}" >> "$results"
  echo "round $r: f32 ${value[f32]} us, f16 ${value[f16]} us, int8 ${value[int8]} us" >&2
  order=("${order[@]:1}" "${order[0]}")
done
/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
print("bench-m-dense batch 200 p50 (us), median over rounds: f32 %.1f, f16 %.1f, int8 %.1f"
      % tuple(statistics.median(r[i] for r in rows) for i in range(3)))
PY
