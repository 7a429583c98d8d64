#!/usr/bin/env bash
# The web package's and demo's test fixtures, made with the NATIVE tools (the independent side of
# every comparison): the example model as float32, all-int8, all-int8 with narrow weights (the
# relaxed module's GEMM) and with encoders, what native
# `ple-run` ranks from examples/feed/request.jsonl with each, and what `ple-inspect --activity`
# reports of the gates on the same request.
#   platforms/web/test/make_fixtures.sh NATIVE_BUILD_DIR OUT_DIR [PACKAGE_DIR]
# (PACKAGE_DIR, default build-web/package: the web package reads each bundle model's feature list.)
# Float32 expectations come from the reference kernels (native AVX2/AVX-512 float32 uses FMA,
# so only the reference is exact against WebAssembly); all-int8 from the native default path
# (int8 is bit-identical on every path and platform: docs/determinism.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
native=$1 out=$2 package=${3:-build-web/package}
mkdir -p "$out"
convert() { "$native/converter/ple-convert" --quiet --config "$1" --weights examples/feed/weights.safetensors "${@:2}"; }
convert examples/feed/config.json --output "$out/feed.ple"
convert examples/feed/config.json --output "$out/feed-int8all.ple" --precision int8,heads=int8 \
  --calibration-data examples/feed/calibration.jsonl
convert examples/feed/config.json --output "$out/feed-int8narrow.ple" --precision int8,heads=int8,narrow \
  --calibration-data examples/feed/calibration.jsonl
convert tests/data/encoders/config.json --output "$out/feed-encoded.ple"
# The same with the history sequence hashed from strings (an encoded sequence feature).
node -e 'const { readFileSync } = require("fs"), { dirname, resolve } = require("path");
  const c = JSON.parse(readFileSync(process.argv[1], "utf8"));
  c.features.find((f) => f.name === "history").encoder = { hash_buckets: 500 };
  for (const f of c.features) {  // vocabulary files: relative to the original config
    if (typeof f.encoder?.vocabulary === "string") f.encoder.vocabulary = resolve(dirname(process.argv[1]), f.encoder.vocabulary);
  }
  process.stdout.write(JSON.stringify(c, null, 1));' tests/data/encoders/config.json > "$out/encoded-sequence.config.json"
convert "$out/encoded-sequence.config.json" --output "$out/feed-encoded-sequence.ple"
node -e 'const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  lines[0].request.history = ["news", "sports", "", "日本語", "news"];
  process.stdout.write(lines.map((l) => JSON.stringify(l)).join("\n") + "\n");' tests/data/encoders/raw_request.jsonl \
  > "$out/raw_sequence_request.jsonl"
cp examples/feed/request.jsonl "$out/request.jsonl"
# 130 candidates: past the relaxed GEMM's 64-row chunks (two whole, one partial) and odd row blocks.
awk 'NR == 1 || (!/"request"/ && n++ < 130)' examples/feed/evaluation.jsonl > "$out/request130.jsonl"
cp tests/data/encoders/raw_request.jsonl "$out/raw_request.jsonl"
run() { "$native/tools/ple-run" "$@" --output-format csv; }
run "$out/feed.ple" --input "$out/request.jsonl" --kernels reference > "$out/feed.expected.csv"
run "$out/feed-int8all.ple" --input "$out/request.jsonl" > "$out/feed-int8all.expected.csv"
for model in feed-int8all feed-int8narrow; do
  run "$out/$model.ple" --input "$out/request.jsonl" > "$out/$model.expected.csv"
  run "$out/$model.ple" --input "$out/request130.jsonl" > "$out/$model.request130.expected.csv"
done
run "$out/feed-encoded.ple" --input "$out/raw_request.jsonl" --kernels reference > "$out/feed-encoded.expected.csv"
run "$out/feed-encoded-sequence.ple" --input "$out/raw_sequence_request.jsonl" --kernels reference \
  > "$out/feed-encoded-sequence.expected.csv"
for model in feed feed-int8all feed-int8narrow; do
  "$native/tools/ple-inspect" "$out/$model.ple" --activity "$out/request.jsonl" --kernels reference \
    --report "$out/$model.activity.html" > /dev/null
done
# Every conformance bundle's narrow all-int8 file (converted by the native tests) on one request of
# the bundle's rows: the bundles' layer shapes through the relaxed module's GEMM, against native.
mkdir -p "$out/bundles"
for model in "$native"/tests/converted/*-int8narrow.ple; do
  name=$(basename "$model" -int8narrow.ple)
  [[ -d tests/bundles/$name ]] || continue
  cp "$model" "$out/bundles/$name.ple"
  node platforms/web/test/bundle_request.mjs "$package" "$model" "tests/bundles/$name" > "$out/bundles/$name.jsonl"
  run "$model" --input "$out/bundles/$name.jsonl" > "$out/bundles/$name.expected.csv"
done
echo "make_fixtures: wrote $(ls "$out" | wc -l) files and $(ls "$out/bundles" | wc -l) bundle files to $out"
