"""A second, plain-numpy forward pass used to cross-check the torch reference.

It reads tensors by their native names straight from a {name: array} dict (no torch module,
no state_dict), so a naming or routing slip in ple_reference.py shows up as a disagreement.
Only the config resolution (defaults and merges) is shared with ple_reference.py; the feature
layer, Dice and the ranking score are written again here, row by row where that is simpler.
"""

import numpy as np

from ple_reference import resolve_config


def _activation(h, kind, slope, prelu):
    if kind == "identity":
        return h
    if kind == "relu":
        return np.maximum(h, 0.0)
    if kind == "leaky_relu":
        return np.where(h >= 0.0, h, slope * h)
    if kind == "prelu":
        return np.where(h >= 0.0, h, prelu.reshape(1, -1) * h)  # prelu: [1] or [units]
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-h))
    if kind == "tanh":
        return np.tanh(h)
    if kind == "silu":
        return h / (1.0 + np.exp(-h))
    if kind == "dice":  # slope holds the epsilon, prelu the alpha [1]
        out = np.empty_like(h)
        for n in range(h.shape[0]):
            y = h[n]
            m = y.sum() / len(y)
            v = np.sum((y - m) ** 2 + slope)
            p = 1.0 / (1.0 + np.exp(-(y - m) / np.sqrt(v)))
            out[n] = p * y + (1.0 - p) * prelu[0] * y
        return out
    raise ValueError(kind)


def _batch_norm(h, w, p, eps):
    return (h - w[p + ".running_mean"]) / np.sqrt(w[p + ".running_var"] + eps) \
        * w[p + ".weight"] + w[p + ".bias"]


def _linear(h, w, p):
    out = h @ w[p + ".weight"].T
    if p + ".bias" in w:
        out = out + w[p + ".bias"]
    return out


def _layers(h, w, prefix, n_layers, kind, slope, batch_norm, eps):
    for i in range(n_layers):
        p = f"{prefix}.layers.{i}"
        h = _linear(h, w, p + ".linear")
        if batch_norm:
            h = _batch_norm(h, w, p + ".bn", eps)
        h = _activation(h, kind, slope, w.get(p + ".prelu.weight", w.get(p + ".dice.alpha")))
    return h


def _gate(h, w, prefix, g):
    if g["type"] == "none":
        return np.ones((h.shape[0], 1))
    kind, slope = g["hidden_activation"]
    h = _layers(h, w, prefix, len(g["hidden_units"]), kind, slope, g["hidden_batch_norm"], g["eps"])
    z = _linear(h, w, prefix + ".logits.linear")
    if g["batch_norm"]:
        z = _batch_norm(z, w, prefix + ".logits.bn", g["eps"])
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _table(weights, name, dtype):
    t = np.asarray(weights[f"embeddings.{name}.weight"])
    if dtype == "f16":
        t = t.astype(np.float32).astype(np.float16)
    return t.astype(np.float64)


def _row(f, i):
    """The table row of id i under the feature's oov policy."""
    vocabulary = f["vocabulary"]
    if 0 <= i < vocabulary:
        return i
    policy, row = f["oov"]
    if policy == "hash":
        return i - (i // vocabulary) * vocabulary  # Python's // floors
    if policy == "oov_row":
        return row
    raise ValueError(f"feature {f['name']}: id {i} out of vocabulary")


def _dense_raw(f, value):
    x = np.asarray(value, dtype=np.float64).reshape(-1, f["width"]).copy()
    bad = ~np.isfinite(x)
    if bad.any():
        if f["nan"][0] != "replace":
            raise ValueError(f"feature {f['name']}: not finite")
        x[bad] = f["nan"][1]
    return x


def feature_vector(config, weights, inputs):
    """inputs: {name: array} as ple_reference's forward takes them. Returns float64 [N, W]."""
    r = resolve_config(config)
    dtypes = {t["name"]: t["dtype"] for t in r["tables"]}
    columns = []
    for f in r["features"]:
        value = inputs[f["name"]]
        if f["kind"] == "dense":
            x = _dense_raw(f, value)
            if f["normalize"] is not None:
                x = (x - np.asarray(f["normalize"][0])) / np.asarray(f["normalize"][1])
            columns.append(x)
            continue
        table = _table(weights, f["table"], dtypes[f["table"]])
        ids = np.asarray(value, dtype=np.int64)
        if f["kind"] == "sparse":
            columns.append(np.stack([table[_row(f, int(i))] for i in ids]))
            continue
        lengths = inputs.get(f["name"] + ".lengths")
        out = np.zeros((ids.shape[0], f["width"]))
        for n in range(ids.shape[0]):
            given = ids[n] if lengths is None else ids[n, :int(lengths[n])]
            assert len(given) <= f["max_length"]
            kept = [int(i) for i in given if f["padding_id"] is None or i != f["padding_id"]]
            for i in kept:
                out[n] += table[_row(f, i)]
            if kept and f["pooling"] == "mean":
                out[n] /= len(kept) + f["mean_eps"]
        columns.append(out)
    return np.concatenate(columns, axis=1)


def scores(config, outputs, inputs):
    """The ranking score per row (None without `score`). inputs: the feature dict."""
    r = resolve_config(config)
    s = r["score"]
    if s is None:
        return None
    result = np.ones(outputs.shape[0])
    for t, w in s["exponents"]:
        p = outputs[:, t]
        if r["tasks"][t]["type"] == "regression":
            p = np.maximum(p, s["regression_floor"])
        with np.errstate(divide="ignore"):
            result = result * np.power(p, w)
    tr = s["transform"]
    if tr["type"] == "none":
        return result
    if tr["source"] == "extra":
        x = np.asarray(inputs[tr["input"]], dtype=np.float64)
    else:
        f = next(f for f in r["features"] if f["name"] == tr["input"])
        x = _dense_raw(f, inputs[tr["input"]])[:, 0]
    f = {"identity": lambda v: v,
         "log1p": lambda v: np.log1p(np.maximum(v, 0.0)),
         "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-(tr["scale"] * v + tr["offset"])))}[tr["type"]]
    return result * f(x)


def forward(config, weights, x):
    """weights: {native name: array}; x: float64 [N, W] or a feature dict (see
    ple_reference.PLE.feature_blocks).
    Returns (outputs [N, T], {gate name: [N, n]} for softmax gates that are evaluated)."""
    r = resolve_config(config)
    if isinstance(x, dict):
        x = feature_vector(config, weights, x)
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    num_tasks = len(r["tasks"])
    task_in = [x] * num_tasks
    shared_in = x
    gates = {}
    for l, level in enumerate(r["levels"]):
        e = level["expert"]
        kind, slope = e["activation"]

        def expert(h, prefix):
            return _layers(h, w, prefix, len(e["units"]), kind, slope, e["batch_norm"], e["eps"])

        specific = [[expert(task_in[t], f"levels.{l}.specific_experts.{t}.{j}")
                     for j in range(level["specific_experts"][t])] for t in range(num_tasks)]
        shared = [expert(shared_in, f"levels.{l}.shared_experts.{j}")
                  for j in range(level["shared_experts"])]
        task_out = []
        for t in range(num_tasks):
            name = f"levels.{l}.task_gates.{t}"
            g = _gate(task_in[t], w, name, level["gate"])
            if level["gate"]["type"] != "none":
                gates[name] = g
            stack = np.stack(specific[t] + shared, axis=1)  # [N, n, D]
            task_out.append(np.einsum("nk,nkd->nd", g, stack))
        if level["shared_gate_used"]:
            name = f"levels.{l}.shared_gate"
            g = _gate(shared_in, w, name, level["gate"])
            if level["gate"]["type"] != "none":
                gates[name] = g
            stack = np.stack([s for per_task in specific for s in per_task] + shared, axis=1)
            shared_in = np.einsum("nk,nkd->nd", g, stack)
        task_in = task_out
    outputs = []
    for t, tower in enumerate(r["towers"]):
        kind, slope = tower["activation"]
        h = _layers(task_in[t], w, f"towers.{t}", len(tower["units"]), kind, slope,
                    tower["batch_norm"], tower["eps"])
        z = _linear(h, w, f"towers.{t}.head")[:, 0]
        if f"towers.{t}.output_bias" in w:
            z = z + w[f"towers.{t}.output_bias"][0]
        outputs.append(1.0 / (1.0 + np.exp(-z)) if r["tasks"][t]["type"] == "binary" else z)
    return np.stack(outputs, axis=1), gates
