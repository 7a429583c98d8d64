#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS: CORPUS (emptied first) collects what it finds, SEEDS
# is read; the last lines say how many inputs ran. Usage:
#   run_fuzzer.sh TARGET SECONDS CORPUS SEEDS [libFuzzer flags...]
set -euo pipefail
target=$1 seconds=$2 corpus=$3 seeds=$4
shift 4
rm -rf "$corpus"
mkdir -p "$corpus"
exec "$target" -max_total_time="$seconds" -seed=1 -max_len=65536 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  "$@" "$corpus" "$seeds"
