#!/usr/bin/python3
"""Merges one peers.sh run (the JSON files of RUNS_DIR) into build/peers/peers.json and prints
a short table.

    /usr/bin/python3 bench/peers/collect.py RUNS_DIR OUT.json [--ort-version V] [--quick]

RUNS_DIR holds, as peers.sh writes them: latency-*.json (ort_bench.js / torch_bench.py:
{"latency": [...], "session": [...], "blas"?}), accuracy-*.json (accuracy.py), overhead.json
(ort_bench.js --overhead), export-*.json (export.py's meta.json, copied). The output follows
the contract of bench/peers/README.md: {"machine", "versions", "overhead_us_p50", "latency",
"session", "accuracy"} plus "checks" (ORT f32 against the float64 reference, the int8 graph's
quantization) and "blas" (what TorchScript's GEMMs ran on).
"""

import argparse
import glob
import json
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine_facts():
    lscpu = run(["lscpu"]) or ""
    model = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
    flags = re.search(r"^Flags:\s*(.+)$", lscpu, re.M)
    flags = set(flags.group(1).split()) if flags else set()
    mem = None
    with open("/proc/meminfo") as f:
        m = re.search(r"MemTotal:\s*(\d+) kB", f.read())
        mem = int(m.group(1)) * 1024 if m else None
    return {"cpu_model": model.group(1).strip() if model else None,
            "cpus": os.cpu_count(), "memory_bytes": mem,
            "kernel": platform.release(), "arch": platform.machine(),
            "flags": {f: f in flags for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                                              "avx512_vnni", "avx512_bf16", "avx_vnni")},
            "loadavg_at_end": os.getloadavg()}


def versions(ort_version, blas):
    out = {"onnxruntime-node": ort_version, "node": run(["node", "--version"]),
           "python": platform.python_version(),
           "repo_commit": run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])}
    for module in ("torch", "numpy", "onnx"):
        out[module] = run(["/usr/bin/python3", "-c", f"import {module}; print({module}.__version__)"])
    for package in ("libopenblas0-pthread", "python3-torch"):
        out[package] = run(["dpkg-query", "-W", "-f=${Version}", package])
    if blas:
        out["openblas_config"] = blas.get("openblas_get_config")
    return out


def load(path):
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir")
    parser.add_argument("out")
    parser.add_argument("--ort-version")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    latency, session, accuracy, checks, blas, exports = [], [], [], [], None, {}
    for path in sorted(glob.glob(os.path.join(args.runs_dir, "latency-*.json"))):
        part = load(path)
        latency += part["latency"]
        session += part["session"]
        if part.get("blas") and (blas is None or part["session"][0]["threads"] == 1):
            blas = part["blas"]  # the 1-thread run's (OPENBLAS_NUM_THREADS follows --threads)
    for path in sorted(glob.glob(os.path.join(args.runs_dir, "accuracy-*.json"))):
        part = load(path)
        accuracy += part["accuracy"]
        checks += part.get("checks", [])
    for path in sorted(glob.glob(os.path.join(args.runs_dir, "export-*.json"))):
        meta = load(path)
        exports[meta["model"]] = {"int8": meta["int8"], "files": meta["files"],
                                  "inputs": meta["inputs"], "candidates": meta["candidates"],
                                  "seed": meta["seed"], "torch_check": meta["check"]}
    overhead_path = os.path.join(args.runs_dir, "overhead.json")
    overhead = load(overhead_path) if os.path.exists(overhead_path) else {}

    result = {
        "machine": machine_facts(),
        "versions": versions(args.ort_version, blas),
        "quick": args.quick,
        "overhead_us_p50": overhead.get("overhead_us_p50"),
        "overhead": overhead.get("overhead"),
        "latency": latency,
        "session": session,
        "accuracy": accuracy,
        "checks": checks,
        "exports": exports,
        "blas": blas,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    # The short table: p50 per peer, model, threads, batch.
    peers = sorted({r["peer"] for r in latency})
    print(f"peers.json: {args.out}  ({result['machine']['cpu_model']}, avx512_vnni "
          f"{'yes' if result['machine']['flags']['avx512_vnni'] else 'no'}; ORT "
          f"{args.ort_version}, torch {result['versions']['torch']}, "
          f"{(blas or {}).get('openblas_get_corename', 'BLAS ?')} OpenBLAS core)")
    if result["overhead_us_p50"] is not None:
        print(f"node binding overhead: {result['overhead_us_p50']:.1f} us per call (p50)")
    keys = sorted({(r["model"], r["threads"]) for r in latency})
    batches = sorted({r["batch"] for r in latency})
    for model, threads in keys:
        print(f"\n{model}, {threads} thread(s): p50 per request (candidates/s at p50)")
        print(f"{'peer':18}" + "".join(f"{'B=' + str(b):>22}" for b in batches))
        for peer in peers:
            cells = []
            for b in batches:
                r = next((r for r in latency if (r["model"], r["threads"], r["peer"], r["batch"])
                          == (model, threads, peer, b)), None)
                cells.append(f"{r['p50_us']:10.0f} us ({r['candidates_per_s']:7.0f}/s)" if r else
                             f"{'-':>22}")
            print(f"{peer:18}" + "".join(f"{c:>22}" for c in cells))
    if session:
        print("\nsession: first / again ms, RSS growth at creation / after runs MiB, peak MiB")
        for s in session:
            mib = 1 << 20
            print(f"  {s['peer']:18} {s['model']:14} t{s['threads']}  {s['create_first_ms']:7.1f} / "
                  f"{s['create_again_ms']:6.1f}  +{(s['rss_after_create_bytes'] - s['rss_before_bytes']) / mib:5.1f}"
                  f" / +{(s['rss_after_runs_bytes'] - s['rss_before_bytes']) / mib:5.1f}  "
                  f"{s['peak_rss_bytes'] / mib:6.1f}  (file {s['model_file_bytes'] / 1e6:.1f} MB)")
    if accuracy:
        print("\naccuracy (max abs): vs own float32 / vs float64 reference / batch dependence")
        for model in sorted({r["model"] for r in accuracy}):
            for runtime in sorted({r["runtime"] for r in accuracy if r["model"] == model}):
                rows = [r for r in accuracy if (r["model"], r["runtime"]) == (model, runtime)]
                worst = lambda key: max((r[key] for r in rows if r[key] is not None), default=None)  # noqa: E731
                vf = worst("max_abs_vs_float")
                print(f"  {model:14} {runtime:18} {'-' if vf is None else f'{vf:.3g}':>9} / "
                      f"{worst('max_abs_vs_reference'):.3g} / {worst('batch_dependence_max_abs'):.3g}")
    for c in checks:
        print(f"check {c['model']}: ONNX Runtime f32 vs float64 reference: max abs "
              f"{c['onnxruntime_f32_max_abs_vs_reference']:.2e}, "
              f"{c['onnxruntime_f32_rel_vs_reference']:.2e} of the largest output: "
              f"{'ok' if c['onnxruntime_f32_within_bar'] else 'OUTSIDE'} {c['bar']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
