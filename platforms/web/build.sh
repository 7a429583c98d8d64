#!/usr/bin/env bash
# Builds the web package (platforms/web/README.md): the runtime compiled three times by
# emscripten, with relaxed SIMD (one kernel compiled by clang-19), with SIMD128 and without, and
# the npm-ready folder (package.json, the ES modules, types, the three modules, LICENSE, README).
# Nothing is published.
#   platforms/web/build.sh [OUT_DIR]     (default build-web/package; needs emscripten: tools/install-deps.sh wasm)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-web/package}
jobs=${PLE_JOBS:-$(nproc)}
export NODE_PATH=/usr/share/nodejs  # Debian's emscripten runs its optimizer with node
for variant in relaxed simd nosimd; do
  simd=ON relaxed=OFF
  [[ $variant == nosimd ]] && simd=OFF
  [[ $variant == relaxed ]] && relaxed=ON
  echo "--- web: the runtime's module, SIMD128 ${simd}, relaxed SIMD ${relaxed}"
  cmake -S . -B "build-web/$variant" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE=toolchains/wasm32-emscripten.cmake -DPLE_SIMD_KERNELS=$simd -DPLE_WASM_RELAXED=$relaxed \
    -DPLE_BUILD_TOOLS=OFF -DPLE_BUILD_TESTS=OFF -DPLE_BUILD_BENCH=OFF -DPLE_XNNPACK=OFF -DPLE_WERROR=ON > /dev/null
  cmake --build "build-web/$variant" -j "$jobs" --target ple_web_module
done
# Relaxed SIMD only in the relaxed module, and there only in the narrow int8 GEMM.
relaxed_ops() { wasm-dis --enable-simd --enable-relaxed-simd "$1" | grep -c -E '\((i8x16|i16x8|i32x4|f32x4|f64x2)\.(relaxed|dot_i8x16_i7x16|laneselect)' || true; }
if (( $(relaxed_ops build-web/simd/platforms/web/ple-simd.wasm) > 0 )); then
  echo "web: ple-simd.wasm contains relaxed SIMD instructions" >&2
  exit 1
fi
# The baseline must run on engines without SIMD: no SIMD128 instruction may be in it.
if wasm-dis build-web/nosimd/platforms/web/ple-nosimd.wasm | grep -q -E '\b(v128|[if](8x16|16x8|32x4|64x2))\.'; then
  echo "web: ple-nosimd.wasm contains SIMD128 instructions" >&2
  exit 1
fi
version=$(sed -n 's/^project(ple VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
rm -rf "$out"
mkdir -p "$out"
cp platforms/web/src/*.js platforms/web/src/ple.d.ts platforms/web/README.md LICENSE "$out/"
cp build-web/relaxed/platforms/web/ple-relaxed.{js,wasm} build-web/simd/platforms/web/ple-simd.{js,wasm} \
  build-web/nosimd/platforms/web/ple-nosimd.{js,wasm} "$out/"
sed "s/@VERSION@/$version/" platforms/web/package.json.in > "$out/package.json"
echo "web: package in $out ($(du -sk "$out" | cut -f1) KiB)"
