"""Rounding that looks at the data (docs/quantization.md, "Rounding that looks at the data"): an
independent numpy simulation of the example model's default int8 scheme (weights symmetric per
output channel in [-127, 127], activations uint8 per row, the input row per scope segment, heads
float16; embedding tables float) against float64, plain, with bias correction (each int8 layer's bias moved by
-(Wq - W) E[x], E[x] its mean input in the float model on the calibration set), and with GPTQ
rounding (each layer's weights rounded column by column, the error carried to the columns not
yet rounded through the inverse of its calibration inputs' X^T X, 1 % damping). Prints, on the
held-out and evaluation sets, click's max and mean error, the mean error of all tasks, the signed
mean shift, and the ranking by the score (top-5 overlap, Kendall's tau-b mean and worst).

    /usr/bin/python3 tests/reference/rounding_sim.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy_forward as nf  # noqa: E402
import quantization_sim as qs  # noqa: E402
from safetensors_io import load_file  # noqa: E402

ex = os.path.join(HERE, "..", "..", "examples", "feed") + "/"
config = json.load(open(ex + "config.json")); weights = load_file(ex + "weights.safetensors")[0]
def read(path):
    rows, req = [], None; req_of = []; rq = -1
    for line in open(path):
        o = json.loads(line)
        if "request" in o: req = o["request"]; rq += 1; continue
        r = dict(req); r.update(o); rows.append(r); req_of.append(rq)
    return rows, np.array(req_of)
def inputs_of(rows):
    inputs = {}
    for n in [f["name"] for f in config["features"]] + ["video_len"]:
        vals = [r[n] for r in rows]
        if n == "history":
            inputs[n] = np.array([v + [0]*(20-len(v)) for v in vals]); inputs[n+".lengths"] = np.array([len(v) for v in vals])
        else:
            inputs[n] = np.array(vals, dtype=np.float64 if n in ("user_activity","video_quality","video_len") else np.int64)
            if n == "user_activity": inputs[n] = inputs[n].reshape(-1,1)
    return inputs
req_cols = list(range(21)); cand_cols = list(range(21, 35))
def q_w(W, limit=127):
    s = np.abs(W).max(axis=1, keepdims=True) / limit; s[s == 0] = 1
    return np.clip(np.rint(W / s), -limit, limit) * s
captured = {}
def make_lin(mode, x_row, corr):
    def lin(h, w, p):
        W = w[p + ".weight"]; head = p.startswith("towers") and p.endswith(".head")
        if mode == "capture":
            captured.setdefault(p, []).append(h.copy()); out = h @ W.T
        elif mode == "float":
            out = h @ W.T
        else:
            if head: Wq = W.astype(np.float16).astype(np.float64); hq = h
            else:
                Wq = gptq_w[p] if corr == "gptq" else q_w(W)
                if h is x_row:
                    hq = np.empty_like(h); hq[:, req_cols] = qs.quantize_rows(h[:, req_cols]); hq[:, cand_cols] = qs.quantize_rows(h[:, cand_cols])
                else: hq = qs.quantize_rows(h)
            out = hq @ Wq.T
            if isinstance(corr, dict) and not head: out = out - (Wq - W) @ corr[p]
        if p + ".bias" in w: out = out + w[p + ".bias"]
        return out
    return lin
cal_rows, _ = read(ex + "calibration.jsonl")
x_cal = nf.feature_vector(config, weights, inputs_of(cal_rows))
nf._linear = make_lin("capture", None, None); nf.forward(config, weights, x_cal)
mean_in = {p: v[0].mean(axis=0) for p, v in captured.items()}
def gptq(W, X, limit=127):
    s = np.abs(W).max(axis=1) / limit; s[s == 0] = 1
    H = X.T @ X / len(X); H += 0.01 * np.mean(np.diag(H)) * np.eye(len(H))
    U = np.linalg.cholesky(np.linalg.inv(H)).T
    W = W.copy(); Q = np.zeros_like(W)
    for k in range(W.shape[1]):
        q = np.clip(np.rint(W[:, k] / s), -limit, limit) * s; Q[:, k] = q
        err = (W[:, k] - q) / U[k, k]
        W[:, k+1:] -= np.outer(err, U[k, k+1:])
    return Q
gptq_w = {p: gptq(np.asarray(weights[p + ".weight"], dtype=np.float64), v[0]) for p, v in captured.items()}
w64 = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
def tau_b(a, b):
    n = len(a); c = d = ta = tb = 0
    for i in range(n):
        for j in range(i+1, n):
            x = np.sign(a[i]-a[j]); y = np.sign(b[i]-b[j])
            if x == 0 and y == 0: continue
            if x == 0: ta += 1
            elif y == 0: tb += 1
            elif x == y: c += 1
            else: d += 1
    return (c - d) / np.sqrt((c + d + ta) * (c + d + tb))
def ranking(ref, q, req):
    top5 = []; taus = []
    for r in np.unique(req):
        i = np.where(req == r)[0]
        a = np.argsort(-ref[i], kind="stable")[:5]; b = np.argsort(-q[i], kind="stable")[:5]
        top5.append(len(set(a) & set(b)) / 5); taus.append(tau_b(ref[i], q[i]))
    return np.mean(top5), np.mean(taus), np.min(taus)
for data in ("heldout.jsonl", "evaluation.jsonl"):
    rows, req = read(ex + data); inp = inputs_of(rows)
    x = nf.feature_vector(config, weights, inp)
    nf._linear = make_lin("float", x, None); ref, _ = nf.forward(config, weights, x); sref = nf.scores(config, ref, inp)
    for name, corr in (("int8", None), ("int8 + bias correction", mean_in), ("int8 GPTQ rounding", "gptq")):
        nf._linear = make_lin("quant", x, corr); out, _ = nf.forward(config, weights, x); s = nf.scores(config, out, inp)
        e = np.abs(out - ref)
        t5, tau, wtau = ranking(sref, s, req)
        print(f"{data:18s} {name:24s} click max {e[:,0].max():.2e} mean {e[:,0].mean():.2e}; all-task mean {e.mean():.2e}; "
              f"mean signed click {np.mean(out[:,0]-ref[:,0]):+.2e}; top5 {t5:.3f} tau {tau:.4f} (worst {wtau:.4f})")
