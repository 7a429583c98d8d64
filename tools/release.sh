#!/usr/bin/env bash
# Release archives of the runtime (docs/install.md, "Releases"): one per target, versioned,
# with SHA-256 checksums.
#   tools/release.sh [TARGET...]     targets: x86_64 aarch64 armv7 wasm (default: all four)
# Writes dist/ple-VERSION-PLATFORM.tar.gz (PLATFORM: linux-x86_64, linux-aarch64, linux-armv7,
# wasm32-emscripten) and dist/SHA256SUMS. Each archive unpacks to ple-VERSION-PLATFORM/ with include/ple (headers), lib (libple.a; libple.so.ABI except on wasm),
# lib/cmake/ple and lib/pkgconfig/ple.pc (relocatable), share/doc/ple (LICENSE, README) and, on
# x86_64, bin/ (ple-convert, ple-run, ple-inspect, ple-conformance, ple-bench: the tools run
# where models are converted). Libraries are built without XNNPACK and libsodium, and the tools
# without the ONNX import (libonnx), so they need
# only the C and C++ libraries. Archives are reproducible: sorted, owner 0, mtime of the last
# commit (SOURCE_DATE_EPOCH), gzip without a timestamp.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(x86_64 aarch64 armv7 wasm)
version=$(sed -n 's/^project(ple VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
jobs=$(nproc)
dist=$PWD/dist
mkdir -p "$dist"

for target in "${targets[@]}"; do
  case "$target" in
    x86_64) platform=linux-x86_64; groups=(); args=(-DPLE_BUILD_TOOLS=ON) ;;
    aarch64) platform=linux-aarch64; groups=(cross); args=(-DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake -DPLE_BUILD_TOOLS=OFF) ;;
    armv7) platform=linux-armv7; groups=(cross); args=(-DCMAKE_TOOLCHAIN_FILE=toolchains/armv7-linux-gnueabihf.cmake -DPLE_BUILD_TOOLS=OFF) ;;
    wasm) platform=wasm32-emscripten; groups=(wasm); args=(-DCMAKE_TOOLCHAIN_FILE=toolchains/wasm32-emscripten.cmake -DPLE_BUILD_TOOLS=OFF) ;;
    *) echo "release: unknown target '$target' (x86_64, aarch64, armv7, wasm)" >&2; exit 2 ;;
  esac
  name=ple-$version-$platform
  build=build-release-$target
  echo "=== $name"
  tools/install-deps.sh "${groups[@]}"
  rm -rf "$build" "$dist/stage/$name"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLE_XNNPACK=OFF -DPLE_SODIUM=OFF -DPLE_ONNX=OFF \
    -DPLE_BUILD_TESTS=OFF -DPLE_BUILD_BENCH=OFF -DPLE_PYTHON=OFF -DPLE_WERROR=ON "${args[@]}" > "$dist/$name.log"
  cmake --build "$build" -j "$jobs" >> "$dist/$name.log"
  cmake --install "$build" --prefix "$dist/stage/$name" --strip >> "$dist/$name.log"
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -C "$dist/stage" -cf - "$name" |
    gzip -n -9 > "$dist/$name.tar.gz"
  rm -rf "$dist/stage/$name"
  echo "$(du -h "$dist/$name.tar.gz" | cut -f1)  $dist/$name.tar.gz"
done
rmdir "$dist/stage" 2>/dev/null || true
(cd "$dist" && sha256sum ple-"$version"-*.tar.gz > SHA256SUMS && cat SHA256SUMS)
