#!/usr/bin/env python3
"""Tables for docs/performance.md from one ple_microbench run's JSON (medians of its repetitions):

    bench/run.sh build --benchmark_out=bench.json --benchmark_out_format=json
    /usr/bin/python3 bench/summarize.py bench.json

Every ratio compares benchmarks of the same run (side by side, same machine state).
Standard library only.
"""

import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    medians = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        medians[b["run_name"]] = b
    return data.get("context", {}), medians


def us(b):
    unit = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
    return b["real_time"] * unit


def header(title, *columns):
    """A table's title, then its markdown header and separator rows."""
    print(title)
    print()
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))


def main(path):
    context, m = load(path)
    print(f"Run: {context.get('date', '?')}, {context.get('num_cpus', '?')} CPUs at "
          f"{context.get('mhz_per_cpu', '?')} MHz (as reported), library build {context.get('library_build_type', '?')}.")
    print()
    header("Peaks (G multiply-adds/s, one core):", "loop", "G/s")
    for name, b in sorted(m.items()):
        if name.startswith("peak/"):
            print(f"| {name[5:]} | {b['macs_per_s'] / 1e9:.1f} |")
    print()

    header("Kernels (rows x K x N; median time, G multiply-adds/s, % of the peak of that kind):",
           "kernel", "us", "G/s", "% peak")
    for name, b in sorted(m.items()):
        if name.startswith("kernel/"):
            print(f"| {name[7:]} | {us(b):.1f} | {b['macs_per_s'] / 1e9:.1f} | {b.get('pct_peak', 0):.1f} |")
    print()

    header("Models (median us per batch, candidates/s, % of the peak of that kind):",
           "model", "precision", "kernels", "mode", "batch", "us", "candidates/s", "% peak")
    models = {}
    for name, b in m.items():
        if not name.startswith("model/"):
            continue
        _, model, precision, kernels, mode, batch = name.split("/")
        batch = int(batch.split(":")[1])
        models[(model, precision, kernels, mode, batch)] = b
    order = {"bench-s": 0, "bench-m-dense": 1, "bench-m": 2, "bench-l": 3}
    for key in sorted(models, key=lambda k: (order.get(k[0], 9), k[1], k[2], k[3], k[4])):
        b = models[key]
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {us(b):.0f} | "
              f"{b['candidates_per_s']:.0f} | {b.get('pct_peak', 0):.1f} |")
    print()

    header("Ratios within this run (time of the first / time of the second; below 1: the first is faster):",
           "model", "mode", "batch", "f32 ours / XNNPACK", "int8 / f32 ours", "f16 / f32 ours",
           "broadcast / per_row (int8)", "broadcast / per_row (f32 ours)")
    ours = sorted({k[2] for k in models if k[2] != "xnnpack"})
    for model in sorted({k[0] for k in models}, key=lambda x: order.get(x, 9)):
        for mode in ("broadcast", "per_row"):
            for batch in (1, 50, 200, 1000):
                def t(precision, kernels, mode=mode):
                    for k in ([kernels] if kernels else ours):
                        b = models.get((model, precision, k, mode, batch))
                        if b:
                            return us(b)
                    return None

                def ratio(a, b):
                    return f"{a / b:.2f}" if a and b else "-"

                f32 = t("f32", None)
                if f32 is None:
                    continue
                print(f"| {model} | {mode} | {batch} | {ratio(f32, t('f32', 'xnnpack'))} | "
                      f"{ratio(t('int8', None), f32)} | {ratio(t('f16', None), f32)} | "
                      f"{ratio(t('int8', None, 'broadcast'), t('int8', None, 'per_row'))} | "
                      f"{ratio(t('f32', None, 'broadcast'), t('f32', None, 'per_row'))} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
