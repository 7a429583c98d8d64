#!/usr/bin/env bash
# The side-by-side benchmark (docs/performance.md, "Against the peers"): this machine's peaks,
# ONNX Runtime and TorchScript (bench/peers/peers.sh), XNNPACK's f32 fully connected chain and
# our runtime (ple-bench), on the same bench models, weights, candidates and thread counts, in
# one run; then one table (build/compare/report.md) and the latency plot
# (docs/images/latency-vs-batch.svg). Installs what it needs (tools/install-deps.sh, setup.sh).
#
# Usage: bench/compare.sh [--quick] [--models bench-s,bench-m-dense,bench-m,bench-l] [--threads 1,2]
#   --quick: 20 timed runs per batch (at most 2 s) instead of 200 (at most 10 s).
set -euo pipefail
cd "$(dirname "$0")/.."
models=bench-s,bench-m-dense,bench-m,bench-l
threads=1,2
quick=()
runs=200 warmup=20 max_time=10
while (( $# )); do
  case $1 in
    --models) models=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --quick) quick=(--quick); runs=20 warmup=3 max_time=2; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (--help)" >&2; exit 1 ;;
  esac
done
out=build/compare
start=$SECONDS
stamp() { echo "compare.sh: [$(( SECONDS - start )) s] $*" >&2; }

tools/install-deps.sh >&2
# Builds ple-bench and ple_microbench, draws and converts the bench models, measures the peaks.
rm -rf "$out"
mkdir -p "$out"
stamp "peaks (ple_microbench)"
bash bench/run.sh build --benchmark_filter='^peak/' --benchmark_repetitions=1 >/dev/null 2>"$out/peaks.log"
grep 'peak' "$out/peaks.log" >&2
cmake --build build --target ple-bench ple-run >/dev/null

stamp "peers (bench/peers/peers.sh)"
bash bench/peers/peers.sh --models "$models" --threads "$threads" "${quick[@]}"
cp build/peers/peers.json "$out/peers.json"

ncpu=$(nproc)
pin() {  # the last $1 cores, as peers.sh pins the peers
  if command -v taskset >/dev/null && (( $1 <= ncpu )); then echo "taskset -c $(( ncpu - $1 ))-$(( ncpu - 1 ))"; fi
}
IFS=, read -ra model_list <<< "$models"
IFS=, read -ra thread_list <<< "$threads"
for model in "${model_list[@]}"; do
  input=build/peers/$model/request.jsonl  # the candidates the peers scored
  # precision, kernel path, mode: int8 and f32, XNNPACK's f32 chain; with request-level inputs
  # also without broadcast (per_row: every row brings them, as the peers get them) or, for
  # bench-m (embeddings: no per_row), with the request context set again before every run.
  configs=("int8 auto broadcast" "f32 auto broadcast" "f32 xnnpack broadcast")
  case $model in
    bench-m-dense) configs+=("int8 auto per_row" "f32 auto per_row" "f32 xnnpack per_row") ;;
    bench-m) configs+=("int8 auto fresh" "f32 auto fresh") ;;
  esac
  for t in "${thread_list[@]}"; do
    for config in "${configs[@]}"; do
      read -r precision kernels mode <<< "$config"
      flags=(--mode "$mode")
      [[ $mode == fresh ]] && flags=(--mode broadcast --fresh-request)
      stamp "ple-bench $model $precision $kernels $mode, $t thread(s)"
      # shellcheck disable=SC2046
      $(pin "$t") build/tools/ple-bench "build/bench/models/$model-$precision.ple" --input "$input" \
        --batch 1,50,200,1000 --threads "$t" --kernels "$kernels" "${flags[@]}" --runs "$runs" \
        --warmup "$warmup" --max-time "$max_time" \
        --json "$out/ours-$model-$precision-$kernels-$mode-$t.json" >/dev/null
    done
  done
done
stamp "report"
/usr/bin/python3 bench/report.py "$out" --plot docs/images/latency-vs-batch.svg | tee "$out/report.md"
stamp "done"
