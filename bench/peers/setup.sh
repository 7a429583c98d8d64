#!/usr/bin/env bash
# Installs what the peer benchmark needs, and only what is missing (idempotent, fast when done):
#   Debian: python3-torch python3-numpy (the TorchScript peer and the float64 reference),
#           python3-onnx (export.py builds the int8 graph with it), libopenblas0-pthread (an
#           optimised BLAS for torch; it becomes libblas.so.3 through update-alternatives),
#           nodejs + npm (to drive ONNX Runtime), util-linux (taskset).
#   npm:    onnxruntime-node, version pinned in bench/peers/package.json, into
#           build/peers/node_modules (build/ is git-ignored: no downloaded code in the repo).
# ONNXRUNTIME_NODE_INSTALL=skip: the package's postinstall would download extra binaries
# (CUDA/TensorRT) from outside the npm registry and fail; the CPU library ships in the package.
# Usage: bench/peers/setup.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
peers="$build/peers"

as_root=()
if [[ $(id -u) -ne 0 ]]; then as_root=(sudo); fi

installed=()
missing=()
have_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in python3-torch python3-numpy python3-onnx libopenblas0-pthread util-linux; do
  have_deb "$pkg" || missing+=("$pkg")
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  # Debian's nodejs is 18; a nodesource 20 may already be there (then npm comes with it).
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
if (( ${#missing[@]} )); then
  echo "setup.sh: apt-get install ${missing[*]}" >&2
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
  installed+=("${missing[@]}")
fi

mkdir -p "$peers"
want=$(sed -n 's/.*"onnxruntime-node": *"\([^"]*\)".*/\1/p' "$here/package.json")
have=""
if [[ -f "$peers/node_modules/onnxruntime-node/package.json" ]]; then
  have=$(node -p "require('$peers/node_modules/onnxruntime-node/package.json').version")
fi
if [[ "$have" != "$want" || ! -f "$peers/package.json" || "$here/package.json" -nt "$peers/package.json" ]]; then
  cp "$here/package.json" "$peers/package.json"
  echo "setup.sh: npm install onnxruntime-node@$want into $peers" >&2
  (cd "$peers" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error >&2)
  installed+=("onnxruntime-node@$want (npm, $peers/node_modules)")
fi
# The binding must load (it ships libonnxruntime.so for linux x64 and arm64).
node -e "const ort=require('$peers/node_modules/onnxruntime-node'); if(!ort.InferenceSession) process.exit(1)" \
  || { echo "setup.sh: onnxruntime-node does not load" >&2; exit 1; }

blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
if (( ${#installed[@]} )); then
  printf 'setup.sh: installed %s\n' "${installed[@]}"
else
  echo "setup.sh: everything already installed"
fi
echo "setup.sh: onnxruntime-node $want in $peers/node_modules; libblas.so.3 -> ${blas:-?}"
