"""Regenerates the conformance bundles (docs/bundle-format.md) from the float64 reference.

    /usr/bin/python3 tests/reference/make_bundles.py --out tests/bundles

Deterministic: fixed seeds, no timestamps; two runs write the same bytes.

Every bundle's weights are random but chosen so that the runtime's likely mistakes are
visible at the bundle tolerance (rtol 1e-5, atol 1e-6):
  * BatchNorm statistics far from identity: running_mean ~ N(0, 0.5), running_var ~
    U(0.3, 3.0), gamma ~ U(0.5, 2.0), beta ~ N(0, 0.5);
  * gate logits calibrated to a per-expert std of 1.5 (after the gate's BN, if any) over a
    calibration batch of 16 requests x 32 candidates; where the logits Linear has a bias, each
    expert's mean logit is set to +-U(0.5, 1.0) (the bias absorbs the mean of W h, which is
    large after relu/sigmoid hidden layers): softmax weights are far from uniform and vary
    per candidate;
  * hidden Linear weights He-normal (activations stay O(1)); tower heads calibrated so that
    binary outputs spread inside [0.03, 0.97] instead of saturating.
The script asserts these properties, then applies each mutation the runtime could make
(dropping BN, eps 1e-3 for 1e-5, reversed expert order in a gate, dropped gate bias, a
last-level shared gate used, ...) to a copy of the reference and asserts that the bundle's
tolerance check would fail. Every expected tensor is also recomputed by numpy_forward.py
(a second implementation that reads the weights by name) and from the files as written.
"""

import argparse
import copy
import hashlib
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_forward  # noqa: E402
import ple_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
GENERATOR = f"tests/reference/make_bundles.py (torch {torch.__version__}, float64)"
GATE_LOGIT_STD = 1.5
HEAD_LOGIT_STD = {"binary": 1.3, "regression": 0.5}
CALIBRATION_REQUESTS, CALIBRATION_CANDIDATES = 16, 32
CHECK_CANDIDATES = 256
NUM_BATCHES_TRACKED = 1000
FLOAT32_MARGIN = 0.6


def _inputs(*specs):
    return [{"name": n, "width": w, "scope": s} for n, w, s in specs]


def _tasks(*specs):
    return [{"name": n, "type": t} for n, t in specs]


# Each bundle: name, seed, rows, description, config; optional prelu_sizes (tensor -> count,
# default [1]) and num_batches_tracked (write `*.bn.num_batches_tracked`, default true).
BUNDLES = [
    {
        "name": "mmoe", "seed": 101, "rows": 64,
        "description": "MMoE: one level, no specific experts, 3 shared experts, per-task softmax "
                       "gates with bias; binary + regression task; last_level_shared_gate left "
                       "to its default",
        "config": {
            "inputs": _inputs(("user", 6, "request"), ("item", 10, "candidate")),
            "tasks": _tasks(("click", "binary"), ("watch", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [16], "activation": "relu", "batch_norm": False},
            "gate": {"hidden_units": [], "bias": True, "batch_norm": False},
            "tower": {"units": [8], "activation": "relu", "batch_norm": False,
                      "head_bias": True, "output_bias": False},
            "levels": [{"specific_experts": 0, "shared_experts": 3}],
        },
    },
    {
        "name": "eight_tasks", "seed": 111, "rows": 64,
        "description": "PLE, 2 levels, 8 tasks (5 binary, 3 regression) with unequal specific "
                       "expert counts per task (0, 1 or 2), 2 shared experts per level",
        "config": {
            "inputs": _inputs(("user", 6, "request"), ("item", 8, "candidate")),
            "tasks": _tasks(("click", "binary"), ("like", "binary"), ("share", "binary"),
                            ("comment", "binary"), ("follow", "binary"),
                            ("watch_time", "regression"), ("completion", "regression"),
                            ("dwell", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [12], "activation": "relu"},
            "gate": {"hidden_units": [], "bias": True},
            "tower": {"units": [6], "activation": "relu"},
            "levels": [{"specific_experts": [1, 0, 2, 1, 0, 1, 2, 1], "shared_experts": 2},
                       {"specific_experts": [0, 1, 1, 0, 1, 1, 0, 1], "shared_experts": 2}],
        },
    },
    {
        "name": "cgc_bn", "seed": 102, "rows": 32,
        "description": "CGC, torch-rechub style: BatchNorm (eps 1e-5) in experts, towers and "
                       "between the gate logits and the softmax; request inputs on both sides "
                       "of the candidate input",
        "config": {
            "source_framework": "torch-rechub",
            "inputs": _inputs(("user", 8, "request"), ("item", 8, "candidate"),
                              ("context", 4, "request")),
            "tasks": _tasks(("ctr", "binary"), ("cvr", "binary")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [16], "activation": "relu", "batch_norm": True},
            "gate": {"hidden_units": [], "bias": True, "batch_norm": True},
            "tower": {"units": [8], "activation": "relu", "batch_norm": True},
            "levels": [{"specific_experts": 1, "shared_experts": 2}],
            "last_level_shared_gate": "absent",
        },
    },
    {
        "name": "ple2_unequal", "seed": 103, "rows": 32,
        "description": "PLE, 2 levels with unequal expert counts (level 0 specific [2,1] shared "
                       "1, level 1 specific [1,0] shared 2), 2-layer experts, gates with a "
                       "hidden layer (with BatchNorm) and no logits bias",
        "config": {
            "inputs": _inputs(("item", 12, "candidate"), ("user", 6, "request")),
            "tasks": _tasks(("click", "binary"), ("duration", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [24, 16], "activation": "relu"},
            "gate": {"hidden_units": [8], "hidden_activation": "relu",
                     "hidden_batch_norm": True, "bias": False},
            "tower": {"units": [8], "activation": "relu"},
            "levels": [{"specific_experts": [2, 1], "shared_experts": 1},
                       {"specific_experts": [1, 0], "shared_experts": 2}],
            "last_level_shared_gate": "absent",
        },
    },
    {
        "name": "ple3_noshared_last", "seed": 104, "rows": 16,
        "description": "PLE, 3 levels, 3 tasks; shared experts 2, 1, 0 (the last level has none: "
                       "its gates weigh one expert); per-level expert widths 16/12/8; gate hidden "
                       "layer without bias; towers leaky_relu (default slope 0.01) without bias",
        "config": {
            "inputs": _inputs(("user", 4, "request"), ("context", 2, "request"),
                              ("item", 10, "candidate")),
            "tasks": _tasks(("like", "binary"), ("follow", "binary"), ("stay", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [16], "activation": "relu"},
            "gate": {"hidden_units": [4], "hidden_bias": False, "bias": True},
            "tower": {"units": [8], "activation": "leaky_relu", "bias": False},
            "levels": [{"specific_experts": 1, "shared_experts": 2},
                       {"specific_experts": 1, "shared_experts": 1, "expert": {"units": [12]}},
                       {"specific_experts": 1, "shared_experts": 0, "expert": {"units": [8]}}],
        },
    },
    {
        "name": "single_task", "seed": 105, "rows": 1,
        "description": "one binary task, 2 levels of 1 specific + 1 shared expert, one candidate",
        "config": {
            "inputs": _inputs(("user", 5, "request"), ("item", 7, "candidate")),
            "tasks": _tasks(("ctr", "binary")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [8], "activation": "relu"},
            "gate": {"hidden_units": [], "bias": True},
            "tower": {"units": [4], "activation": "relu"},
            "levels": [{"specific_experts": 1, "shared_experts": 1},
                       {"specific_experts": 1, "shared_experts": 1}],
            "last_level_shared_gate": "absent",
        },
    },
    {
        "name": "six_tasks", "seed": 106, "rows": 1000,
        "description": "6 tasks (4 binary, 2 regression), 2 levels, specific [0,1,2,0,1,1], 2 "
                       "shared; experts with BatchNorm and no Linear bias; level 1 experts "
                       "override batch_norm_eps to 1e-3; no num_batches_tracked tensors; 1000 "
                       "candidates",
        "num_batches_tracked": False,
        "config": {
            "inputs": _inputs(("user", 8, "request"), ("context", 4, "request"),
                              ("item", 12, "candidate")),
            "tasks": _tasks(("click", "binary"), ("like", "binary"), ("share", "binary"),
                            ("comment", "binary"), ("watch_time", "regression"),
                            ("completion", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [16], "activation": "relu", "batch_norm": True, "bias": False},
            "gate": {"hidden_units": [], "bias": True},
            "tower": {"units": [8], "activation": "relu"},
            "levels": [{"specific_experts": [0, 1, 2, 0, 1, 1], "shared_experts": 2},
                       {"specific_experts": [0, 1, 2, 0, 1, 1], "shared_experts": 2,
                        "expert": {"batch_norm_eps": 1e-3}}],
            "last_level_shared_gate": "absent",
        },
    },
    {
        "name": "shared_bottom", "seed": 107, "rows": 8,
        "description": "shared-bottom: one level, one shared expert, gate type none (no gate "
                       "tensors, no gate intermediates), 3 tasks with [16, 8] towers",
        "config": {
            "inputs": _inputs(("user", 6, "request"), ("item", 8, "candidate")),
            "tasks": _tasks(("click", "binary"), ("like", "binary"), ("watch", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [32], "activation": "relu"},
            "gate": {"type": "none"},
            "tower": {"units": [16, 8], "activation": "relu"},
            "levels": [{"specific_experts": 0, "shared_experts": 1}],
            "last_level_shared_gate": "absent",
        },
    },
    {
        "name": "activations", "seed": 108, "rows": 16,
        "description": "every activation: level 0 experts leaky_relu (slope 0.2, 2 layers), "
                       "level 0 gate hidden tanh, level 1 experts silu, level 1 gate hidden "
                       "sigmoid (per-level overrides); tower 0 prelu with a [8] slope then a [1] "
                       "slope, tower 1 identity (per-task overrides)",
        "prelu_sizes": {"towers.0.layers.0.prelu.weight": 8},
        "config": {
            "inputs": _inputs(("user", 6, "request"), ("item", 10, "candidate")),
            "tasks": _tasks(("click", "binary"), ("watch", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [16, 16], "activation": {"type": "leaky_relu", "negative_slope": 0.2}},
            "gate": {"hidden_units": [8], "hidden_activation": "tanh", "bias": True},
            "tower": {"units": [8], "activation": "relu"},
            "levels": [{"specific_experts": 1, "shared_experts": 2},
                       {"specific_experts": 1, "shared_experts": 1,
                        "expert": {"units": [12], "activation": "silu"},
                        "gate": {"hidden_units": [6], "hidden_activation": "sigmoid"}}],
            "towers": [{"units": [8, 4], "activation": "prelu"},
                       {"units": [8], "activation": "identity"}],
            "last_level_shared_gate": "absent",
        },
    },
    {
        "name": "deepctr_style", "seed": 109, "rows": 1000,
        "description": "DeepCTR-Torch style: gate hidden layer, gate logits without bias, tower "
                       "head without bias plus a PredictionLayer output bias, and a last-level "
                       "shared gate that is in the weights (random values) but must not be used",
        "config": {
            "source_framework": "deepctr-torch",
            "inputs": _inputs(("user", 8, "request"), ("item", 10, "candidate"),
                              ("dense", 4, "candidate")),
            "tasks": _tasks(("ctr", "binary"), ("cvr", "binary")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [16], "activation": "relu"},
            "gate": {"hidden_units": [8], "hidden_activation": "relu", "bias": False},
            "tower": {"units": [8], "activation": "relu", "head_bias": False, "output_bias": True},
            "levels": [{"specific_experts": 1, "shared_experts": 2},
                       {"specific_experts": 1, "shared_experts": 2}],
            "last_level_shared_gate": "ignore",
        },
    },
]


def full_config(bundle):
    config = {"format_version": 1, "name": bundle["name"], "description": bundle["description"],
              "source_framework": bundle["config"].get("source_framework", "pytorch")}
    config.update(bundle["config"])
    return config


# ----------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------

def make_request(config, rng, candidates, requests=1):
    """float32 N(0, 1) inputs: request-scope columns equal within a request, candidate-scope
    columns differ per row. Returns float32 [requests * candidates, W]."""
    blocks = []
    for _ in range(requests):
        columns = []
        for inp in config["inputs"]:
            if inp["scope"] == "request":
                row = rng.standard_normal((1, inp["width"]))
                columns.append(np.repeat(row, candidates, axis=0))
            else:
                columns.append(rng.standard_normal((candidates, inp["width"])))
        blocks.append(np.concatenate(columns, axis=1))
    return np.concatenate(blocks, axis=0).astype(np.float32)


def as_f64(x32):
    return torch.from_numpy(x32.astype(np.float64))


# ----------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------

def _set(tensor, values):
    tensor.copy_(torch.from_numpy(np.asarray(values, dtype=np.float64).reshape(tensor.shape)))


def _randomise_bn(bn, rng):
    n = bn.num_features
    _set(bn.running_mean, rng.normal(0.0, 0.5, n))
    _set(bn.running_var, rng.uniform(0.3, 3.0, n))
    _set(bn.weight, rng.uniform(0.5, 2.0, n))
    _set(bn.bias, rng.normal(0.0, 0.5, n))
    bn.num_batches_tracked.fill_(NUM_BATCHES_TRACKED)


def _randomise_dense(layer, rng):
    out_f, in_f = layer.linear.weight.shape
    _set(layer.linear.weight, rng.normal(0.0, np.sqrt(2.0 / in_f), (out_f, in_f)))  # He normal
    if layer.linear.bias is not None:
        _set(layer.linear.bias, rng.normal(0.0, 0.2, out_f))
    if layer.bn is not None:
        _randomise_bn(layer.bn, rng)
    if layer.prelu is not None:
        _set(layer.prelu.weight, rng.uniform(0.05, 0.5, layer.prelu.weight.numel()))


def _soft_gates(level):
    gates = [g for g in level.task_gates]
    if level.shared_gate is not None:
        gates.append(level.shared_gate)
    return [g for g in gates if isinstance(g, ref.SoftmaxGate)]


def randomise(model, rng):
    """Draws every tensor (in module order, so the draw is deterministic)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ref.DenseLayer):
                _randomise_dense(module, rng)
            elif isinstance(module, ref.GateLogits):
                n, in_f = module.linear.weight.shape
                _set(module.linear.weight, rng.normal(0.0, np.sqrt(1.0 / in_f), (n, in_f)))
                if module.linear.bias is not None:
                    _set(module.linear.bias, rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1.0, n))
                if module.bn is not None:
                    _randomise_bn(module.bn, rng)
            elif isinstance(module, ref.Tower):
                in_f = module.head.weight.shape[1]
                _set(module.head.weight, rng.normal(0.0, np.sqrt(1.0 / in_f), (1, in_f)))


def _capture_inputs(model, modules, x):
    """Runs the model on x and returns the positional arguments each module was called with
    (None for a module that did not run)."""
    captured = [None] * len(modules)
    hooks = []
    for i, module in enumerate(modules):
        def hook(_, args, i=i):
            captured[i] = args
        hooks.append(module.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return captured


def calibrate(model, x, rng):
    """Data-dependent scaling, level by level (a level's scale changes what later ones see):
    gate logits get a per-expert std of GATE_LOGIT_STD after the optional BN; tower heads get a
    logit std of HEAD_LOGIT_STD and a bias that centres them (plus a small random offset)."""
    with torch.no_grad():
        for level in model.levels:
            gates = _soft_gates(level)
            inputs = _capture_inputs(model, [g.logits for g in gates], x)
            for gate, args in zip(gates, inputs):
                if args is not None:
                    h = args[0]
                else:  # an "ignore" shared gate never runs: calibrate it on its would-be input
                    h = _capture_inputs(model, [level], x)[0][1]  # Level(task_inputs, shared_input)
                    for layer in gate.layers:
                        h = layer(h)
                lin, bn = gate.logits.linear, gate.logits.bn
                z = h @ lin.weight.T
                scale = GATE_LOGIT_STD / z.std(dim=0)
                if bn is not None:
                    scale = scale * torch.sqrt(bn.running_var + bn.eps) / bn.weight.abs()
                lin.weight.mul_(scale[:, None])
                if lin.bias is not None:
                    # The drawn bias (+-U(0.5, 1)) becomes the mean logit of each expert: the
                    # bias also absorbs the mean of W h (large after sigmoid or relu hidden
                    # layers), which would otherwise collapse the softmax on one expert.
                    target = lin.bias.clone()
                    z_mean = (h @ lin.weight.T).mean(dim=0)
                    if bn is not None:
                        target = (target - bn.bias) * torch.sqrt(bn.running_var + bn.eps) \
                            / bn.weight + bn.running_mean
                    lin.bias.copy_(target - z_mean)
        heads = [args[0] for args in _capture_inputs(model, [t.head for t in model.towers], x)]
        for tower, h, task in zip(model.towers, heads, model.resolved["tasks"]):
            z = (h @ tower.head.weight.T)[:, 0]
            tower.head.weight.mul_(HEAD_LOGIT_STD[task["type"]] / z.std())
            z = (h @ tower.head.weight.T)[:, 0]
            # Regression targets (watch time, completion) are positive: centre them 2-4 std
            # above zero, where float32 noise is small next to the relative tolerance.
            offset = rng.normal(0.0, 0.3) if task["type"] == "binary" else rng.uniform(1.0, 2.0)
            total_bias = -z.mean().item() + offset
            has_head_bias = tower.head.bias is not None
            has_output_bias = tower.output_bias is not None
            if has_head_bias and has_output_bias:
                out_b = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.8)
                tower.output_bias.fill_(out_b)
                tower.head.bias.fill_(total_bias - out_b)
            elif has_head_bias:
                tower.head.bias.fill_(total_bias)
            elif has_output_bias:
                tower.output_bias.fill_(total_bias)


def round_to_float32(model):
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.float().double())


def weights_for_file(model, with_num_batches_tracked):
    tensors = {}
    for name, tensor in model.state_dict().items():
        if name.endswith(".num_batches_tracked"):
            if with_num_batches_tracked:
                tensors[name] = tensor.numpy().astype("<i8")
            continue
        tensors[name] = tensor.numpy().astype("<f4")
    return tensors


# ----------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------

def run(model, x):
    with torch.no_grad():
        outputs, gates = model(x)
    return outputs.numpy(), {k: v.numpy() for k, v in gates.items()}


def within_tolerance(got, expected):
    diff = np.abs(got - expected)
    return bool(((diff <= ATOL) | (diff <= RTOL * np.abs(expected))).all())


def float32_margin(model, x):
    """How close float32 arithmetic comes to the tolerance on these inputs: torch's own float32
    forward of the same weights, max over outputs and gates of |f32 - f64| / allowed, where
    allowed = max(ATOL, RTOL * |f64|). A bundle whose float32 rounding noise already reaches the
    tolerance would fail correct runtimes by chance; the generator keeps this under
    FLOAT32_MARGIN."""
    model32 = copy.deepcopy(model).float()
    with torch.no_grad():
        out32, gates32 = model32(x.float())
        out64, gates64 = model(x)
    worst, where = 0.0, ""
    names = [t["name"] for t in model.resolved["tasks"]]
    pairs = [(f"task {n}", out32[:, t], out64[:, t]) for t, n in enumerate(names)]
    pairs += [(k, gates32[k], gates64[k]) for k in gates64]
    for label, got, want in pairs:
        got, want = got.double().numpy(), want.numpy()
        allowed = np.maximum(ATOL, RTOL * np.abs(want))
        ratio = float((np.abs(got - want) / allowed).max())
        if ratio > worst:
            worst, where = ratio, label
    return worst, where


def dense_activation_stats(model, x):
    """RMS and max |.| of every DenseLayer output on x."""
    stats = []
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, ref.DenseLayer)]
    hooks = [m.register_forward_hook(lambda mod, a, out, n=n: stats.append(
        (n, out.pow(2).mean().sqrt().item(), out.abs().max().item()))) for n, m in layers]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return stats


def check_properties(name, model, x_check, outputs_bundle, gates_bundle):
    """Asserts the properties that keep mistakes visible (see the module docstring)."""
    outputs, gates = run(model, x_check)
    problems = []
    for t, task in enumerate(model.resolved["tasks"]):
        if task["type"] != "binary":
            continue
        for label, values in (("check batch", outputs[:, t]), ("bundle", outputs_bundle[:, t])):
            inside = np.mean((values >= 0.03) & (values <= 0.97))
            need = 0.9 if len(values) >= 16 else 1.0
            if inside < need:
                problems.append(f"{task['name']}: {inside:.0%} of {label} outputs in [0.03, 0.97]")
        if outputs[:, t].std() < 0.08:
            problems.append(f"{task['name']}: check-batch outputs do not spread (std "
                            f"{outputs[:, t].std():.3f})")
    for gname, w in gates.items():
        n = w.shape[1]
        if n < 2:
            continue
        mean_max = w.max(axis=1).mean()
        if mean_max < 1.0 / n + 0.15 * (1.0 - 1.0 / n):
            problems.append(f"{gname}: weights close to uniform (mean max {mean_max:.3f}, n {n})")
        if mean_max > 0.985:
            problems.append(f"{gname}: weights collapsed on one expert (mean max {mean_max:.3f})")
        if w.std(axis=0).max() < 0.03:
            problems.append(f"{gname}: weights do not vary per candidate")
    for layer, rms, peak in dense_activation_stats(model, x_check):
        if not (0.05 <= rms <= 10.0) or peak > 50.0:
            problems.append(f"{layer}: activations not O(1) (rms {rms:.3f}, max {peak:.1f})")
    if problems:
        raise AssertionError(f"bundle {name}: weights do not make mistakes visible:\n  "
                             + "\n  ".join(problems))


def _bn_modules(model, where):
    """(owner, attribute) of every BatchNorm1d; where in {expert, gate, tower}."""
    found = []
    for name, module in model.named_modules():
        kind = "tower" if name.startswith("towers.") else \
            "gate" if (".task_gates." in name or ".shared_gate" in name) else "expert"
        if kind in where and isinstance(module, (ref.DenseLayer, ref.GateLogits)) \
                and module.bn is not None:
            found.append(module)
    return found


def _mutate_bn_drop(where):
    def mutate(model):
        mods = _bn_modules(model, where)
        for m in mods:
            m.bn = None
        return bool(mods)
    return mutate


def _mutate_eps(eps):
    def mutate(model):
        changed = False
        for m in _bn_modules(model, {"expert", "gate", "tower"}):
            if m.bn.eps != eps:
                m.bn.eps = eps
                changed = True
        return changed
    return mutate


def _mutate_gate_bias(model):
    changed = False
    for level in model.levels:
        for gate in _soft_gates(level):
            if gate.logits.linear.bias is not None:
                gate.logits.linear.bias.zero_()
                changed = True
    return changed


def _mutate_leaky_slope(model):
    changed = False
    for m in model.modules():
        if isinstance(m, ref.DenseLayer) and m.kind == "leaky_relu" and m.negative_slope != 0.01:
            m.negative_slope = 0.01
            changed = True
    return changed


def _mutate_prelu_first_slope(model):
    """A runtime that reads only element 0 of a per-channel PReLU slope."""
    changed = False
    for m in model.modules():
        if isinstance(m, ref.DenseLayer) and m.prelu is not None and m.prelu.weight.numel() > 1:
            m.prelu.weight.fill_(m.prelu.weight[0].item())
            changed = True
    return changed


def _mutate_head_bias(model):
    changed = False
    for tower in model.towers:
        if tower.head.bias is not None:
            tower.head.bias.zero_()
            changed = True
    return changed


def _mutate_output_bias(model):
    changed = False
    for tower in model.towers:
        if tower.output_bias is not None:
            tower.output_bias.zero_()
            changed = True
    return changed


def _reverse_gate(gate):
    """The runtime pairs gate weight k with expert n-1-k."""
    logits = gate.logits
    params = [logits.linear.weight, logits.linear.bias]
    if logits.bn is not None:
        params += [logits.bn.weight, logits.bn.bias, logits.bn.running_mean, logits.bn.running_var]
    for p in params:
        if p is not None:
            p.copy_(torch.flip(p, dims=[0]))


def _forward_with_last_shared_gate(model, x):
    """A runtime that uses the last level's ("ignore") shared gate for every task."""
    with torch.no_grad():
        _, gates = model.forward_levels(x)
        task_inputs = [x] * len(model.task_names)
        shared_input = x
        for level in model.levels[:-1]:
            task_inputs, shared_input, _ = level(task_inputs, shared_input)
        last = model.levels[-1]
        specific, shared = last.expert_outputs(task_inputs, shared_input)
        everything = [e for per_task in specific for e in per_task] + shared
        w = last.shared_gate(shared_input)
        mixed = ref.mix(w, everything)
        outputs = torch.stack([tower(mixed) for tower in model.towers], dim=1)
    return outputs.numpy(), {k: v.numpy() for k, v in gates.items()}


MUTATIONS = [
    ("drop all BN", _mutate_bn_drop({"expert", "gate", "tower"})),
    ("drop expert BN", _mutate_bn_drop({"expert"})),
    ("drop gate BN", _mutate_bn_drop({"gate"})),
    ("drop tower BN", _mutate_bn_drop({"tower"})),
    ("every BN eps 1e-3", _mutate_eps(1e-3)),
    ("every BN eps 1e-5", _mutate_eps(1e-5)),
    ("drop gate bias", _mutate_gate_bias),
    ("leaky_relu slope 0.01", _mutate_leaky_slope),
    ("per-channel PReLU read as scalar", _mutate_prelu_first_slope),
    ("drop head bias", _mutate_head_bias),
    ("drop output bias", _mutate_output_bias),
]


def check_mutations(name, model, x, outputs, gates):
    """Asserts that each applicable mutation fails the bundle's tolerance check. Returns the
    list of (mutation, where it is caught)."""
    results = []
    failures = []

    def verdict(label, got_outputs, got_gates, must_hit_outputs=True):
        out_bad = not within_tolerance(got_outputs, outputs)
        gate_bad = [g for g in gates if not within_tolerance(got_gates[g], gates[g])]
        where = ("outputs" if out_bad else "") + \
                (("+" if out_bad else "") + f"{len(gate_bad)} gate(s)" if gate_bad else "")
        results.append((label, where or "NOT CAUGHT"))
        if must_hit_outputs and not out_bad:
            failures.append(f"{label}: outputs within tolerance")
        if not out_bad and not gate_bad:
            failures.append(f"{label}: not caught at all")

    for label, mutate in MUTATIONS:
        mutant = copy.deepcopy(model)
        with torch.no_grad():
            if not mutate(mutant):
                continue
        verdict(label, *run(mutant, x))

    # Reversed expert order, one gate at a time. A gate whose output feeds nothing (the
    # shared gate of a level followed by a level without shared experts and without a shared
    # gate) can only be caught through the gate intermediates.
    for l, level in enumerate(model.levels):
        for gname, gate in [(f"levels.{l}.task_gates.{t}", g) for t, g in enumerate(level.task_gates)] + \
                [(f"levels.{l}.shared_gate", level.shared_gate)]:
            if not isinstance(gate, ref.SoftmaxGate) or gate.num_experts < 2:
                continue
            if gname.endswith("shared_gate") and not level.shared_gate_used:
                continue
            feeds_outputs = True
            if gname.endswith("shared_gate"):
                nxt = model.levels[l + 1]
                feeds_outputs = len(nxt.shared_experts) > 0 or nxt.shared_gate_used
            mutant = copy.deepcopy(model)
            with torch.no_grad():
                _reverse_gate(mutant.levels[l].task_gates[int(gname.split(".")[-1])]
                              if "task_gates" in gname else mutant.levels[l].shared_gate)
            verdict(f"reverse expert order in {gname}", *run(mutant, x),
                    must_hit_outputs=feeds_outputs)

    last = model.levels[-1]
    if last.shared_gate is not None and not last.shared_gate_used:
        verdict("use the last-level shared gate", *_forward_with_last_shared_gate(model, x))

    if failures:
        raise AssertionError(f"bundle {name}: mutations the bundle would not catch:\n  "
                             + "\n  ".join(failures))
    return results


# ----------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------

def dumps_json(obj, indent=0, width=96):
    """JSON with 2-space indentation where a value does not fit on one line of `width`."""
    flat = json.dumps(obj, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(obj, (dict, list)) or not obj:
        return flat
    pad = " " * (indent + 2)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps_json(v, indent + 2, width)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + dumps_json(v, indent + 2, width) for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def write_json(path, obj):
    with open(path, "w") as f:
        f.write(dumps_json(obj) + "\n")


def make_bundle(bundle, out_dir):
    name, seed = bundle["name"], bundle["seed"]
    config = full_config(bundle)
    model = ref.build_model(config, prelu_sizes=bundle.get("prelu_sizes"))

    rng_weights = np.random.default_rng([seed, 1])
    x_calibration = as_f64(make_request(config, np.random.default_rng([seed, 2]),
                                        CALIBRATION_CANDIDATES, CALIBRATION_REQUESTS))
    x_check = as_f64(make_request(config, np.random.default_rng([seed, 3]), CHECK_CANDIDATES))
    inputs = make_request(config, np.random.default_rng([seed, 4]), bundle["rows"])
    x = as_f64(inputs)

    randomise(model, rng_weights)
    calibrate(model, x_calibration, rng_weights)
    round_to_float32(model)

    outputs, gates = run(model, x)
    check_properties(name, model, x_check, outputs, gates)
    margin, where = max(float32_margin(model, x), float32_margin(model, x_check))
    print(f"{name}: float32 margin {margin:.2f} ({where})")
    assert margin <= FLOAT32_MARGIN, (
        f"{name}: torch float32 reaches {margin:.2f} of the tolerance on {where}: the bundle is too "
        f"close to float32 rounding noise to judge a runtime (keep it under {FLOAT32_MARGIN})")
    mutations = check_mutations(name, model, x, outputs, gates)

    # Second implementation, from the weights as stored.
    weights = weights_for_file(model, bundle.get("num_batches_tracked", True))
    np_outputs, np_gates = numpy_forward.forward(
        config, {k: v.astype(np.float64) for k, v in weights.items()}, inputs.astype(np.float64))
    assert set(np_gates) == set(gates), (sorted(np_gates), sorted(gates))
    cross_error = max([np.abs(np_outputs - outputs).max()] +
                      [np.abs(np_gates[k] - gates[k]).max() for k in gates])
    assert cross_error < 1e-12, f"{name}: numpy cross-check differs by {cross_error}"

    path = os.path.join(out_dir, name)
    os.makedirs(path, exist_ok=True)
    write_json(os.path.join(path, "config.json"), config)
    write_json(os.path.join(path, "bundle.json"), {
        "format_version": 1, "name": name, "description": bundle["description"],
        "config": "config.json", "weights": "weights.safetensors", "data": "data.safetensors",
        "tolerance": {"rtol": RTOL, "atol": ATOL}, "generator": GENERATOR,
    })
    safetensors_io.save_file(weights, os.path.join(path, "weights.safetensors"),
                             {"format": "pt", "generator": GENERATOR})
    data = {"inputs": inputs, "expected.outputs": outputs.astype("<f8")}
    for gname in sorted(gates, key=_gate_sort_key):
        data[f"expected.{gname}"] = gates[gname].astype("<f8")
    safetensors_io.save_file(data, os.path.join(path, "data.safetensors"),
                             {"bundle": name, "generator": GENERATOR})

    # Round trip: read the files back, rebuild from them, recompute bit for bit.
    check = ref.check_bundle(path)
    assert max(check.values()) == 0.0, f"{name}: recomputed from the files, differs: {check}"
    back, _ = safetensors_io.load_file(os.path.join(path, "data.safetensors"))
    assert np.array_equal(back["inputs"], inputs)
    _check_request_scope(config, back["inputs"])
    return config, inputs, outputs, gates, mutations, path


def _gate_sort_key(gname):
    parts = gname.split(".")
    level = int(parts[1])
    return (level, 0, int(parts[3])) if parts[2] == "task_gates" else (level, 1, 0)


def _check_request_scope(config, inputs):
    col = 0
    for inp in config["inputs"]:
        block = inputs[:, col:col + inp["width"]]
        if inp["scope"] == "request":
            assert (block == block[0]).all(), inp["name"]
        elif len(block) > 1:
            assert not (block == block[0]).all(), inp["name"]
        col += inp["width"]


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files)


def summary_line(config, inputs, outputs, gates, path):
    parts = []
    for t, task in enumerate(config["tasks"]):
        v = outputs[:, t]
        parts.append(f"{task['name']}[{v.min():.3f}/{v.mean():.3f}/{v.max():.3f}]")
    multi = [w for w in gates.values() if w.shape[1] >= 2]
    gate_text = (f"mean max-gate-w {np.mean([w.max(axis=1).mean() for w in multi]):.3f} "
                 f"over {len(multi)} gate(s)") if multi else "no softmax gate over >1 expert"
    return (f"N={inputs.shape[0]} W={inputs.shape[1]} T={outputs.shape[1]} | "
            f"out min/mean/max {' '.join(parts)} | {gate_text} | {dir_bytes(path)} bytes")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Regenerate the conformance bundles.")
    parser.add_argument("--out", required=True, help="output directory, e.g. tests/bundles")
    parser.add_argument("--only", action="append", help="bundle name (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print the mutation table")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    names = [b["name"] for b in BUNDLES]
    for wanted in args.only or []:
        if wanted not in names:
            parser.error(f"unknown bundle {wanted}; known: {names}")
    for bundle in BUNDLES:
        if args.only and bundle["name"] not in args.only:
            continue
        config, inputs, outputs, gates, mutations, path = make_bundle(bundle, args.out)
        print(f"{bundle['name']:<19} {summary_line(config, inputs, outputs, gates, path)}")
        caught = sum(1 for _, where in mutations if where != "NOT CAUGHT")
        print(f"{'':<19} mutations caught: {caught}/{len(mutations)}")
        if args.verbose:
            for label, where in mutations:
                print(f"{'':<21}{label}: {where}")
    total = dir_bytes(args.out)
    print(f"total size of {args.out}: {total} bytes ({total / 1024:.1f} KiB)")
    assert total < 2 * 1024 * 1024, "bundles must stay well under 2 MB"
    digest = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(args.out)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            digest.update(os.path.relpath(p, args.out).encode() + b"\0")
            with open(p, "rb") as fh:
                digest.update(fh.read())
    print(f"sha256 of the tree: {digest.hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
