#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs (compiler included), only those missing.
#   tools/install-deps.sh [GROUP...]
# Groups: (none) build and test; sanitize (clang and its sanitizer runtime); cross (aarch64 and
# armv7 cross compilers, qemu-user); wasm (emscripten); jni (OpenJDK 17, JUnit 4); mca (LLVM 19's
# llvm-mca and llvm-objdump: tools/arm_kernel_mca.py); web (emscripten, node, binaryen's wasm-dis,
# clang-19 for the relaxed-SIMD kernel,
# Debian's chromium and firefox-esr: platforms/web).
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config
          libflatbuffers-dev flatbuffers-compiler
          libxnnpack-dev libpthreadpool-dev libcpuinfo-dev
          nlohmann-json3-dev libcli11-dev catch2 libsodium-dev
          libonnx-dev libprotobuf-dev   # the converter's ONNX import (docs/architecture.md)
          python3 libxml2-utils librsvg2-bin   # the diagnostics report's checks (tests/report/)
          python3-dev pybind11-dev python3-numpy python3-pytest)  # the Python package (python/)
for group in "$@"; do
  case "$group" in
    sanitize) packages+=(clang libclang-rt-14-dev) ;;
    cross) packages+=(g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user) ;;
    wasm) packages+=(emscripten) ;;
    web) packages+=(emscripten nodejs chromium firefox-esr binaryen clang-19) ;;  # clang-19: the relaxed-SIMD kernel
    jni) packages+=(openjdk-17-jdk-headless junit4) ;;
    mca) packages+=(llvm-19) ;;
    *) echo "install-deps: unknown group '$group' (sanitize, cross, wasm, web, jni, mca)" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "install-deps: these packages are missing and this user cannot install them (not root, no sudo):" >&2
  echo "  apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
