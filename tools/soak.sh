#!/usr/bin/env bash
# Soaks the libFuzzer targets on the clang ASan+UBSan build (docs/hardening.md, "Fuzzing").
#   tools/soak.sh MINUTES [TARGET...]     every target (default) for MINUTES each
# Environment: SOAK_JOBS targets at once (default: the number of cores), SOAK_DIR where the
# corpora, logs and crashes live (default: soak/, kept between runs so each soak starts where
# the last one stopped; ignored by git).
# Builds build-asan (tools/test.sh --sanitize's configuration) when a target is missing. Prints,
# per target, the inputs run, the coverage (edges) at the start and the end, the corpus size,
# and every crash, leak or timeout file; a line per minute shows progress. Exit status 1 when
# any target found something: fix it, then commit the input under tests/fuzz/regressions/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+$ || "$1" -eq 0 ]]; then
  echo "usage: tools/soak.sh MINUTES [TARGET...]   (MINUTES >= 1)" >&2
  exit 2
fi
minutes=$1
shift
all=(fuzz_model_bytes fuzz_model_fields fuzz_request fuzz_converter_config fuzz_safetensors fuzz_request_io)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "tools/soak.sh: unknown target '$t' (one of: ${all[*]})" >&2; exit 2; }
done
jobs=${SOAK_JOBS:-$(nproc)}
dir=${SOAK_DIR:-soak}
build=build-asan

missing=()
for t in "${targets[@]}"; do [[ -x "$build/tests/fuzz/$t" ]] || missing+=("$t"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "tools/soak.sh: building ${missing[*]} in $build"
  tools/install-deps.sh sanitize
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPLE_XNNPACK=REQUIRED -DPLE_WERROR=ON -DPLE_SANITIZE=address,undefined -DPLE_FUZZ=ON -DPLE_SODIUM=REQUIRED >/dev/null
  cmake --build "$build" -j "$(nproc)" --target "${missing[@]}"
fi
# The seeds are the ones ctest uses (tests/fuzz/CMakeLists.txt): model files, configs,
# weights, request files. A target without seeds starts from its corpus alone.
seeds_of() {
  case "$1" in
    fuzz_model_bytes) echo "$build/tests/converted" ;;
    fuzz_converter_config) echo "$build/tests/fuzz/seeds/config" ;;
    fuzz_safetensors) echo "$build/tests/fuzz/seeds/safetensors" ;;
    fuzz_request_io) echo "$build/tests/fuzz/seeds/request_io" ;;
    *) echo "" ;;
  esac
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_one() {  # target: one libFuzzer run of MINUTES, its output in $dir/logs/TARGET.log
  local t=$1 seeds
  seeds=$(seeds_of "$t")
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t" "$dir/logs"
  # -fork would survive a crash and keep going, but merges its corpus only at the end; one
  # process stops at the first finding, which is what a soak before a release wants.
  "$build/tests/fuzz/$t" -max_total_time=$((minutes * 60)) -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/crashes/$t/" "$dir/corpus/$t" ${seeds:+"$seeds"} \
    >"$dir/logs/$t.log" 2>&1
}

echo "tools/soak.sh: ${targets[*]}, $minutes min each, $jobs at a time, corpora in $dir/corpus"
start=$SECONDS
pids=() running=()
status_line() {
  local line="soak: $(( (SECONDS - start) / 60 )) min:"
  for t in "${running[@]}"; do
    local last
    last=$(grep -aoE '^#[0-9]+' "$dir/logs/$t.log" 2>/dev/null | tail -n 1 || true)
    line+=" $t ${last:-#0}"
  done
  echo "$line"
}
declare -A exit_of=()
queue=("${targets[@]}")
while [[ ${#queue[@]} -gt 0 || ${#running[@]} -gt 0 ]]; do
  while [[ ${#queue[@]} -gt 0 && ${#running[@]} -lt $jobs ]]; do
    run_one "${queue[0]}" &
    pids+=($!) running+=("${queue[0]}")
    queue=("${queue[@]:1}")
  done
  sleep 60 &
  wait -n "${pids[@]}" $! 2>/dev/null || true
  still_pids=() still=()
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      still_pids+=("${pids[$i]}") still+=("${running[$i]}")
    else
      wait "${pids[$i]}" && exit_of[${running[$i]}]=0 || exit_of[${running[$i]}]=$?
      echo "soak: ${running[$i]} finished (exit ${exit_of[${running[$i]}]})"
    fi
  done
  pids=("${still_pids[@]}") running=("${still[@]}")
  [[ ${#running[@]} -eq 0 ]] || status_line
done

found=0
printf '%-24s %12s %10s %10s %8s  %s\n' target inputs "cov start" "cov end" corpus findings
for t in "${targets[@]}"; do
  log="$dir/logs/$t.log"
  runs=$(grep -aoE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  cov_start=$(grep -aoE 'INITED cov: [0-9]+' "$log" | head -n 1 | grep -oE '[0-9]+$' || echo "?")
  cov_end=$(grep -aoE '^#[0-9]+.*cov: [0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+' || echo "?")
  corpus=$(find "$dir/corpus/$t" -type f | wc -l)
  findings=$(find "$dir/crashes/$t" -type f | wc -l)
  note="none"
  if [[ $findings -gt 0 || ${exit_of[$t]:-1} -ne 0 ]]; then
    found=1
    note="$(find "$dir/crashes/$t" -type f | tr '\n' ' ')(exit ${exit_of[$t]:-?}; log $log)"
  fi
  printf '%-24s %12s %10s %10s %8s  %s\n' "$t" "$runs" "$cov_start" "$cov_end" "$corpus" "$note"
done
exit $found
