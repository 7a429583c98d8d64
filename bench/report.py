#!/usr/bin/env python3
"""The side-by-side report of bench/compare.sh: one markdown table per model and thread count,
the ratios issue 6 sets as the bar, load and memory, thread scaling, accuracy and batch
dependence, and an SVG plot of latency against batch size (no plotting library: the SVG is
written by hand).

Usage: bench/report.py DIR [--plot FILE.svg]
DIR holds peaks.log (ple_microbench's stderr), peers.json (bench/peers/peers.sh) and
ours-<model>-<precision>-<kernels>-<mode>-<threads>.json (ple-bench --json).
Every latency is the median (p50) of one request's wall time, in microseconds.
"""

import argparse
import glob
import json
import math
import os
import re
import sys

MODELS = ["bench-s", "bench-m-dense", "bench-m", "bench-l"]
BATCHES = [1, 50, 200, 1000]

# Our configurations as compare.sh runs them: (precision, kernels, mode) -> row label.
OURS = [
    (("int8", "auto", "broadcast"), "ple int8"),
    (("int8", "auto", "per_row"), "ple int8, no broadcast"),
    (("int8", "auto", "fresh"), "ple int8, request set every run"),
    (("f32", "auto", "broadcast"), "ple f32"),
    (("f32", "auto", "per_row"), "ple f32, no broadcast"),
    (("f32", "auto", "fresh"), "ple f32, request set every run"),
    (("f32", "xnnpack", "broadcast"), "XNNPACK f32 chain (ple's xnnpack path)"),
    (("f32", "xnnpack", "per_row"), "XNNPACK f32 chain, no broadcast"),
]
PEERS = [
    ("onnxruntime-int8", "ONNX Runtime int8 (dynamic quantization)"),
    ("onnxruntime-f32", "ONNX Runtime f32"),
    ("torchscript-f32", "TorchScript f32 (OpenBLAS)"),
]


def load(directory):
    ours = {}
    for path in glob.glob(os.path.join(directory, "ours-*.json")):
        name = os.path.basename(path)[len("ours-"):-len(".json")]
        match = re.match(r"(.+)-(int8|f16|f32)-([a-z0-9_]+)-(broadcast|per_row|fresh)-(\d+)$", name)
        if not match:
            continue
        model, precision, kernels, mode, threads = match.groups()
        with open(path) as f:
            ours[(model, precision, kernels, mode, int(threads))] = json.load(f)
    with open(os.path.join(directory, "peers.json")) as f:
        peers = json.load(f)
    peaks = {}
    log = os.path.join(directory, "peaks.log")
    if os.path.exists(log):
        for line in open(log):
            m = re.search(r"peak (\S+): ([0-9.]+) G multiply-adds/s", line)
            if m:
                peaks[m.group(1)] = float(m.group(2))
    return ours, peers, peaks


def ours_p50(ours, model, config, threads, batch):
    doc = ours.get((model,) + config + (threads,))
    if doc is None:
        return None
    for r in doc["results"]:
        if r["batch"] == batch:
            return r["p50_us"]
    return None


def peer_p50(peers, peer, model, threads, batch):
    for r in peers["latency"]:
        if r["peer"] == peer and r["model"] == model and r["threads"] == threads and r["batch"] == batch:
            return r["p50_us"]
    return None


def fmt_us(us):
    if us is None:
        return "-"
    if us >= 10000:
        return "%.1f ms" % (us / 1000)
    if us >= 1000:
        return "%.2f ms" % (us / 1000)
    if us < 10:
        return ("%.1f µs" % us).replace(".0 µs", " µs")
    return "%.0f µs" % us


def series(ours, peers, model, threads):
    """(label, {batch: p50}) for every runtime measured on this model and thread count."""
    rows = []
    for config, label in OURS:
        values = {b: ours_p50(ours, model, config, threads, b) for b in BATCHES}
        if any(v is not None for v in values.values()):
            rows.append((label, values))
    for peer, label in PEERS:
        values = {b: peer_p50(peers, peer, model, threads, b) for b in BATCHES}
        if any(v is not None for v in values.values()):
            rows.append((label, values))
    return rows


def ratio(slow, fast):
    return None if slow is None or fast is None or fast == 0 else slow / fast


def bar_line(name, value, bar, higher_is_better=True, unit="x"):
    if value is None:
        return "| %s | not measured | %s | - |" % (name, bar)
    threshold = float(re.search(r"[0-9.]+", bar).group(0))
    met = value >= threshold if higher_is_better else value <= threshold
    return "| %s | %.2f%s | %s | %s |" % (name, value, unit, bar, "met" if met else "MISSED")


def session_of(peers, peer, model, threads=1):
    for s in peers["session"]:
        if s["peer"] == peer and s["model"] == model and s["threads"] == threads:
            return s
    return None


def report(ours, peers, peaks, out):
    m = peers.get("machine", {})
    v = peers.get("versions", {})
    out.append("# Side by side: ple against its peers")
    out.append("")
    out.append("Machine: %s, %s cores; load average at the end of the peers' run %s." % (
        m.get("cpu_model", "?"), m.get("cpus", "?"),
        ", ".join("%.1f" % x for x in m.get("loadavg_at_end", []))))
    if peaks:
        out.append("Single-core peaks (ple_microbench, G multiply-adds/s): " +
                   ", ".join("%s %.1f" % (k, peaks[k]) for k in sorted(peaks)) + ".")
    out.append("Peers: ONNX Runtime %s (npm onnxruntime-node, per-call binding overhead %.1f µs p50, "
               "included in its figures), TorchScript %s (python3-torch %s, %s), XNNPACK from Debian "
               "as ple's `xnnpack` kernel path (its f32 fully connected operators for every layer). "
               "Commit %s." % (
                   v.get("onnxruntime-node", "?"), peers.get("overhead_us_p50") or float("nan"),
                   v.get("torch", "?"), v.get("python3-torch", "?"), v.get("openblas_config", "?"),
                   v.get("repo_commit", "?")))
    out.append("Median (p50) wall time of one request of B candidates; \"broadcast\": request-level "
               "inputs given once per request (a request context); the peers have no such thing and "
               "get them on every row.")
    out.append("")
    threads_seen = sorted({k[4] for k in ours} | {r["threads"] for r in peers["latency"]})
    for model in MODELS:
        for threads in threads_seen:
            rows = series(ours, peers, model, threads)
            if not rows:
                continue
            out.append("## %s, %d thread%s" % (model, threads, "" if threads == 1 else "s"))
            out.append("")
            out.append("| runtime | " + " | ".join("B=%d" % b for b in BATCHES) + " |")
            out.append("| --- | " + " | ".join("---" for _ in BATCHES) + " |")
            for label, values in rows:
                out.append("| %s | %s |" % (label, " | ".join(fmt_us(values[b]) for b in BATCHES)))
            out.append("")

    # The bar: bench-m-dense, batch 200, one thread.
    model, b, t = "bench-m-dense", 200, 1
    ort_i8 = peer_p50(peers, "onnxruntime-int8", model, t, b)
    ort_f32 = peer_p50(peers, "onnxruntime-f32", model, t, b)
    ort_i8_b1 = peer_p50(peers, "onnxruntime-int8", model, t, 1)
    ort_f32_b1 = peer_p50(peers, "onnxruntime-f32", model, t, 1)
    out.append("## The bar (bench-m-dense, B=200, 1 thread; speed-ups = peer time / our time)")
    out.append("")
    out.append("| ratio | measured | bar | |")
    out.append("| --- | --- | --- | --- |")
    out.append(bar_line("ple int8 without broadcast vs ONNX Runtime int8",
                        ratio(ort_i8, ours_p50(ours, model, ("int8", "auto", "per_row"), t, b)), ">= 2x"))
    out.append(bar_line("ple f32 without broadcast vs ONNX Runtime f32",
                        ratio(ort_f32, ours_p50(ours, model, ("f32", "auto", "per_row"), t, b)), ">= 1.0x"))
    out.append(bar_line("ple f32 with broadcast vs ONNX Runtime f32",
                        ratio(ort_f32, ours_p50(ours, model, ("f32", "auto", "broadcast"), t, b)), ">= 1.3x"))
    doc = ours.get((model, "int8", "auto", "per_row", t))
    ort_session = session_of(peers, "onnxruntime-int8", model)
    if doc and ort_session:
        ours_ms = doc["load_ms"] + doc["results"][0]["prepare_ms"]
        out.append(bar_line("ple load+prepare / ONNX Runtime int8 session creation (first in process)",
                            ours_ms / ort_session["create_first_ms"], "<= 0.1", False, ""))
        out.append(bar_line("ple load+prepare / ONNX Runtime int8 session creation (again)",
                            ours_ms / ort_session["create_again_ms"], "<= 0.1", False, ""))
        ours_above = max(0, doc["peak_rss_bytes"] - doc["rss_start_bytes"] - doc["model_file_bytes"])
        ort_above = max(1, ort_session["peak_rss_bytes"] - ort_session["rss_before_bytes"] -
                        ort_session["model_file_bytes"])
        out.append(bar_line("peak resident memory above the model file, ple / ONNX Runtime (int8)",
                            ours_above / ort_above, "<= 0.333", False, ""))
    out.append(bar_line("goal: ple int8 with broadcast vs ONNX Runtime int8",
                        ratio(ort_i8, ours_p50(ours, model, ("int8", "auto", "broadcast"), t, b)), ">= 3x"))
    out.append(bar_line("goal: B=1, ple int8 vs ONNX Runtime int8",
                        ratio(ort_i8_b1, ours_p50(ours, model, ("int8", "auto", "broadcast"), t, 1)), ">= 2x"))
    out.append(bar_line("goal: B=1, ple f32 vs ONNX Runtime f32",
                        ratio(ort_f32_b1, ours_p50(ours, model, ("f32", "auto", "broadcast"), t, 1)), ">= 2x"))
    out.append("")

    # Load and memory, every model (int8 files; ours: first load in the process).
    out.append("## Load and memory (1 thread)")
    out.append("")
    out.append("| model | ple int8: file, load + prepare, peak RSS above start - file | "
               "ONNX Runtime int8: file, session creation first / again, peak RSS above start - file |")
    out.append("| --- | --- | --- |")
    for model in MODELS:
        doc = ours.get((model, "int8", "auto", "broadcast", 1))
        s = session_of(peers, "onnxruntime-int8", model)
        if not doc or not s:
            continue
        ours_above = max(0, doc["peak_rss_bytes"] - doc["rss_start_bytes"] - doc["model_file_bytes"])
        ort_above = max(0, s["peak_rss_bytes"] - s["rss_before_bytes"] - s["model_file_bytes"])
        out.append("| %s | %.1f MB, %.2f ms, %.1f MiB | %.1f MB, %.1f / %.1f ms, %.1f MiB |" % (
            model, doc["model_file_bytes"] / 1e6, doc["load_ms"] + doc["results"][0]["prepare_ms"],
            ours_above / 2**20, s["model_file_bytes"] / 1e6, s["create_first_ms"], s["create_again_ms"],
            ort_above / 2**20))
    out.append("")

    # Threads.
    if 2 in threads_seen:
        out.append("## Scaling from 1 to 2 threads (time at 1 thread / time at 2)")
        out.append("")
        out.append("| model | runtime | B=1 | B=50 | B=200 | B=1000 |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        for model in MODELS:
            one = dict(series(ours, peers, model, 1))
            two = dict(series(ours, peers, model, 2))
            for label in one:
                if label not in two:
                    continue
                cells = []
                for b in BATCHES:
                    r = ratio(one[label][b], two[label][b])
                    cells.append("-" if r is None else "%.2f" % r)
                out.append("| %s | %s | %s |" % (model, label, " | ".join(cells)))
        out.append("")

    # Accuracy and batch dependence.
    out.append("## int8 accuracy and batch dependence (max |difference| over the tasks)")
    out.append("")
    out.append("Against the same runtime's f32 on the same 1000 candidates, and one candidate "
               "scored alone against the same candidate inside the batch of 1000 (first 50 "
               "candidates). Random weights make outputs nearly constant across candidates "
               "(column: their spread), so absolute errors are small; compare runtimes with each other.")
    out.append("")
    out.append("| model | runtime | max error vs f32 | batch dependence | outputs' spread (std) |")
    out.append("| --- | --- | --- | --- | --- |")
    for model in MODELS:
        for runtime in ("onnxruntime-int8", "ple-int8", "onnxruntime-f32", "ple-f32"):
            rows = [a for a in peers["accuracy"] if a["model"] == model and a["runtime"] == runtime]
            if not rows:
                continue
            err = [a["max_abs_vs_float"] for a in rows if a.get("max_abs_vs_float") is not None]
            dep = [a["batch_dependence_max_abs"] for a in rows if a.get("batch_dependence_max_abs") is not None]
            std = [a["reference_std"] for a in rows if a.get("reference_std") is not None]
            out.append("| %s | %s | %s | %s | %s |" % (
                model, runtime, "%.2e" % max(err) if err else "-", ("%.2e" % max(dep)) if dep else "-",
                "%.1e to %.1e" % (min(std), max(std)) if std else "-"))
    out.append("")


def plot(ours, peers, path):
    """Latency (log) against batch (log), one panel per model, 1 thread."""
    width, height, pad = 300, 240, 46
    panels = [m for m in MODELS if series(ours, peers, m, 1)]
    colors = {"ple int8": "#d62728", "ple int8, no broadcast": "#ff9896", "ple f32": "#1f77b4",
              "ple f32, no broadcast": "#aec7e8", "XNNPACK f32 chain (ple's xnnpack path)": "#9467bd",
              "ONNX Runtime int8 (dynamic quantization)": "#2ca02c", "ONNX Runtime f32": "#98df8a",
              "TorchScript f32 (OpenBLAS)": "#7f7f7f"}
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="11">' % (width * len(panels) + 10, height + 150),
           '<rect width="100%" height="100%" fill="white"/>']
    x_of = lambda b, x0: x0 + pad + (math.log10(b) / 3.0) * (width - pad - 10)
    for i, model in enumerate(panels):
        x0 = i * width + 5
        rows = [(l, v) for l, v in series(ours, peers, model, 1) if l in colors]
        values = [u for _, v in rows for u in v.values() if u]
        lo = 10 ** math.floor(math.log10(min(values)))
        hi = 10 ** math.ceil(math.log10(max(values)))
        span = math.log10(hi) - math.log10(lo)
        y_of = lambda us: 20 + (height - 40) * (1 - (math.log10(us) - math.log10(lo)) / span)
        svg.append('<text x="%d" y="14" font-weight="bold">%s (1 thread)</text>' % (x0 + pad, model))
        svg.append('<rect x="%d" y="20" width="%d" height="%d" fill="none" stroke="#999"/>' % (
            x0 + pad, width - pad - 10, height - 40))
        decade = lo
        while decade <= hi * 1.001:
            y = y_of(decade)
            svg.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (
                x0 + pad, y, x0 + width - 10, y))
            svg.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (
                x0 + pad - 3, y + 4, fmt_us(decade).replace(".0 ms", " ms").replace(".00 ms", " ms")))
            decade *= 10
        for b in BATCHES:
            svg.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x_of(b, x0), height - 6, b))
        svg.append('<text x="%.1f" y="%d" text-anchor="middle">candidates per request</text>' % (
            x0 + pad + (width - pad) / 2, height + 8))
        for label, v in rows:
            points = [(x_of(b, x0), y_of(v[b])) for b in BATCHES if v.get(b)]
            svg.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
                colors[label], " ".join("%.1f,%.1f" % p for p in points)))
            for x, y in points:
                svg.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (x, y, colors[label]))
    y = height + 28
    for label, color in colors.items():
        svg.append('<rect x="10" y="%d" width="14" height="4" fill="%s"/>' % (y - 4, color))
        svg.append('<text x="30" y="%d">%s</text>' % (y, label))
        y += 15
    svg.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--plot", help="write the latency plot (SVG) here")
    args = parser.parse_args()
    ours, peers, peaks = load(args.directory)
    if not ours:
        sys.exit("report.py: no ours-*.json in %s" % args.directory)
    out = []
    report(ours, peers, peaks, out)
    print("\n".join(out))
    if args.plot:
        os.makedirs(os.path.dirname(args.plot) or ".", exist_ok=True)
        plot(ours, peers, args.plot)
        print("\nPlot: %s" % args.plot, file=sys.stderr)


if __name__ == "__main__":
    main()
