#!/usr/bin/env bash
# 2-thread / 1-thread time of ple-bench (docs/performance.md, "Threads"): ROUNDS interleaved
# rounds, each one ple-bench process per model timing a 1-thread and a 2-thread session (the
# order alternating from round to round); prints per model and batch the median of the
# per-round p50 ratios (their range in parentheses), then the p50 / p95 / p99 and CPU time a
# run behind them. Both sessions of a ratio share a process: on the x86 VM of
# docs/performance.md a process runs bench-s f32 at batch 50 in either ~15 or ~18.5 us for its
# whole life, whatever its thread count (with ASLR off mostly 15), which across processes
# swamps what threads change.
# Each round also measures this machine's two-core ceiling as it is at that moment: the peak
# loop of ple_microbench (AVX-512 VNNI int8, else AVX2 float32) on CPU 0 alone, then on CPUs 0
# and 1 at once (a VM's two vCPUs may be SMT siblings or share a host core); the ceiling is the
# 2-thread / 1-thread time that loop would reach, 0.50 when both run at full speed.
# Usage: bench/threads.sh [ROUNDS (default 9)] [BUILD_DIR (default build)] [extra ple-bench options...]
# Needs the bench models (bench/run.sh builds them) and, for the ceiling, taskset and 2 CPUs.
# Takes ~12 s a round here (8 of them the ceiling's).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-9}
build=${2:-build}
shift 2 || shift $# || true
models=(bench-s-int8 bench-s-f32 bench-m-dense-int8 bench-m-dense-f32)
out=$(mktemp -d)
peak=""
if grep -qw avx512_vnni /proc/cpuinfo; then peak='peak/int8_dot_avx512vnni$'
elif grep -qw avx2 /proc/cpuinfo; then peak='peak/f32_fma_avx2$'; fi
microbench() {  # CPU OUTPUT: the peak loop pinned to CPU, its JSON to OUTPUT
  taskset -c "$1" "$build/bench/ple_microbench" --benchmark_filter="$peak" --benchmark_min_time=0.3s \
    --benchmark_format=json >"$2" 2>/dev/null
}
measure_ceiling() {  # ROUND
  [[ -n $peak && $(nproc) -ge 2 && -x $build/bench/ple_microbench ]] || return 0
  microbench 0 "$out/alone-r$1.json"
  microbench 0 "$out/both0-r$1.json" & microbench 1 "$out/both1-r$1.json" & wait
}
for ((r = 1; r <= rounds; ++r)); do
  measure_ceiling "$r"
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
def rate(name, r):
    return json.load(open(f"{out}/{name}-r{r}.json"))["benchmarks"][0]["macs_per_s"]
try:
    # 2-thread / 1-thread time of the peak loop: one alone against the mean of two at once.
    ceilings = sorted(0.5 * rate("alone", r) / statistics.mean([rate("both0", r), rate("both1", r)])
                      for r in range(1, rounds + 1))
    print(f"two-core ceiling (peak loop, 2 threads / 1): median {statistics.median(ceilings):.2f} "
          f"({ceilings[0]:.2f}..{ceilings[-1]:.2f}) over {rounds} rounds")
except (OSError, KeyError, IndexError, ValueError):
    print("two-core ceiling: not measured (no peak loop for this CPU, or fewer than 2 CPUs)")
print()
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
