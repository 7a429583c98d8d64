#!/usr/bin/env bash
# Our web package against ONNX Runtime Web (docs/performance.md, "The web"): our reference and
# wasmsimd paths (and, where load() picks the relaxed module, wasmrelaxed on the narrow int8
# files: Chromium on x86-64) and onnxruntime-web (pinned in bench/web/package.json; wasm backend, SIMD, one
# thread) on bench-s and bench-m-dense, float32 and int8, batches 1, 50 and 200, in node and in
# headless Chromium, interleaved rounds; then what a page downloads (gzip -9) for each.
#   bash bench/web_compare.sh [ROUNDS] [RUNS]     (defaults 5 rounds of 100 runs per sample)
# Needs the native build's bench models and ONNX exports (bench/run.sh, bench/peers/peers.sh
# export them; this script exports what is missing) and installs the rest (npm: onnxruntime-web
# into build/web-bench, never committed). Takes about 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5} runs=${2:-100}
models=bench-s,bench-m-dense
out=build/web-bench
tools/install-deps.sh web
bash bench/peers/setup.sh >&2  # python3-torch and python3-onnx for the exports
[[ -f build/bench/models/bench-s-int8narrow.ple ]] || bash bench/run.sh build --benchmark_filter=none > /dev/null
[[ -f build-web/package/ple.js ]] || bash platforms/web/build.sh
mkdir -p "$out"
cp bench/web/package.json "$out/"
(cd "$out" && npm install --no-audit --no-fund --silent)
for model in ${models//,/ }; do
  dir=build/peers/$model
  if [[ ! -f $dir/meta.json ]]; then
    /usr/bin/python3 bench/peers/export.py --config "bench/models/$model.json" --weights "build/bench/models/$model.safetensors" --out "$dir"
  fi
  # The graph inputs as raw float32 files the page can fetch (inputs.npz is a zip).
  /usr/bin/python3 -c "import numpy as np, sys
for name, x in np.load('$dir/inputs.npz').items(): x.astype(np.float32).tofile('$dir/input-%s.f32' % name)"
done
echo "--- node $(node --version)"
node bench/web/node.mjs build-web/package "$out" build/bench/models build/peers "$out/node.json" "$models" 1,50,200 "$runs" "$rounds"
echo "--- $(chromium --version 2>/dev/null)"
node bench/web/browser.mjs build-web/package "$out" build/bench/models build/peers "$out/chromium.json" "$models" 1,50,200 "$runs" "$rounds"
node bench/web/summarize.mjs "$out/node.json" "$out/chromium.json" | tee "$out/report.md"
echo
echo "What a page downloads, gzip -9 (the model excluded):"
size() { local total=0; for f in "$@"; do total=$((total + $(gzip -9c "$f" | wc -c))); done; echo "$total"; }
p=build-web/package o=$out/node_modules/onnxruntime-web/dist
theirs=$(size $o/ort.wasm.min.mjs $o/ort-wasm-simd-threaded.mjs $o/ort-wasm-simd-threaded.wasm)
for module in relaxed simd; do
  ours=$(size $p/ple.js $p/errors.js $p/features.js $p/model.js $p/ple-$module.js $p/ple-$module.wasm)
  echo "  ours ($module module): $ours bytes; onnxruntime-web (ort.wasm.min.mjs + ort-wasm-simd-threaded.mjs/.wasm): $theirs bytes; ratio 1/$((theirs / ours))" | tee -a "$out/report.md"
done
