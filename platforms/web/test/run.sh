#!/usr/bin/env bash
# The web package's tests: builds it (platforms/web/build.sh), makes the fixtures with the native
# tools (build/, from tools/test.sh), runs the node tests, then the demo page and the README's
# example in headless Chromium. tools/test.sh --web installs emscripten and chromium first.
set -euo pipefail
cd "$(dirname "$0")/../../.."
[[ -x build/tools/ple-run && -x build/converter/ple-convert && -x build/tools/ple-inspect ]] || {
  echo "web tests: the native tools are missing: run bash tools/test.sh first" >&2
  exit 1
}
start=$SECONDS
bash platforms/web/build.sh build-web/package
bash platforms/web/test/make_fixtures.sh build build-web/fixtures
echo "--- web: node $(node --version), the package's tests"
PLE_WEB_PACKAGE=build-web/package PLE_WEB_FIXTURES=build-web/fixtures \
  node --expose-gc platforms/web/test/package.test.mjs > build-web/node-tests.tap || {
  cat build-web/node-tests.tap
  exit 1
}
grep -E '^# (tests|pass|fail|skipped)' build-web/node-tests.tap
grep -q '^# skipped 0' build-web/node-tests.tap || { echo "web: node tests were skipped" >&2; exit 1; }
echo "--- web: $(chromium --version 2>/dev/null) and $(firefox-esr --version 2>/dev/null), the demo page and the README example"
node platforms/web/test/browser_test.mjs build-web/package build-web/fixtures
echo "--- web: what a page downloads (gzip -9; the model excluded)"
for module in relaxed simd nosimd; do
  bytes=0
  for file in ple.js errors.js features.js model.js ple-$module.js ple-$module.wasm; do
    bytes=$((bytes + $(gzip -9c "build-web/package/$file" | wc -c)))
  done
  echo "web: the $module module's files: $bytes bytes"
done
echo "web: done in $((SECONDS - start)) s"
