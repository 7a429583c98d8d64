#!/usr/bin/env bash
# The peers' side of the side-by-side benchmark (bench/peers/README.md): ONNX Runtime f32 and
# int8 (node binding) and TorchScript f32 (OpenBLAS, its AVX-512 or AVX2 kernels) on the bench models,
# batches 1, 50, 200, 1000, plus accuracy / batch dependence (ours included, through ple-run)
# and the node binding's per-call cost. Writes ONE file, BUILD/peers/peers.json, and prints a
# short table.
#
# Usage: bench/peers/peers.sh [--models bench-s,bench-m-dense,bench-m,bench-l] [--threads 1,2]
#                             [--quick] [--batches 1,50,200,1000] [--runs N] [--warmup M]
#                             [--max-seconds S] [--build DIR]
#   --quick: 20 timed runs (at most 2 s) per batch instead of 200 (at most 10 s).
# Needs: build/bench/models/<model>.safetensors and <model>-{f32,int8}.ple (bench/run.sh makes
# them) and build/tools/ple-run; it builds nothing with cmake. Exports are cached in
# BUILD/peers/<model>/ and redone when the weights, the config or export.py are newer.
# One thread runs pinned to the last core (taskset); T threads to the last T cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
models=bench-s,bench-m-dense,bench-m,bench-l
threads_list=1,2
batches=1,50,200,1000
quick=0
runs=""; warmup=""; max_seconds=""
while (( $# )); do
  case $1 in
    --models) models=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --max-seconds) max_seconds=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "peers.sh: unknown argument $1 (--help)" >&2; exit 1 ;;
  esac
done
if (( quick )); then
  runs=${runs:-20}; warmup=${warmup:-3}; max_seconds=${max_seconds:-2}
else
  runs=${runs:-200}; warmup=${warmup:-20}; max_seconds=${max_seconds:-10}
fi
py=/usr/bin/python3
peers=$build/peers
out=$peers/runs
start=$(date +%s)
stamp() { echo "peers.sh: [$(( $(date +%s) - start )) s] $*" >&2; }

bash "$here/setup.sh" "$build" >&2
ort_version=$(node -p "require('$peers/node_modules/onnxruntime-node/package.json').version")
rm -rf "$out"
mkdir -p "$out"

ncpu=$(nproc)
pin() {  # pin THREADS: the taskset prefix for the last THREADS cores (none if not possible)
  local t=$1
  if command -v taskset >/dev/null && (( t <= ncpu )); then
    echo "taskset -c $(( ncpu - t ))-$(( ncpu - 1 ))"
  fi
}

identity=$peers/identity.onnx
if [[ ! -f $identity || $here/export.py -nt $identity ]]; then
  $py "$here/export.py" --identity "$identity" >&2
fi

IFS=, read -ra model_names <<< "$models"
IFS=, read -ra thread_counts <<< "$threads_list"
for model in "${model_names[@]}"; do
  config=$repo/bench/models/$model.json
  weights=$build/bench/models/$model.safetensors
  dir=$peers/$model
  [[ -f $config ]] || { echo "peers.sh: no config $config" >&2; exit 1; }
  [[ -f $weights ]] || { echo "peers.sh: no weights $weights (bench/run.sh draws them)" >&2; exit 1; }
  if [[ ! -f $dir/meta.json || $weights -nt $dir/meta.json || $config -nt $dir/meta.json \
        || $here/export.py -nt $dir/meta.json ]]; then
    stamp "export $model"
    $py "$here/export.py" --config "$config" --weights "$weights" --out "$dir" 2> "$out/export-$model.log" >&2 \
      || { cat "$out/export-$model.log" >&2; exit 1; }
  fi
  cp "$dir/meta.json" "$out/export-$model.json"

  for threads in "${thread_counts[@]}"; do
    p=$(pin "$threads")
    for precision in f32 int8; do
      stamp "onnxruntime-$precision $model threads $threads"
      $p node "$here/ort_bench.js" --model "$dir/model-$precision.onnx" --inputs "$dir" \
        --batches "$batches" --threads "$threads" --runs "$runs" --warmup "$warmup" \
        --max-seconds "$max_seconds" --out "$out/latency-$model-onnxruntime-$precision-t$threads.json"
    done
    stamp "torchscript-f32 $model threads $threads"
    $p $py "$here/torch_bench.py" --model "$dir/model.pt" --inputs "$dir" --batches "$batches" \
      --threads "$threads" --runs "$runs" --warmup "$warmup" --max-seconds "$max_seconds" \
      --openblas-coretype auto --out "$out/latency-$model-torchscript-f32-t$threads.json"
  done

  stamp "accuracy $model"
  status=0
  $(pin 1) $py "$here/accuracy.py" --inputs "$dir" --ple-models "$build/bench/models" \
    --ple-run "$build/tools/ple-run" --out "$out/accuracy-$model.json" >&2 || status=$?
  if (( status == 2 )); then
    echo "peers.sh: $model: ONNX Runtime f32 is outside the bar against the float64 reference" >&2
  elif (( status )); then
    exit "$status"
  fi
done

stamp "binding overhead"
overhead_runs=$(( quick ? 2000 : 20000 ))
$(pin 1) node "$here/ort_bench.js" --overhead --model "$identity" --runs "$overhead_runs" \
  --warmup 200 --max-seconds 30 --out "$out/overhead.json"

quick_flag=()
(( quick )) && quick_flag=(--quick)
$py "$here/collect.py" "$out" "$peers/peers.json" --ort-version "$ort_version" "${quick_flag[@]}"
stamp "done"
