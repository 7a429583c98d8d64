#!/usr/bin/env bash
# The measurements behind a cost table of `ple-convert --precision auto:` (converter/src/cost_model.cc).
# Four models of very different shapes (the example, bench-s, bench-m-dense, bench-m; random
# weights for the bench models), each converted with every layer in one precision (f32, f16,
# int8 heads included), ple-bench's p50 at batch 200, one thread pinned, broadcast mode, in
# interleaved rounds, on one kernel path. Then a least-squares fit of
#   p50(model, precision) = base(model) + a[precision] * multiply-adds + d[precision] * layers
# (per candidate, as ple-convert's summary counts them; d[f32] = 0: base holds what does not
# depend on the precision): a is the cost of a multiply-add, d a layer's fixed cost (int8: its
# quantization pass and epilogue, beyond float32's). Prints the medians, the fit and its residuals.
# Usage: bench/cost_table.sh KERNELS (avx512vnni, avx2, ...) [ROUNDS (default 7)]
set -euo pipefail
cd "$(dirname "$0")/.."
kernels=${1:?usage: bench/cost_table.sh KERNELS [ROUNDS]} rounds=${2:-7}
build=build models=build/bench/models out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[[ -f $models/bench-m.safetensors ]] || bash bench/run.sh "$build" --benchmark_filter=none >/dev/null
names=(example bench-s bench-m-dense bench-m)
source_of() {  # name -> "config weights"
  case $1 in
    example) echo "examples/feed/config.json examples/feed/weights.safetensors" ;;
    *) echo "bench/models/$1.json $models/$1.safetensors" ;;
  esac
}
shapes=$out/shapes
for name in "${names[@]}"; do
  read -r config weights <<< "$(source_of "$name")"
  for precision in f32 f16 int8,heads=int8; do
    summary=$("$build/converter/ple-convert" -c "$config" -w "$weights" -o "$out/$name-${precision%%,*}.ple" -p "$precision")
  done
  # "..., 23 dense layers, 20052 parameters, 6720 multiply-adds per candidate"
  echo "$name $(sed -nE 's/.* ([0-9]+) dense layers, .* ([0-9]+) multiply-adds per candidate/\2 \1/p' <<< "$summary")" >> "$shapes"
done
core=$(( $(nproc) - 1 ))
p50() {  # model file
  taskset -c "$core" "$build/tools/ple-bench" "$1" --kernels "$kernels" --batch 200 --runs 50 --warmup 10 \
    --no-profile --json - | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['results'][0]['p50_us'])"
}
echo "bench/cost_table.sh: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $kernels, $rounds rounds" >&2
order=(f32 f16 int8)
results=$out/results
for r in $(seq "$rounds"); do
  for name in "${names[@]}"; do
    for precision in "${order[@]}"; do echo "$name $precision $(p50 "$out/$name-$precision.ple")" >> "$results"; done
  done
  echo "round $r done" >&2
  order=("${order[@]:1}" "${order[0]}")
done
/usr/bin/python3 - "$shapes" "$results" <<'PY'
import collections, statistics, sys
import numpy as np
shapes = {l.split()[0]: tuple(map(float, l.split()[1:])) for l in open(sys.argv[1])}
runs = collections.defaultdict(list)
for line in open(sys.argv[2]):
    name, precision, value = line.split()
    runs[(name, precision)].append(float(value))
names, precisions = list(shapes), ["f32", "f16", "int8"]
median = {k: statistics.median(v) for k, v in runs.items()}
# unknowns: base per model, a per precision, d for f16 and int8
rows, rhs = [], []
for i, name in enumerate(names):
    macs, layers = shapes[name]
    for j, p in enumerate(precisions):
        row = [0.0] * (len(names) + 5)
        row[i] = 1.0
        row[len(names) + j] = macs
        if p != "f32":
            row[len(names) + 3 + (j - 1)] = layers
        rows.append(row)
        rhs.append(median[(name, p)])
x, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
a, d = x[len(names):len(names) + 3], x[len(names) + 3:]
for name in names:
    print(f"{name}: {shapes[name][0]:.0f} multiply-adds, {shapes[name][1]:.0f} layers; p50 "
          + ", ".join(f"{p} {median[(name, p)]:.1f} us" for p in precisions))
print("fit, us per run of 200 candidates: a (per multiply-add) f32 %.4e, f16 %.4e, int8 %.4e; "
      "d (per layer, beyond f32) f16 %.3f, int8 %.3f" % (a[0], a[1], a[2], d[0], d[1]))
fitted = np.array(rows) @ x
print("residuals (us): " + ", ".join(f"{names[k // 3]} {precisions[k % 3]} {rhs[k] - fitted[k]:+.1f}"
                                    for k in range(len(rhs))))
PY
