#!/usr/bin/python3
"""Accuracy and batch dependence of ONNX Runtime (f32, int8) and of our runtime (ple-run on
the -f32.ple and -int8.ple files), on export.py's fixed input set.

    /usr/bin/python3 bench/peers/accuracy.py --inputs build/peers/bench-m \
        [--ple-models build/bench/models] [--ple-run build/tools/ple-run] [--alone 50] \
        [--out FILE.json]

For each runtime and task, over the N candidates of DIR/request.jsonl / DIR/inputs.npz scored
in one batch of N:
  max_abs_vs_float, mean_abs_vs_float   against the same runtime's float32 output (int8 rows;
                                        null on float32 rows)
  max_abs_vs_reference, mean_abs_vs_reference   against tests/reference's float64 forward
                                        (DIR/reference.npz, written by export.py)
  rel_vs_reference                      max_abs_vs_reference / max |reference| of the task
  reference_std                         the task's spread over the candidates (float64): with
                                        random weights outputs barely vary between candidates,
                                        so read the errors against it
  batch_dependence_max_abs              candidates 0..K-1 (K = --alone) each scored alone
                                        (batch 1) against the same candidates inside the batch
                                        of N: max |difference|
ORT runs through ort_bench.js --score (node); ple-run with --max-batch N (in batch) and
--max-batch 1 (alone), --output-format json. Prints a table; writes {"accuracy": [rows],
"checks": {...}} to --out (or stdout with --json).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# The float32 ONNX graph must equal the float64 reference within this: max |error| over every
# task and candidate, relative to the model's output scale (the largest |output| of any task).
# Not per task: with random weights a regression output can sit near 0 (bench-l's r0: |y| <=
# 0.002) while its error is float32 rounding of the ~0.1 values it is computed from.
F32_REL_BAR = 1e-5


def ort_outputs(model, inputs, alone, threads):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        path = tmp.name
    try:
        subprocess.run(["node", os.path.join(HERE, "ort_bench.js"), "--score", path, "--model", model,
                        "--inputs", inputs, "--alone", str(alone), "--threads", str(threads)],
                       check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            got = json.load(f)
    finally:
        os.unlink(path)
    return np.asarray(got["batch"], dtype=np.float64), np.asarray(got["alone"], dtype=np.float64)


def ple_outputs(ple_run, model, request, tasks, n, max_batch):
    out = subprocess.run([ple_run, model, "--input", request, "--output-format", "json",
                          "--max-batch", str(max_batch)], check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    values = np.full((n, len(tasks)), np.nan)
    for row in rows:
        values[row["candidate"]] = [row[t] for t in tasks]
    if np.isnan(values).any():
        raise SystemExit(f"accuracy.py: {model}: ple-run printed {len(rows)} rows, expected {n}")
    return values


def rows_for(runtime, model, tasks, batch, alone, float_batch, reference):
    rows = []
    k = len(alone)
    for t, task in enumerate(tasks):
        vs_ref = np.abs(batch[:, t] - reference[:, t])
        row = {"runtime": runtime, "model": model, "task": task,
               "max_abs_vs_float": None, "mean_abs_vs_float": None,
               "max_abs_vs_reference": float(vs_ref.max()),
               "mean_abs_vs_reference": float(vs_ref.mean()),
               "rel_vs_reference": float(vs_ref.max() / max(np.abs(reference[:, t]).max(), 1e-30)),
               "reference_std": float(reference[:, t].std()),
               "batch_dependence_max_abs": float(np.abs(alone[:, t] - batch[:k, t]).max()),
               "batch_dependence_candidates": k}
        if float_batch is not None:
            vs_float = np.abs(batch[:, t] - float_batch[:, t])
            row["max_abs_vs_float"] = float(vs_float.max())
            row["mean_abs_vs_float"] = float(vs_float.mean())
        rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", required=True, help="export.py's --out directory")
    parser.add_argument("--ple-models", default=os.path.join(REPO, "build", "bench", "models"))
    parser.add_argument("--ple-run", default=os.path.join(REPO, "build", "tools", "ple-run"))
    parser.add_argument("--alone", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out")
    parser.add_argument("--json", action="store_true", help="print the JSON, not the table")
    args = parser.parse_args(argv)

    with open(os.path.join(args.inputs, "meta.json")) as f:
        meta = json.load(f)
    name, tasks, n = meta["model"], meta["tasks"], meta["candidates"]
    alone = min(args.alone, n)
    reference = np.load(os.path.join(args.inputs, "reference.npz"))["outputs"]

    results = {}
    for precision in ("f32", "int8"):
        results[f"onnxruntime-{precision}"] = ort_outputs(
            os.path.join(args.inputs, f"model-{precision}.onnx"), args.inputs, alone, args.threads)
    request = os.path.join(args.inputs, "request.jsonl")
    for precision in ("f32", "int8"):
        model = os.path.join(args.ple_models, f"{name}-{precision}.ple")
        if not os.access(args.ple_run, os.X_OK):
            print(f"accuracy.py: no {args.ple_run} (the cmake build makes it): ple-{precision} "
                  "skipped", file=sys.stderr)
            continue
        if not os.path.exists(model):
            print(f"accuracy.py: {model} missing (bench/run.sh makes it): ple-{precision} skipped",
                  file=sys.stderr)
            continue
        in_batch = ple_outputs(args.ple_run, model, request, tasks, n, n)
        one = ple_outputs(args.ple_run, model, request, tasks, n, 1)
        results[f"ple-{precision}"] = (in_batch, one[:alone])

    rows = []
    for runtime, (batch, one) in results.items():
        float_batch = None
        if runtime.endswith("-int8"):
            float_batch = results.get(runtime.replace("-int8", "-f32"), (None, None))[0]
        rows += rows_for(runtime, name, tasks, batch, one, float_batch, reference)

    scale = float(np.abs(reference).max())
    checks = {"model": name, "bar": F32_REL_BAR, "output_scale": scale}
    for runtime in ("onnxruntime-f32", "ple-f32"):
        mine = [r for r in rows if r["runtime"] == runtime]
        if mine:
            key = runtime.replace("-", "_")
            checks[f"{key}_max_abs_vs_reference"] = max(r["max_abs_vs_reference"] for r in mine)
            checks[f"{key}_rel_vs_reference"] = checks[f"{key}_max_abs_vs_reference"] / scale
            checks[f"{key}_worst_task_rel_vs_reference"] = max(r["rel_vs_reference"] for r in mine)
    ort_rel = checks["onnxruntime_f32_rel_vs_reference"]
    checks["onnxruntime_f32_within_bar"] = ort_rel <= F32_REL_BAR
    result = {"accuracy": rows, "checks": [checks]}
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if args.json:
        print(text)
    else:
        print(f"{name}: ONNX Runtime f32 vs float64 reference: max abs "
              f"{checks['onnxruntime_f32_max_abs_vs_reference']:.2e} = {ort_rel:.2e} of the largest "
              f"output ({'within' if checks['onnxruntime_f32_within_bar'] else 'OUTSIDE'} "
              f"{F32_REL_BAR:g}); worst task relative to its own largest output "
              f"{checks['onnxruntime_f32_worst_task_rel_vs_reference']:.2e}")
        print(f"{'runtime':18} {'task':10} {'max|vs f32|':>12} {'mean|vs f32|':>12} "
              f"{'max|vs ref|':>12} {'batch dep.':>12} {'ref. std':>10}")
        for r in rows:
            fmt = lambda v: f"{v:12.3g}" if v is not None else f"{'-':>12}"  # noqa: E731
            print(f"{r['runtime']:18} {r['task']:10} {fmt(r['max_abs_vs_float'])} "
                  f"{fmt(r['mean_abs_vs_float'])} {fmt(r['max_abs_vs_reference'])} "
                  f"{fmt(r['batch_dependence_max_abs'])} {r['reference_std']:10.3g}")
    return 0 if checks["onnxruntime_f32_within_bar"] else 2


if __name__ == "__main__":
    sys.exit(main())
