#!/usr/bin/env bash
# The WebAssembly kernel paths side by side under node (bench/wasm_paths.c): reference (the
# compiler's vectorisation of the scalar loops) against wasmsimd, on the bench models.
#   bash bench/wasm_paths.sh [ROUNDS] [RUNS]     (defaults 5 and 10)
# Needs the wasm build (bash tools/test.sh --wasm) and the native one's bench models (build/bench/models).
# Prints the engine's peak for the int8 GEMM's instruction, then per model and batch each path's
# median time and its ratio to reference.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5} runs=${2:-10}
[[ -f build-wasm/runtime/libple.a ]] || { echo "bench/wasm_paths.sh: build-wasm missing: bash tools/test.sh --wasm" >&2; exit 1; }
[[ -d build/bench/models ]] || { echo "bench/wasm_paths.sh: build/bench/models missing: bash tools/test.sh" >&2; exit 1; }
out=build-wasm/bench
mkdir -p "$out"
NODE_PATH=/usr/share/nodejs emcc -O2 -msimd128 bench/wasm_paths.c build-wasm/runtime/libple.a -Iruntime/include \
  -sALLOW_MEMORY_GROWTH=1 -sNODERAWFS=1 -sEXIT_RUNTIME=1 -o "$out/wasm_paths.js"
NODE_PATH=/usr/share/nodejs emcc -O2 -msimd128 bench/wasm_peak.c -sNODERAWFS=1 -sEXIT_RUNTIME=1 -o "$out/wasm_peak.js"
node --no-experimental-fetch --no-liftoff "$out/wasm_peak.js"  # the int8 instruction's own rate (bench/wasm_peak.c)
for model in bench-s-f32 bench-s-int8 bench-m-dense-f32 bench-m-dense-int8; do
  for batch in 1 50 200; do
    node --no-experimental-fetch "$out/wasm_paths.js" "build/bench/models/$model.ple" "$batch" "$runs" "$rounds" \
      reference wasmsimd
  done
done
