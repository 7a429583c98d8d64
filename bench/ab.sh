#!/usr/bin/env bash
# Two ple-bench binaries (a change's before and after) on the same model and candidates, one
# after the other in interleaved rounds, pinned to one core; prints each round's p50s and the
# median over rounds of after / before (below 1: the second binary is faster). A shared machine's
# speed drifts between minutes, so only the ratio within a round means something.
# Keep the "before" binary first: cp build/tools/ple-bench /tmp/ple-bench.before, then rebuild.
# Usage: bench/ab.sh BEFORE AFTER [ROUNDS (default 9)] [ple-bench options...]
#   default options: build/bench/models/bench-m-dense-int8.ple --input
#   build/peers/bench-m-dense/request.jsonl --batch 200 --mode per_row (bench/compare.sh makes them)
set -euo pipefail
cd "$(dirname "$0")/.."
if (( $# < 2 )); then sed -n '2,9p' "$0" >&2; exit 1; fi
before=$1 after=$2 rounds=${3:-9}
shift $(( $# >= 3 ? 3 : 2 ))
options=("$@")
if (( ${#options[@]} == 0 )); then
  options=(build/bench/models/bench-m-dense-int8.ple --input build/peers/bench-m-dense/request.jsonl --batch 200
           --mode per_row)
fi
core=$(( $(nproc) - 1 ))
p50() {
  taskset -c "$core" "$1" "${options[@]}" --runs 100 --warmup 10 --no-profile --json - |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['results'][0]['p50_us'])"
}
for r in $(seq "$rounds"); do
  echo "$(p50 "$before") $(p50 "$after")"
done | /usr/bin/python3 -c "
import statistics, sys
rows = [tuple(map(float, line.split())) for line in sys.stdin if line.strip()]
for i, (b, a) in enumerate(rows, 1):
    print('round %d: before %.0f us, after %.0f us, after / before %.3f' % (i, b, a, a / b))
ratios = [a / b for b, a in rows]
print('median p50: before %.0f us, after %.0f us; after / before: median %.3f (rounds %.3f..%.3f)' % (
    statistics.median(b for b, _ in rows), statistics.median(a for _, a in rows), statistics.median(ratios),
    min(ratios), max(ratios)))
"
