"""Independent float64 PyTorch reference for PLE-family multi-task ranking models.

This module is the test oracle for the C++ runtime. It implements docs/config-format.md
literally and shares no code with the runtime or the converter:
  * it builds a torch.nn.Module from the JSON config whose state_dict() names are exactly the
    native weight naming (e.g. `levels.0.specific_experts.1.0.layers.0.linear.weight`);
  * BatchNorm is a real torch.nn.BatchNorm1d in eval mode with the config's eps. Nothing is
    folded: the converter folds BN, the reference computes it the plain way, so the two differ
    in rounding only.
  * the forward pass follows the PLE paper's routing (Eq. 2-6) with plain loops.

MMoE (one level, no specific experts), CGC (one level) and shared-bottom (one shared expert,
gate type "none") are configs of the same module.

Usage:
    model = build_model(config)                     # fresh weights, PReLU slopes of shape [1]
    model = build_model(config, weights=tensors)    # shapes checked, weights loaded (strict)
    outputs, gates = model(x)                       # x float64 [N, input_width]
    # outputs [N, T] after sigmoid (binary) / identity (regression)
    # gates {"levels.{l}.task_gates.{t}": [N, n], "levels.{l}.shared_gate": [N, n]}

Command line (compare your own runtime's numbers with the reference):
    /usr/bin/python3 tests/reference/ple_reference.py --config c.json --weights w.safetensors \
        --inputs request.jsonl            # one JSON object per line: input name -> numbers
    /usr/bin/python3 tests/reference/ple_reference.py --bundle tests/bundles/mmoe
                                          # recompute a bundle and compare with its expected
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("identity", "relu", "leaky_relu", "prelu", "sigmoid", "tanh", "silu")
LEAKY_RELU_DEFAULT_SLOPE = 0.01
DEFAULT_BATCH_NORM_EPS = 1e-5  # PyTorch's default; the config may set another one

# Defaults for keys a config may leave out. docs/config-format.md states `bias` (true),
# `hidden_bias` (true), gate `type` ("softmax"), `last_level_shared_gate` ("absent"), tower
# and gate-hidden `units` may be empty; the other defaults below (relu activations, no
# BatchNorm, gate bias true, tower head_bias true / output_bias false, batch_norm_eps 1e-5)
# are this reference's choice and must match the converter's.
EXPERT_DEFAULTS = {"activation": "relu", "batch_norm": False, "bias": True}
GATE_DEFAULTS = {"type": "softmax", "hidden_units": [], "hidden_activation": "relu",
                 "hidden_batch_norm": False, "hidden_bias": True, "bias": True,
                 "batch_norm": False}
TOWER_DEFAULTS = {"units": [], "activation": "relu", "batch_norm": False, "bias": True,
                  "head_bias": True, "output_bias": False}

EXPERT_KEYS = {"units", "activation", "batch_norm", "bias", "batch_norm_eps"}
GATE_KEYS = set(GATE_DEFAULTS) | {"batch_norm_eps"}
TOWER_KEYS = set(TOWER_DEFAULTS) | {"batch_norm_eps"}
TOP_KEYS = {"format_version", "name", "description", "source_framework", "inputs", "tasks",
            "batch_norm_eps", "expert", "gate", "tower", "levels", "towers",
            "last_level_shared_gate"}
LEVEL_KEYS = {"specific_experts", "shared_experts", "expert", "gate"}


class ConfigError(ValueError):
    pass


# ----------------------------------------------------------------------------------------
# Config resolution: defaults, per-level / per-task merges, validation.
# ----------------------------------------------------------------------------------------

def _check_keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected an object, found {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_bool(obj, key, where):
    if not isinstance(obj[key], bool):
        raise ConfigError(f"{where}.{key}: expected true/false, found {obj[key]!r}")


def _check_units(units, where, allow_empty):
    if not isinstance(units, list) or not all(_is_int(u) and u >= 1 for u in units):
        raise ConfigError(f"{where}: expected a list of integers >= 1, found {units!r}")
    if not units and not allow_empty:
        raise ConfigError(f"{where}: needs at least one layer")


def parse_activation(spec, where):
    """Returns (kind, negative_slope). negative_slope is only meaningful for leaky_relu."""
    if isinstance(spec, str):
        kind, slope = spec, LEAKY_RELU_DEFAULT_SLOPE
    elif isinstance(spec, dict):
        _check_keys(spec, {"type", "negative_slope"}, where)
        kind = spec.get("type")
        slope = spec.get("negative_slope", LEAKY_RELU_DEFAULT_SLOPE)
        if "negative_slope" in spec and kind != "leaky_relu":
            raise ConfigError(f"{where}: negative_slope only applies to leaky_relu")
        if not isinstance(slope, (int, float)) or isinstance(slope, bool) or not math.isfinite(slope):
            raise ConfigError(f"{where}.negative_slope: expected a finite number, found {slope!r}")
    else:
        raise ConfigError(f"{where}: expected an activation name or object, found {spec!r}")
    if kind not in ACTIVATIONS:
        raise ConfigError(f"{where}: unknown activation {kind!r}; supported: {list(ACTIVATIONS)}")
    return kind, float(slope)


def _check_eps(value, where):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0 \
            or not math.isfinite(value):
        raise ConfigError(f"{where}: batch_norm_eps must be a finite number > 0, found {value!r}")
    return float(value)


def _resolve_expert(defaults, override, eps, where):
    merged = dict(EXPERT_DEFAULTS)
    merged.update(defaults or {})
    merged.update(override or {})
    if "units" not in merged:
        raise ConfigError(f"{where}: expert has no 'units'")
    _check_units(merged["units"], f"{where}.units", allow_empty=False)
    for key in ("batch_norm", "bias"):
        _check_bool(merged, key, where)
    return {"units": list(merged["units"]),
            "activation": parse_activation(merged["activation"], f"{where}.activation"),
            "batch_norm": merged["batch_norm"], "bias": merged["bias"],
            "eps": _check_eps(merged.get("batch_norm_eps", eps), f"{where}.batch_norm_eps")}


def _resolve_gate(defaults, override, eps, where):
    merged = dict(GATE_DEFAULTS)
    merged.update(defaults or {})
    merged.update(override or {})
    if merged["type"] not in ("softmax", "none"):
        raise ConfigError(f"{where}.type: expected 'softmax' or 'none', found {merged['type']!r}")
    _check_units(merged["hidden_units"], f"{where}.hidden_units", allow_empty=True)
    for key in ("hidden_batch_norm", "hidden_bias", "bias", "batch_norm"):
        _check_bool(merged, key, where)
    return {"type": merged["type"], "hidden_units": list(merged["hidden_units"]),
            "hidden_activation": parse_activation(merged["hidden_activation"],
                                                  f"{where}.hidden_activation"),
            "hidden_batch_norm": merged["hidden_batch_norm"], "hidden_bias": merged["hidden_bias"],
            "bias": merged["bias"], "batch_norm": merged["batch_norm"],
            "eps": _check_eps(merged.get("batch_norm_eps", eps), f"{where}.batch_norm_eps")}


def _resolve_tower(defaults, override, eps, where):
    merged = dict(TOWER_DEFAULTS)
    merged.update(defaults or {})
    merged.update(override or {})
    _check_units(merged["units"], f"{where}.units", allow_empty=True)
    for key in ("batch_norm", "bias", "head_bias", "output_bias"):
        _check_bool(merged, key, where)
    return {"units": list(merged["units"]),
            "activation": parse_activation(merged["activation"], f"{where}.activation"),
            "batch_norm": merged["batch_norm"], "bias": merged["bias"],
            "head_bias": merged["head_bias"], "output_bias": merged["output_bias"],
            "eps": _check_eps(merged.get("batch_norm_eps", eps), f"{where}.batch_norm_eps")}


def resolve_config(config):
    """Validates a config dict and returns it fully resolved (every default applied).

    Raises ConfigError naming the offending key.
    """
    _check_keys(config, TOP_KEYS, "config")
    if config.get("format_version") != 1:
        raise ConfigError(f"config.format_version: must be 1, found {config.get('format_version')!r}")
    for key in ("name", "description", "source_framework"):
        if key in config and not isinstance(config[key], str):
            raise ConfigError(f"config.{key}: expected a string")

    inputs = config.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ConfigError("config.inputs: expected a non-empty list")
    seen = set()
    for i, inp in enumerate(inputs):
        where = f"config.inputs[{i}]"
        _check_keys(inp, {"name", "width", "scope"}, where)
        if not isinstance(inp.get("name"), str) or inp["name"] in seen:
            raise ConfigError(f"{where}.name: missing or duplicate")
        seen.add(inp["name"])
        if not _is_int(inp.get("width")) or inp["width"] < 1:
            raise ConfigError(f"{where}.width: expected an integer >= 1, found {inp.get('width')!r}")
        if inp.get("scope") not in ("request", "candidate"):
            raise ConfigError(f"{where}.scope: expected 'request' or 'candidate', found {inp.get('scope')!r}")

    tasks = config.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError("config.tasks: expected a non-empty list")
    seen = set()
    for t, task in enumerate(tasks):
        where = f"config.tasks[{t}]"
        _check_keys(task, {"name", "type"}, where)
        if not isinstance(task.get("name"), str) or task["name"] in seen:
            raise ConfigError(f"{where}.name: missing or duplicate")
        seen.add(task["name"])
        if task.get("type") not in ("binary", "regression"):
            raise ConfigError(f"{where}.type: expected 'binary' or 'regression', found {task.get('type')!r}")
    num_tasks = len(tasks)

    eps = _check_eps(config.get("batch_norm_eps", DEFAULT_BATCH_NORM_EPS), "config.batch_norm_eps")
    expert_defaults = config.get("expert", {})
    gate_defaults = config.get("gate", {})
    tower_defaults = config.get("tower", {})
    _check_keys(expert_defaults, EXPERT_KEYS, "config.expert")
    _check_keys(gate_defaults, GATE_KEYS, "config.gate")
    _check_keys(tower_defaults, TOWER_KEYS, "config.tower")

    last_gate = config.get("last_level_shared_gate", "absent")
    if last_gate not in ("absent", "ignore"):
        raise ConfigError(f"config.last_level_shared_gate: expected 'absent' or 'ignore', found {last_gate!r}")

    levels_cfg = config.get("levels")
    if not isinstance(levels_cfg, list) or not levels_cfg:
        raise ConfigError("config.levels: expected a non-empty list")
    levels = []
    for l, level in enumerate(levels_cfg):
        where = f"config.levels[{l}]"
        _check_keys(level, LEVEL_KEYS, where)
        spec = level.get("specific_experts")
        if _is_int(spec):
            spec = [spec] * num_tasks
        if not isinstance(spec, list) or len(spec) != num_tasks or \
                not all(_is_int(s) and s >= 0 for s in spec):
            raise ConfigError(f"{where}.specific_experts: expected an integer >= 0 or a list of "
                              f"{num_tasks} of them, found {level.get('specific_experts')!r}")
        shared = level.get("shared_experts")
        if not _is_int(shared) or shared < 0:
            raise ConfigError(f"{where}.shared_experts: expected an integer >= 0, found {shared!r}")
        _check_keys(level.get("expert", {}), EXPERT_KEYS, f"{where}.expert")
        _check_keys(level.get("gate", {}), GATE_KEYS, f"{where}.gate")
        expert = _resolve_expert(expert_defaults, level.get("expert"), eps, f"{where}.expert")
        gate = _resolve_gate(gate_defaults, level.get("gate"), eps, f"{where}.gate")
        is_last = l == len(levels_cfg) - 1
        has_shared_gate = (not is_last) or last_gate == "ignore"
        for t in range(num_tasks):
            if spec[t] + shared < 1:
                raise ConfigError(f"{where}: task {t} ({tasks[t]['name']}) has no expert "
                                  f"(specific {spec[t]}, shared {shared})")
            if gate["type"] == "none" and spec[t] + shared != 1:
                raise ConfigError(f"{where}.gate.type: 'none' needs exactly one expert per gate, "
                                  f"task {t} has {spec[t] + shared}")
        if gate["type"] == "none" and has_shared_gate and sum(spec) + shared != 1:
            raise ConfigError(f"{where}.gate.type: 'none' needs exactly one expert per gate, "
                              f"the shared gate has {sum(spec) + shared}")
        levels.append({"specific_experts": spec, "shared_experts": shared, "expert": expert,
                       "gate": gate, "has_shared_gate": has_shared_gate,
                       "shared_gate_used": not is_last})

    towers_cfg = config.get("towers")
    if towers_cfg is not None and (not isinstance(towers_cfg, list) or len(towers_cfg) != num_tasks):
        raise ConfigError(f"config.towers: expected a list of {num_tasks} objects")
    towers = []
    for t in range(num_tasks):
        override = towers_cfg[t] if towers_cfg is not None else {}
        _check_keys(override, TOWER_KEYS, f"config.towers[{t}]")
        towers.append(_resolve_tower(tower_defaults, override, eps, f"config.towers[{t}]"))

    return {"inputs": [dict(i) for i in inputs], "tasks": [dict(t) for t in tasks],
            "input_width": sum(i["width"] for i in inputs), "levels": levels, "towers": towers,
            "last_level_shared_gate": last_gate}


# ----------------------------------------------------------------------------------------
# Modules. Attribute names ARE the native weight naming; do not rename them.
# ----------------------------------------------------------------------------------------

class DenseLayer(nn.Module):
    """Linear -> [BatchNorm1d (eval)] -> activation. Tensors: linear.*, bn.*, prelu.weight."""

    def __init__(self, in_features, out_features, bias, batch_norm, eps, activation, prelu_size):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.bn = nn.BatchNorm1d(out_features, eps=eps) if batch_norm else None
        self.kind, self.negative_slope = activation
        self.prelu = nn.PReLU(num_parameters=prelu_size) if self.kind == "prelu" else None

    def forward(self, x):
        h = self.linear(x)
        if self.bn is not None:
            h = self.bn(h)
        if self.kind == "identity":
            return h
        if self.kind == "relu":
            return F.relu(h)
        if self.kind == "leaky_relu":
            return F.leaky_relu(h, negative_slope=self.negative_slope)
        if self.kind == "prelu":
            return self.prelu(h)
        if self.kind == "sigmoid":
            return torch.sigmoid(h)
        if self.kind == "tanh":
            return torch.tanh(h)
        if self.kind == "silu":
            return F.silu(h)
        raise AssertionError(self.kind)


def _dense_stack(prefix, in_features, units, bias, batch_norm, eps, activation, prelu_sizes):
    layers = nn.ModuleList()
    for i, out_features in enumerate(units):
        size = prelu_sizes.get(f"{prefix}.layers.{i}.prelu.weight", 1)
        if size not in (1, out_features):
            raise ConfigError(f"{prefix}.layers.{i}.prelu.weight: expected shape [1] or "
                              f"[{out_features}], found [{size}]")
        layers.append(DenseLayer(in_features, out_features, bias, batch_norm, eps, activation, size))
        in_features = out_features
    return layers


class MLP(nn.Module):
    """An expert. Tensors: layers.{i}.*"""

    def __init__(self, prefix, in_features, cfg, prelu_sizes):
        super().__init__()
        self.layers = _dense_stack(prefix, in_features, cfg["units"], cfg["bias"],
                                   cfg["batch_norm"], cfg["eps"], cfg["activation"], prelu_sizes)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class GateLogits(nn.Module):
    """Linear(in, n_experts) -> [BatchNorm1d] (torch-rechub puts BN before the softmax)."""

    def __init__(self, in_features, num_experts, bias, batch_norm, eps):
        super().__init__()
        self.linear = nn.Linear(in_features, num_experts, bias=bias)
        self.bn = nn.BatchNorm1d(num_experts, eps=eps) if batch_norm else None

    def forward(self, x):
        z = self.linear(x)
        return self.bn(z) if self.bn is not None else z


class SoftmaxGate(nn.Module):
    """Tensors: layers.{i}.* (hidden MLP), logits.linear.*, logits.bn.*"""

    def __init__(self, prefix, in_features, num_experts, cfg, prelu_sizes):
        super().__init__()
        self.num_experts = num_experts
        self.layers = _dense_stack(prefix, in_features, cfg["hidden_units"], cfg["hidden_bias"],
                                   cfg["hidden_batch_norm"], cfg["eps"], cfg["hidden_activation"],
                                   prelu_sizes)
        width = cfg["hidden_units"][-1] if cfg["hidden_units"] else in_features
        self.logits = GateLogits(width, num_experts, cfg["bias"], cfg["batch_norm"], cfg["eps"])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return torch.softmax(self.logits(x), dim=1)


class NoGate(nn.Module):
    """gate.type "none": one expert, weight 1, no tensors."""

    def __init__(self, num_experts):
        super().__init__()
        assert num_experts == 1
        self.num_experts = 1

    def forward(self, x):
        return torch.ones(x.shape[0], 1, dtype=x.dtype)


def _make_gate(prefix, in_features, num_experts, cfg, prelu_sizes):
    if cfg["type"] == "none":
        return NoGate(num_experts)
    return SoftmaxGate(prefix, in_features, num_experts, cfg, prelu_sizes)


def mix(weights, experts):
    """Gate output: sum_k weights[:, k] * experts[k], summed in expert order."""
    assert weights.shape[1] == len(experts)
    out = weights[:, 0:1] * experts[0]
    for k in range(1, len(experts)):
        out = out + weights[:, k:k + 1] * experts[k]
    return out


class Level(nn.Module):
    """One CGC level. Tensors: specific_experts.{t}.{j}.*, shared_experts.{j}.*,
    task_gates.{t}.*, shared_gate.* (not on the last level unless "ignore")."""

    def __init__(self, index, in_features, cfg, prelu_sizes):
        super().__init__()
        prefix = f"levels.{index}"
        self.index = index
        spec, shared = cfg["specific_experts"], cfg["shared_experts"]
        self.specific_experts = nn.ModuleList(
            nn.ModuleList(MLP(f"{prefix}.specific_experts.{t}.{j}", in_features, cfg["expert"], prelu_sizes)
                          for j in range(n))
            for t, n in enumerate(spec))
        self.shared_experts = nn.ModuleList(
            MLP(f"{prefix}.shared_experts.{j}", in_features, cfg["expert"], prelu_sizes)
            for j in range(shared))
        self.task_gates = nn.ModuleList(
            _make_gate(f"{prefix}.task_gates.{t}", in_features, n + shared, cfg["gate"], prelu_sizes)
            for t, n in enumerate(spec))
        self.shared_gate = None
        if cfg["has_shared_gate"]:
            self.shared_gate = _make_gate(f"{prefix}.shared_gate", in_features, sum(spec) + shared,
                                          cfg["gate"], prelu_sizes)
        # False on the last level: an "ignore" shared gate is loaded but never evaluated.
        self.shared_gate_used = cfg["shared_gate_used"]
        self.out_features = cfg["expert"]["units"][-1]

    def expert_outputs(self, task_inputs, shared_input):
        """([[task t's specific expert outputs]], [shared expert outputs])"""
        specific = [[expert(task_inputs[t]) for expert in experts]
                    for t, experts in enumerate(self.specific_experts)]
        shared = [expert(shared_input) for expert in self.shared_experts]
        return specific, shared

    def forward(self, task_inputs, shared_input):
        """task_inputs[t]: task t's output of the previous level (x on level 0).
        Returns (task_outputs, shared_output or None, {gate name: weights})."""
        specific, shared = self.expert_outputs(task_inputs, shared_input)
        gate_weights = {}
        task_outputs = []
        for t, gate in enumerate(self.task_gates):
            w = gate(task_inputs[t])  # order: task t's specific experts, then shared
            if isinstance(gate, SoftmaxGate):
                gate_weights[f"levels.{self.index}.task_gates.{t}"] = w
            task_outputs.append(mix(w, specific[t] + shared))
        shared_output = None
        if self.shared_gate_used:
            w = self.shared_gate(shared_input)  # order: task 0 specific, task 1 specific, .., shared
            if isinstance(self.shared_gate, SoftmaxGate):
                gate_weights[f"levels.{self.index}.shared_gate"] = w
            shared_output = mix(w, [e for experts in specific for e in experts] + shared)
        return task_outputs, shared_output, gate_weights


class Tower(nn.Module):
    """Tensors: layers.{i}.*, head.weight [1, in], head.bias [1], output_bias [1]."""

    def __init__(self, prefix, in_features, cfg, binary, prelu_sizes):
        super().__init__()
        self.binary = binary
        self.layers = _dense_stack(prefix, in_features, cfg["units"], cfg["bias"], cfg["batch_norm"],
                                   cfg["eps"], cfg["activation"], prelu_sizes)
        width = cfg["units"][-1] if cfg["units"] else in_features
        self.head = nn.Linear(width, 1, bias=cfg["head_bias"])
        if cfg["output_bias"]:
            self.output_bias = nn.Parameter(torch.zeros(1))
        else:
            self.register_parameter("output_bias", None)

    def logit(self, x):
        for layer in self.layers:
            x = layer(x)
        z = self.head(x)[:, 0]
        if self.output_bias is not None:
            z = z + self.output_bias[0]
        return z

    def forward(self, x):
        z = self.logit(x)
        return torch.sigmoid(z) if self.binary else z


class PLE(nn.Module):
    def __init__(self, config, prelu_sizes=None):
        super().__init__()
        resolved = resolve_config(config)
        prelu_sizes = prelu_sizes or {}
        self.config = config
        self.resolved = resolved
        self.input_width = resolved["input_width"]
        self.task_names = [t["name"] for t in resolved["tasks"]]
        self.levels = nn.ModuleList()
        width = self.input_width
        for l, level_cfg in enumerate(resolved["levels"]):
            level = Level(l, width, level_cfg, prelu_sizes)
            self.levels.append(level)
            width = level.out_features
        self.towers = nn.ModuleList(
            Tower(f"towers.{t}", width, cfg, task["type"] == "binary", prelu_sizes)
            for t, (cfg, task) in enumerate(zip(resolved["towers"], resolved["tasks"])))

    def forward_levels(self, x):
        """Returns (task outputs of the last level, {gate name: weights})."""
        if x.dim() != 2 or x.shape[1] != self.input_width:
            raise ValueError(f"input: expected [N, {self.input_width}], found {list(x.shape)}")
        task_inputs = [x] * len(self.task_names)
        shared_input = x
        gates = {}
        for level in self.levels:
            task_inputs, shared_input, level_gates = level(task_inputs, shared_input)
            gates.update(level_gates)
        return task_inputs, gates

    def forward(self, x):
        """x: [N, input_width]. Returns (outputs [N, T], {gate name: [N, n]})."""
        task_outputs, gates = self.forward_levels(x)
        outputs = torch.stack([tower(h) for tower, h in zip(self.towers, task_outputs)], dim=1)
        return outputs, gates


# ----------------------------------------------------------------------------------------
# Building and loading.
# ----------------------------------------------------------------------------------------

def build_model(config, weights=None, prelu_sizes=None, dtype=torch.float64):
    """Builds the model in eval mode.

    config:      the JSON config as a dict.
    weights:     optional {native name: array or tensor}. Loaded strictly: every tensor the
                 config implies must be there with its shape, no other tensor may be
                 (`*.bn.num_batches_tracked` is optional). PReLU slope shapes ([1] or [units])
                 are taken from it. Values are converted to `dtype`.
    prelu_sizes: without weights, {"<prefix>.layers.{i}.prelu.weight": 1 or units}; default 1.
    """
    if weights is not None:
        weights = {k: torch.as_tensor(np.asarray(v)) if not torch.is_tensor(v) else v
                   for k, v in weights.items()}
        prelu_sizes = {k: int(v.numel()) for k, v in weights.items()
                       if k.endswith(".prelu.weight") and v.dim() == 1}
    model = PLE(config, prelu_sizes).to(dtype)
    if weights is not None:
        load_weights(model, weights)
    return model.eval()


def load_weights(model, weights):
    expected = model.state_dict()
    errors = []
    for name, tensor in expected.items():
        if name not in weights:
            if not name.endswith(".num_batches_tracked"):
                errors.append(f"missing tensor '{name}' (expected shape {list(tensor.shape)})")
            continue
        found = weights[name]
        if tuple(found.shape) != tuple(tensor.shape):
            errors.append(f"tensor '{name}': expected shape {list(tensor.shape)}, found {list(found.shape)}")
        elif not name.endswith(".num_batches_tracked") and not torch.isfinite(found.double()).all():
            errors.append(f"tensor '{name}': has a non-finite value")
    for name in weights:
        if name not in expected:
            errors.append(f"unexpected tensor '{name}' (shape {list(weights[name].shape)})")
    if errors:
        raise ConfigError("weights do not match the config:\n  " + "\n  ".join(errors))
    with torch.no_grad():
        for name, tensor in expected.items():
            if name in weights:
                tensor.copy_(weights[name].to(tensor.dtype))


def inputs_from_rows(config, rows):
    """rows: list of {input name: list of numbers}. Returns float64 [N, W] of float32 values
    (the runtime takes float32 inputs)."""
    resolved = resolve_config(config)
    out = []
    for r, row in enumerate(rows):
        values = []
        for inp in resolved["inputs"]:
            v = row.get(inp["name"])
            if v is None or len(v) != inp["width"]:
                raise ValueError(f"row {r}: input '{inp['name']}' needs {inp['width']} numbers")
            values.extend(v)
        unknown = set(row) - {i["name"] for i in resolved["inputs"]}
        if unknown:
            raise ValueError(f"row {r}: unknown input(s) {sorted(unknown)}")
        out.append(values)
    return torch.from_numpy(np.asarray(out, dtype=np.float32).astype(np.float64))


def _load_json(path):
    with open(path) as f:
        return json.load(f)


def check_bundle(bundle_dir):
    """Recomputes a conformance bundle with this reference and compares with its expected
    tensors under the bundle's tolerance. Returns {tensor name: max abs error}; raises
    AssertionError on a mismatch."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import safetensors_io

    manifest = _load_json(os.path.join(bundle_dir, "bundle.json"))
    config = _load_json(os.path.join(bundle_dir, manifest["config"]))
    weights, _ = safetensors_io.load_file(os.path.join(bundle_dir, manifest["weights"]))
    data, _ = safetensors_io.load_file(os.path.join(bundle_dir, manifest["data"]))
    model = build_model(config, weights)
    x = torch.from_numpy(data["inputs"].astype(np.float64))
    with torch.no_grad():
        outputs, gates = model(x)
    got = {"expected.outputs": outputs}
    got.update({f"expected.{k}": v for k, v in gates.items()})
    rtol, atol = manifest["tolerance"]["rtol"], manifest["tolerance"]["atol"]
    report = {}
    for name, expected in data.items():
        if not name.startswith("expected."):
            continue
        if name not in got:
            raise AssertionError(f"{bundle_dir}: the reference has no '{name}'")
        diff = np.abs(got[name].numpy() - expected)
        ok = (diff <= atol) | (diff <= rtol * np.abs(expected))
        if not ok.all():
            raise AssertionError(f"{bundle_dir}: '{name}' differs, max abs error {diff.max():.3g}")
        report[name] = float(diff.max())
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config")
    parser.add_argument("--weights")
    parser.add_argument("--inputs", help="JSON lines, one candidate per line: input name -> numbers")
    parser.add_argument("--bundle", action="append", default=[],
                        help="bundle directory to recompute and compare (repeatable)")
    args = parser.parse_args(argv)
    if args.bundle:
        for bundle in args.bundle:
            report = check_bundle(bundle)
            worst = max(report.values())
            print(f"{bundle}: {len(report)} tensors match, max abs error {worst:.3g}")
        return 0
    if not (args.config and args.weights and args.inputs):
        parser.error("give --config, --weights and --inputs, or --bundle")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import safetensors_io

    config = _load_json(args.config)
    weights, _ = safetensors_io.load_file(args.weights)
    model = build_model(config, weights)
    with open(args.inputs) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with torch.no_grad():
        outputs, _ = model(inputs_from_rows(config, rows))
    for row in outputs.tolist():
        print(json.dumps(dict(zip(model.task_names, row))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
