#!/usr/bin/env bash
# Stripped size of the runtime library per target, against each target's budget.
#   tools/size_report.sh [native-with-xnnpack-build] [native-without-xnnpack-build] \
#                        [aarch64-build] [armv7-build] [wasm-build]
# Missing build directories are skipped. Exits 1 when a built target is over its budget.
# ELF targets: the stripped shared library (libple.so). WebAssembly has no shared library:
# the .wasm module of examples/c/rank_feed.c linked with -O2 (a complete program using the C
# API; an empty C program with printf is about 7 KB).
set -euo pipefail
cd "$(dirname "$0")/.."
x86_xnn=${1:-build} x86=${2:-build-size} a64=${3:-build-aarch64} a7=${4:-build-armv7} wasm=${5:-build-wasm}
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

row() {  # name, bytes, budget in bytes (0: none), note
  local verdict="-"
  if [[ $3 -gt 0 ]]; then
    if [[ $2 -le $3 ]]; then verdict="ok (budget $(( $3 / 1024 )) KiB)"; else verdict="OVER (budget $(( $3 / 1024 )) KiB)"; status=1; fi
  fi
  printf '| %-34s | %8d | %7.1f | %-22s | %s\n' "$1" "$2" "$(awk -v b="$2" 'BEGIN { print b / 1024 }')" "$verdict" "$4"
}

elf_size() {  # build dir, strip tool
  "$2" -o "$tmp/lib.so" "$1/runtime/libple.so.1" && stat -c %s "$tmp/lib.so"
}

echo "| target | bytes | KiB | budget | note |"
echo "| --- | ---: | ---: | --- | --- |"
if [[ -f $x86_xnn/runtime/libple.so.1 ]]; then
  xnn=$(stat -c %s "$(readlink -f /usr/lib/x86_64-linux-gnu/libXNNPACK.so)" 2>/dev/null || echo 0)
  row "x86-64, XNNPACK path" "$(elf_size "$x86_xnn" strip)" 409600 "plus Debian's libXNNPACK.so ($xnn bytes), libpthreadpool, libcpuinfo"
fi
[[ -f $x86/runtime/libple.so.1 ]] && row "x86-64, no XNNPACK" "$(elf_size "$x86" strip)" 409600 "five kernel sets: scalar, AVX2, AVX-512, AVX-512 VNNI, AVX-VNNI"
[[ -f $a64/runtime/libple.so.1 ]] && row "aarch64, no XNNPACK" "$(elf_size "$a64" aarch64-linux-gnu-strip)" 307200 "CI budget of the issue: 300 KB"
[[ -f $a7/runtime/libple.so.1 ]] && row "armv7 NEON, no XNNPACK" "$(elf_size "$a7" arm-linux-gnueabihf-strip)" 262144 ""
if [[ -f $wasm/runtime/libple.a ]]; then
  NODE_PATH=/usr/share/nodejs emcc -O2 -msimd128 examples/c/rank_feed.c "$wasm/runtime/libple.a" -I runtime/include \
    -o "$tmp/rank_feed.js" >/dev/null
  row "wasm32 SIMD128, no XNNPACK" "$(stat -c %s "$tmp/rank_feed.wasm")" 307200 "module of examples/c/rank_feed.c"
fi
exit $status
