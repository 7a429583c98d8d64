#!/usr/bin/env bash
# Builds and runs the test suite, installing what is missing first.
#   tools/test.sh              the native build (gcc, XNNPACK required): every test
#   tools/test.sh CONFIG       one more configuration (CI runs them all, .ci/run):
#     --sanitize  clang with AddressSanitizer + UndefinedBehaviorSanitizer
#     --tsan      clang with ThreadSanitizer, no XNNPACK (Debian's is not instrumented): the
#                 multi-threaded tests
#     --jni       the Java API on the host JVM (added to the native build)
#     --haswell   the native build's tests once more under qemu-x86_64 -cpu Haswell (AVX2, no AVX-512)
#     --aarch64   cross build, tests under qemu-aarch64 -cpu cortex-a53 (no dot-product) and -cpu max
#                 (i8mm), and the kernel and dispatch tests under -cpu cortex-a76 (dot-product, no i8mm)
#     --armv7     cross build (NEON), tests under qemu-arm
#     --arm-mca   the ARM kernels' inner loops under llvm-mca 19 (tools/arm_kernel_mca.py), from the
#                 aarch64 and armv7 builds of the two stages above
#     --wasm      emscripten build, tests under node
#     --web       the JavaScript package (platforms/web): node tests, the demo page in headless Chromium
#     --size      the runtime's stripped size per target, against its budget
#     --release   tools/release.sh x86_64, then the archive checked: checksums, contents, its
#                 ple-convert converts the example and a C program built with its ple.pc runs it
# Cross, wasm and Haswell runs use the model files the native build converted.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
native_configure() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLE_XNNPACK=REQUIRED -DPLE_SODIUM=REQUIRED -DPLE_ONNX=ON -DPLE_WERROR=ON "$@"
}
need_native_build() {  # the cross configurations read build/tests/converted
  if [[ ! -d build/tests/converted ]]; then
    tools/install-deps.sh
    native_configure
    cmake --build build -j "$jobs"
  fi
}
cross() {  # name, toolchain file, extra cmake arguments...
  local name=$1 toolchain=$2
  shift 2
  cmake -S . -B "build-$name" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DPLE_BUILD_TOOLS=OFF -DPLE_XNNPACK=OFF -DPLE_WERROR=ON -DPLE_CONVERTED_MODELS="$PWD/build/tests/converted" "$@"
  cmake --build "build-$name" -j "$jobs"
}

case "${1:-}" in
  "")
    tools/install-deps.sh
    native_configure
    cmake --build build -j "$jobs"
    ctest --test-dir build --output-on-failure -j "$jobs"
    ;;
  --sanitize)
    tools/install-deps.sh sanitize
    CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPLE_XNNPACK=REQUIRED -DPLE_WERROR=ON -DPLE_SANITIZE=address,undefined -DPLE_FUZZ=ON -DPLE_SODIUM=REQUIRED
    cmake --build build-asan -j "$jobs"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan --output-on-failure -j "$jobs"
    ;;
  --tsan)
    tools/install-deps.sh sanitize
    CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPLE_XNNPACK=OFF -DPLE_BUILD_TOOLS=OFF -DPLE_WERROR=ON -DPLE_SANITIZE=thread
    cmake --build build-tsan -j "$jobs" --target unit_tests
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build-tsan/tests/unit_tests "[threads],[c_api]"
    ;;
  --jni)
    tools/install-deps.sh jni
    native_configure -DPLE_BUILD_JNI=ON
    cmake --build build -j "$jobs"
    ctest --test-dir build --output-on-failure -R "jni:"
    ;;
  --haswell)
    tools/install-deps.sh cross
    need_native_build
    qemu=(qemu-x86_64 -cpu Haswell)
    export PLE_TEST_SCALE=reduced  # emulating AVX2 is slow: fewer batch sizes in the allocation test
    export PLE_TEST_EMULATED=1     # and fewer flipped bytes in the integrity test
    export PLE_TEST_EXPECTED_AUTO_PATH=avx2  # what AUTO must take on this CPU (kernel_dispatch_test.cc)
    for test in unit_tests kernel_tests conformance_tests no_alloc_test; do
      echo "--- $test under ${qemu[*]}"
      "${qemu[@]}" "build/tests/$test" 2>/dev/null | tail -n 2
    done
    for bundle in tests/bundles/*/; do
      name=$(basename "$bundle")
      "${qemu[@]}" build/tests/bundle_check "$bundle" "build/tests/converted/$name.ple" \
        --compare "build/tests/converted/$name.native-outputs" 2>/dev/null | grep -E "PASS|FAIL|against" || exit 1
      for precision in f16 int8; do
        "${qemu[@]}" build/tests/bundle_check "$bundle" "build/tests/converted/$name-$precision.ple" 2>/dev/null |
          grep -E "PASS|FAIL" || exit 1
      done
      "${qemu[@]}" build/tests/bundle_check "$bundle" "build/tests/converted/$name-int8all.ple" \
        --compare-exact "build/tests/converted/$name-int8all.native-outputs" 2>/dev/null | grep -E "PASS|FAIL|against" || exit 1
    done
    ;;
  --aarch64)
    tools/install-deps.sh cross
    need_native_build
    cross aarch64 toolchains/aarch64-linux-gnu.cmake
    export PLE_TEST_EMULATED=1  # fewer flipped bytes in the integrity test
    # Each CPU model with the path AUTO must take on it (kernel_dispatch_test.cc).
    # -cpu max runs every path (neon and neondot too), so the a53 run leaves out the two slowest
    # path-independent suites (no_alloc_test 182 s and the precision planner's 60 s under qemu):
    # it is there for AUTO's choice and every whole-model test with neon as the default path.
    for cpu_path in cortex-a53:neon max:neoni8mm; do
      echo "--- qemu-aarch64 -cpu ${cpu_path%:*}"
      skip=()
      [[ ${cpu_path%:*} == cortex-a53 ]] && skip=(-E "no_alloc_test|precision planner")
      QEMU_CPU=${cpu_path%:*} PLE_TEST_EXPECTED_AUTO_PATH=${cpu_path#*:} \
        ctest --test-dir build-aarch64 --output-on-failure -j "$jobs" "${skip[@]}"
    done
    echo "--- qemu-aarch64 -cpu cortex-a76: the kernels and the dispatch (~10 s)"
    QEMU_CPU=cortex-a76 PLE_TEST_EXPECTED_AUTO_PATH=neondot \
      ctest --test-dir build-aarch64 --output-on-failure -j "$jobs" -R "kernel_tests|kernel dispatch"
    ;;
  --armv7)
    tools/install-deps.sh cross
    need_native_build
    cross armv7 toolchains/armv7-linux-gnueabihf.cmake
    export PLE_TEST_EMULATED=1
    ctest --test-dir build-armv7 --output-on-failure -j "$jobs"
    ;;
  --arm-mca)
    tools/install-deps.sh mca
    for dir in build-aarch64 build-armv7; do
      [[ -d $dir/runtime ]] || { echo "test.sh --arm-mca: $dir missing: run --aarch64 and --armv7 first" >&2; exit 1; }
    done
    # Fails when an int8 or float32 GEMM loop is below its bar (85 % of peak, or the lowered
    # bar the script gives a reason for): docs/performance.md, "ARM kernels, simulated".
    python3 tools/arm_kernel_mca.py --aarch64 build-aarch64 --armv7 build-armv7 --check
    ;;
  --wasm)
    tools/install-deps.sh wasm
    need_native_build
    cross wasm toolchains/wasm32-emscripten.cmake
    PLE_TEST_EXPECTED_AUTO_PATH=wasmsimd ctest --test-dir build-wasm --output-on-failure -j "$jobs"
    ;;
  --web)
    tools/install-deps.sh web
    need_native_build
    bash platforms/web/test/run.sh
    ;;
  --size)
    tools/install-deps.sh
    cmake -S . -B build-size -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLE_XNNPACK=OFF -DPLE_BUILD_TOOLS=OFF -DPLE_BUILD_TESTS=OFF
    cmake --build build-size -j "$jobs"
    tools/size_report.sh build build-size build-aarch64 build-armv7 build-wasm
    ;;
  --release)
    rm -rf dist
    tools/release.sh x86_64
    (cd dist && sha256sum -c SHA256SUMS)
    unpacked=$(mktemp -d)
    tar -xzf dist/ple-*-linux-x86_64.tar.gz -C "$unpacked"
    root=$(echo "$unpacked"/ple-*)
    for file in include/ple/ple.h include/ple/ple.hpp lib/libple.a lib/libple.so.1 lib/cmake/ple/pleConfig.cmake \
                lib/pkgconfig/ple.pc share/doc/ple/LICENSE bin/ple-convert bin/ple-run bin/ple-inspect; do
      [[ -e $root/$file ]] || { echo "release: $file missing from the archive" >&2; exit 1; }
    done
    "$root/bin/ple-convert" --quiet --config examples/feed/config.json --weights examples/feed/weights.safetensors \
      --output "$unpacked/feed.ple"
    cc tests/consumer/consumer.c -o "$unpacked/consumer" $(PKG_CONFIG_PATH=$root/lib/pkgconfig pkg-config --cflags --libs ple) \
      -Wl,-rpath,"$root/lib"
    # Not `tee /dev/stderr`: opening it truncates a log file that stderr goes to (CI's log
    # became NUL bytes up to this point).
    consumer_output=$("$unpacked/consumer" "$unpacked/feed.ple")
    echo "$consumer_output" >&2
    grep -q "3 tasks: click share comment" <<<"$consumer_output"
    "$root/bin/ple-run" --version
    rm -rf "$unpacked"
    ;;
  *)
    echo "usage: tools/test.sh [--sanitize|--tsan|--jni|--haswell|--aarch64|--armv7|--arm-mca|--wasm|--web|--size|--release]" >&2
    exit 2
    ;;
esac
