"""Ratios measured in interleaved rounds (bench/narrow.sh, bench/input_scales.sh): a results file
of one line per round, "ROUND value value ...", and the median and quartiles over rounds of each
round's ratio of two columns (a shared machine drifts over minutes, so only ratios within a round
mean anything).

    /usr/bin/python3 bench/round_ratios.py RESULTS "LABEL:NUMERATOR/DENOMINATOR" ...

NUMERATOR and DENOMINATOR are 0-based value columns (after the round number). Prints, per
ratio, its median and quartiles, and the median of both columns.
"""
import statistics
import sys


def quartiles(values):
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return q[0], statistics.median(values), q[2]


def main(path, specs):
    rows = [list(map(float, line.split()[1:])) for line in open(path) if line.strip()]
    for spec in specs:
        label, columns = spec.rsplit(":", 1)
        a, b = (int(c) for c in columns.split("/"))
        lo, mid, hi = quartiles([row[a] / row[b] for row in rows])
        print(f"{label}: median {mid:.2f}x, quartiles {lo:.2f}x .. {hi:.2f}x "
              f"(p50 {statistics.median(r[a] for r in rows):.1f} us / {statistics.median(r[b] for r in rows):.1f} us)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
