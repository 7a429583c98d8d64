#!/usr/bin/env bash
# Builds and runs the whole test suite (ctest), installing what is missing first.
#   tools/test.sh             native build (gcc, XNNPACK required), every test
#   tools/test.sh --sanitize  clang build with AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
if [[ "${1:-}" == "--sanitize" ]]; then
  tools/install-deps.sh --sanitize
  CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPLE_XNNPACK=REQUIRED -DPLE_WERROR=ON -DPLE_SANITIZE=address,undefined
  cmake --build build-asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
else
  tools/install-deps.sh
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLE_XNNPACK=REQUIRED -DPLE_WERROR=ON
  cmake --build build -j "$jobs"
  ctest --test-dir build --output-on-failure -j "$jobs"
fi
