"""A second, plain-numpy forward pass used to cross-check the torch reference.

It reads tensors by their native names straight from a {name: array} dict (no torch module,
no state_dict), so a naming or routing slip in ple_reference.py shows up as a disagreement.
Only the config resolution (defaults and merges) is shared with ple_reference.py.
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
        h = _activation(h, kind, slope, w.get(p + ".prelu.weight"))
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


def forward(config, weights, x):
    """weights: {native name: float64 array}; x: float64 [N, W].
    Returns (outputs [N, T], {gate name: [N, n]} for softmax gates that are evaluated)."""
    r = resolve_config(config)
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
