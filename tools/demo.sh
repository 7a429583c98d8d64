#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: install what is missing, build, convert the
# bundled example model (examples/feed) and rank a sample request with it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build --target ple-convert ple-run ple-inspect
build/converter/ple-convert --config examples/feed/config.json --weights examples/feed/weights.safetensors \
  --output build/feed-ranker.ple
echo "Scores per candidate (examples/feed/request.jsonl: 10 candidates of one user):"
build/tools/ple-run build/feed-ranker.ple --input examples/feed/request.jsonl
