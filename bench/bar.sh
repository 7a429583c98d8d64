#!/usr/bin/env bash
# The issue-6 bar, measured interleaved: on bench-m-dense at one thread (pinned to one core),
# ONNX Runtime int8 and f32 and ple int8 and f32 (with and without broadcast) run one after
# the other, ROUNDS times; each round's ratios are side by side, and the report gives the
# median over rounds of each ratio and of each p50. A shared machine's speed drifts by 2x over
# minutes (measured here), so only ratios within a round are meaningful.
# Needs what bench/compare.sh made (build/peers/bench-m-dense/ and the .ple files).
# Usage: bench/bar.sh [ROUNDS (default 7)] [BATCH (default 200)] [RUNS per measurement (default 100)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7} batch=${2:-200} runs=${3:-100}
model=bench-m-dense
dir=build/peers/$model
out=build/compare/bar
mkdir -p "$out"
rm -f "$out"/*.p50
core=$(( $(nproc) - 1 ))
ort() {  # precision
  taskset -c "$core" node bench/peers/ort_bench.js --model "$dir/model-$1.onnx" --inputs "$dir" \
    --batches "$batch" --threads 1 --runs "$runs" --warmup 10 2>/dev/null |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['latency'][0]['p50_us'])"
}
ple() {  # precision mode
  taskset -c "$core" build/tools/ple-bench "build/bench/models/$model-$1.ple" --input "$dir/request.jsonl" \
    --batch "$batch" --mode "$2" --runs "$runs" --warmup 10 --no-profile --json - |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['results'][0]['p50_us'])"
}
export NODE_PATH=$PWD/build/peers/node_modules
for r in $(seq "$rounds"); do
  for config in "ort int8" "ort f32" "ple int8 per_row" "ple int8 broadcast" "ple f32 per_row" "ple f32 broadcast"; do
    read -r who precision mode <<< "$config"
    if [[ $who == ort ]]; then value=$(ort "$precision"); else value=$(ple "$precision" "$mode"); fi
    echo "$value" >> "$out/$who-$precision${mode:+-$mode}.p50"
    echo "round $r: $config: $value us" >&2
  done
done
/usr/bin/python3 - "$out" "$batch" <<'PY'
import os, statistics, sys
out, batch = sys.argv[1], sys.argv[2]
v = {f[:-4]: [float(x) for x in open(os.path.join(out, f))] for f in os.listdir(out) if f.endswith(".p50")}
med = lambda xs: statistics.median(xs)
print("bench-m-dense, batch %s, 1 thread, %d rounds interleaved; p50 per request, median over rounds (min..max)" % (batch, len(v["ort-int8"])))
for k in sorted(v):
    print("  %-24s %8.0f us  (%.0f..%.0f)" % (k, med(v[k]), min(v[k]), max(v[k])))
def ratio(a, b):
    rs = [x / y for x, y in zip(v[a], v[b])]
    return "%.2fx (rounds %.2f..%.2f)" % (med(rs), min(rs), max(rs))
print("ratios (peer / ours, per round, median):")
print("  ple int8 without broadcast vs ONNX Runtime int8 (bar >= 2):   " + ratio("ort-int8", "ple-int8-per_row"))
print("  ple f32 without broadcast vs ONNX Runtime f32 (bar >= 1.0):   " + ratio("ort-f32", "ple-f32-per_row"))
print("  ple f32 with broadcast vs ONNX Runtime f32 (bar >= 1.3):      " + ratio("ort-f32", "ple-f32-broadcast"))
print("  ple int8 with broadcast vs ONNX Runtime int8 (goal >= 3):     " + ratio("ort-int8", "ple-int8-broadcast"))
PY
