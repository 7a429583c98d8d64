#!/usr/bin/env bash
# 2-thread / 1-thread time of ple-bench (docs/performance.md, "Threads"): ROUNDS interleaved
# rounds, each one ple-bench process per model timing a 1-thread and a 2-thread session (the
# order alternating from round to round); prints per model and batch the median of the
# per-round p50 ratios (their range in parentheses), then the p50 / p95 / p99 and CPU time a
# run behind them. Both sessions of a ratio share a process: on the x86 VM of
# docs/performance.md a process runs bench-s f32 at batch 50 in either ~15 or ~18.5 us for its
# whole life, whatever its thread count (with ASLR off mostly 15), which across processes
# swamps what threads change.
# Usage: bench/threads.sh [ROUNDS (default 9)] [BUILD_DIR (default build)] [extra ple-bench options...]
# Needs the bench models (bench/run.sh builds them). Takes ~7 minutes for 9 rounds here.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-9}
build=${2:-build}
shift 2 || shift $# || true
models=(bench-s-int8 bench-s-f32 bench-m-dense-int8 bench-m-dense-f32)
out=$(mktemp -d)
for ((r = 1; r <= rounds; ++r)); do
  order=1,2
  ((r % 2 == 0)) && order=2,1
  for m in "${models[@]}"; do
    "$build/tools/ple-bench" "$build/bench/models/$m.ple" --batch 1,8,50,200,1000 --threads "$order" --runs 60 \
      --warmup 5 --no-profile "$@" --json "$out/$m-r$r.json" >/dev/null
  done
  echo "threads.sh: round $r of $rounds done" >&2
done
python3 - "$out" "$rounds" "${models[@]}" <<'PY'
import json, statistics, sys
out, rounds, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def runs(m, t, r):
    return {x["batch"]: x for x in json.load(open(f"{out}/{m}-r{r}.json"))["results"] if x["threads"] == t}
batches = [1, 8, 50, 200, 1000]
print("| model | " + " | ".join(f"B={b}" for b in batches) + " |")
print("| --- |" + " ---: |" * len(batches))
for m in models:
    cells = []
    for b in batches:
        ratios = sorted(runs(m, 2, r)[b]["p50_us"] / runs(m, 1, r)[b]["p50_us"] for r in range(1, rounds + 1))
        cells.append(f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}..{ratios[-1]:.2f})")
    print(f"| {m} | " + " | ".join(cells) + " |")
print()
print("| model, batch | 1 thread: p50 / p95 / p99 us, CPU us a run | 2 threads: p50 / p95 / p99, CPU |")
print("| --- | --- | --- |")
for m in models:
    for b in batches:
        row = []
        for t in (1, 2):
            med = lambda k: statistics.median(runs(m, t, r)[b][k] for r in range(1, rounds + 1))
            row.append(f"{med('p50_us'):.1f} / {med('p95_us'):.1f} / {med('p99_us'):.1f}, {med('cpu_us_per_run'):.1f}")
        print(f"| {m}, {b} | {row[0]} | {row[1]} |")
PY
rm -rf "$out"
