#!/usr/bin/env bash
# First run against warm runs over fresh processes (issue "int8 at the hardware's pace", item 3):
# PROCESSES ple-bench processes, each loading MODEL, preparing a session and timing its first
# run of BATCH candidates, then 20 warm runs. Prints the medians over processes of load,
# prepare, the first run, the warm p50 and their ratio (the bar: first run within 1.5x of a
# warm run), and the session's arena and the process's resident memory.
# Usage: bench/first_run.sh [PROCESSES (default 20)] [MODEL (default bench-m-dense-int8)] [BATCH (200)] [BUILD (build)]
# Needs the bench models (bench/run.sh builds them). ~0.3 s a process here.
set -euo pipefail
cd "$(dirname "$0")/.."
processes=${1:-20}
model=${2:-bench-m-dense-int8}
batch=${3:-200}
build=${4:-build}
out=$(mktemp -d)
for ((p = 1; p <= processes; ++p)); do
  "$build/tools/ple-bench" "$build/bench/models/$model.ple" --batch "$batch" --runs 20 --warmup 0 --no-profile \
    --json "$out/p$p.json" >/dev/null
done
python3 - "$out" "$processes" "$model" "$batch" <<'PY'
import json, statistics, sys
out, processes, model, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
runs = [json.load(open(f"{out}/p{p}.json")) for p in range(1, processes + 1)]
def med(values):
    return statistics.median(values)
first = [r["results"][0]["first_run_us"] for r in runs]
warm = [r["results"][0]["p50_us"] for r in runs]
ratios = sorted(f / w for f, w in zip(first, warm))
print(f"{model}, batch {batch}, {processes} fresh processes (medians): load {med([r['load_ms'] for r in runs]):.2f} ms, "
      f"prepare {med([r['results'][0]['prepare_ms'] for r in runs]):.2f} ms, first run {med(first):.0f} us, "
      f"warm p50 {med(warm):.0f} us, first / warm {med(ratios):.2f} (range {ratios[0]:.2f}..{ratios[-1]:.2f})")
print(f"session arena {runs[0]['results'][0]['arena_bytes'] / 2**20:.2f} MiB; resident after the runs "
      f"{med([r['results'][0]['rss_bytes'] for r in runs]) / 2**20:.2f} MiB, at start "
      f"{med([r['rss_start_bytes'] for r in runs]) / 2**20:.2f} MiB, model file {runs[0]['model_file_bytes'] / 2**20:.2f} MiB")
PY
rm -rf "$out"
