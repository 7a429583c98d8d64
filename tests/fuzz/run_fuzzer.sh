#!/usr/bin/env bash
# Runs one libFuzzer target for RUNS inputs: CORPUS (emptied first) collects what it finds,
# SEEDS is read. Usage: run_fuzzer.sh TARGET RUNS CORPUS SEEDS [libFuzzer flags...]
set -euo pipefail
target=$1 runs=$2 corpus=$3 seeds=$4
shift 4
rm -rf "$corpus"
mkdir -p "$corpus"
exec "$target" -runs="$runs" -seed=1 -max_len=65536 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  "$@" "$corpus" "$seeds"
