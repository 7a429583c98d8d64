"""Independent float64 PyTorch reference for PLE-family multi-task ranking models.

This module is the test oracle for the C++ runtime. It implements docs/config-format.md
literally and shares no code with the runtime or the converter:
  * it builds a torch.nn.Module from the JSON config whose state_dict() names are exactly the
    native weight naming (e.g. `levels.0.specific_experts.1.0.layers.0.linear.weight`,
    `embeddings.video.weight`);
  * BatchNorm is a real torch.nn.BatchNorm1d in eval mode with the config's eps. Nothing is
    folded: the converter folds BN, the reference computes it the plain way, so the two differ
    in rounding only.
  * the forward pass follows the PLE paper's routing (Eq. 2-6) with plain loops;
  * the feature layer (tables, dense / sparse / sequence features, oov and nan policies) and
    the ranking score (the paper's Eq. 1) follow the "Features" and "Ranking score" sections.
    An "f16" table is used as the model file holds it: every value rounded to half precision.

MMoE (one level, no specific experts), CGC (one level) and shared-bottom (one shared expert,
gate type "none") are configs of the same module.

Usage:
    model = build_model(config)                     # fresh weights, PReLU slopes of shape [1]
    model = build_model(config, weights=tensors)    # shapes checked, weights loaded (strict)
    outputs, gates = model(x)                       # x float64 [N, input_width] (`inputs`
                                                    # configs), or a feature dict:
    outputs, gates = model({"user_id": ids [N] int64, "history": ids [N, L] int64,
                            "history.lengths": [N] int64 (optional), "age": [N, 1] float64,
                            "video_len": [N] float64 (an extra), ...})
    # outputs [N, T] after sigmoid (binary) / identity (regression)
    # gates {"levels.{l}.task_gates.{t}": [N, n], "levels.{l}.shared_gate": [N, n]}
    scores = model.scores(outputs, inputs)          # [N], or None without a `score`
    outputs, gates, scores = model.predict(inputs)  # both at once

Command line (compare your own runtime's numbers with the reference):
    /usr/bin/python3 tests/reference/ple_reference.py --config c.json --weights w.safetensors \
        --inputs request.jsonl [--evaluate]   # ple-run's JSON lines (docs/ple-run.md)
    /usr/bin/python3 tests/reference/ple_reference.py --bundle tests/bundles/mmoe
                                          # recompute a bundle and compare with its expected
"""

import argparse
import copy
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("identity", "relu", "leaky_relu", "prelu", "sigmoid", "tanh", "silu", "dice")
LEAKY_RELU_DEFAULT_SLOPE = 0.01
DICE_DEFAULT_EPSILON = 1e-3  # torch-rechub's Dice(epsilon=1e-3)
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
            "last_level_shared_gate", "tables", "features", "extras", "score"}
TABLE_KEYS = {"name", "vocabulary", "dim", "dtype"}
FEATURE_KEYS = {
    "dense": {"name", "kind", "scope", "width", "normalize", "nan"},
    "sparse": {"name", "kind", "scope", "table", "oov"},
    "sequence": {"name", "kind", "scope", "table", "max_length", "pooling", "padding_id",
                 "mean_eps", "oov"},
}
# Keys of a ple-run JSON line (docs/ple-run.md): a feature or an extra may not be named so.
RESERVED_NAMES = {"request", "id", "labels"}
SCORE_KEYS = {"exponents", "transform", "regression_floor"}
TRANSFORMS = ("none", "identity", "log1p", "sigmoid")
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
    """Returns (kind, parameter): the negative slope for leaky_relu (default 0.01), the epsilon
    for dice (default 1e-3); for the other kinds the parameter is unused (0.01)."""
    if isinstance(spec, str):
        kind, slope = spec, LEAKY_RELU_DEFAULT_SLOPE
        if kind == "dice":
            slope = DICE_DEFAULT_EPSILON
    elif isinstance(spec, dict):
        _check_keys(spec, {"type", "negative_slope", "epsilon"}, where)
        kind = spec.get("type")
        slope = spec.get("negative_slope", LEAKY_RELU_DEFAULT_SLOPE)
        if "negative_slope" in spec and kind != "leaky_relu":
            raise ConfigError(f"{where}: negative_slope only applies to leaky_relu")
        if "epsilon" in spec and kind != "dice":
            raise ConfigError(f"{where}: epsilon only applies to dice")
        if not _is_number(slope):
            raise ConfigError(f"{where}.negative_slope: expected a finite number, found {slope!r}")
        if kind == "dice":
            slope = spec.get("epsilon", DICE_DEFAULT_EPSILON)
            # v sums (y_j - m)^2 + eps over the layer: eps > 0 keeps sqrt(v) away from 0 when
            # every output of a row is equal (e.g. a layer of width 1).
            if not _is_number(slope) or not slope > 0:
                raise ConfigError(f"{where}.epsilon: expected a finite number > 0, found {slope!r}")
    else:
        raise ConfigError(f"{where}: expected an activation name or object, found {spec!r}")
    if kind not in ACTIVATIONS:
        raise ConfigError(f"{where}: unknown activation {kind!r}; supported: {list(ACTIVATIONS)}")
    return kind, float(slope)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


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


def _name(obj, where, seen, what):
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: expected a non-empty string, found {name!r}")
    if name in seen:
        raise ConfigError(f"{where}.name: duplicate {what} name {name!r}")
    seen.add(name)
    return name


def _scope(obj, where):
    scope = obj.get("scope")
    if scope not in ("request", "candidate"):
        raise ConfigError(f"{where}.scope: expected 'request' or 'candidate', found {scope!r}")
    return scope


def _per_column(value, width, where, positive):
    """A number or a list of `width` numbers -> list of `width` floats."""
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) != width:
        raise ConfigError(f"{where}: expected a number or a list of {width} numbers, "
                          f"found a list of {len(value)}")
    if not all(_is_number(v) and (v > 0 or not positive) for v in values):
        raise ConfigError(f"{where}: expected finite numbers{' > 0' if positive else ''}, "
                          f"found {value!r}")
    return [float(v) for v in values] * (width if not isinstance(value, list) else 1)


def _resolve_oov(spec, vocabulary, where):
    if spec is None or spec == "error":
        return ("error", None)
    if spec == "hash":
        return ("hash", None)
    if isinstance(spec, dict) and set(spec) == {"oov_row"}:
        row = spec["oov_row"]
        if not _is_int(row) or not 0 <= row < vocabulary:
            raise ConfigError(f"{where}.oov_row: expected an integer in [0, {vocabulary}), "
                              f"found {row!r}")
        return ("oov_row", row)
    raise ConfigError(f"{where}: expected \"error\", \"hash\" or {{\"oov_row\": R}}, found {spec!r}")


def _resolve_feature_layer(config):
    """Returns (inputs, tables, features, extras), all resolved.

    A feature: {"name", "kind", "scope", "width" (its output width), "index" (position in
    the features list), "offset" (first column in the model input)} plus, dense: "normalize"
    (None or (mean list, std list)), "nan" (("error", None) or ("replace", v)); sparse and
    sequence: "table", "vocabulary", "dim", "dtype" (of the table), "oov" ((policy, row));
    sequence: "max_length", "pooling", "padding_id" (int or None), "mean_eps".
    """
    has_inputs, has_features = "inputs" in config, "features" in config
    if has_inputs and has_features:
        raise ConfigError("config: give either 'inputs' or 'features', not both")
    if not has_features and "tables" in config:
        raise ConfigError("config.tables: only with 'features'")
    features = []
    names = set()
    inputs = []
    tables = []
    if not has_features:
        inputs = config.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise ConfigError("config.inputs: expected a non-empty list")
        for i, inp in enumerate(inputs):
            where = f"config.inputs[{i}]"
            _check_keys(inp, {"name", "width", "scope"}, where)
            if not isinstance(inp.get("name"), str) or inp["name"] in names:
                raise ConfigError(f"{where}.name: missing or duplicate")
            names.add(inp["name"])
            if not _is_int(inp.get("width")) or inp["width"] < 1:
                raise ConfigError(f"{where}.width: expected an integer >= 1, found {inp.get('width')!r}")
            if inp.get("scope") not in ("request", "candidate"):
                raise ConfigError(f"{where}.scope: expected 'request' or 'candidate', found {inp.get('scope')!r}")
            features.append({"name": inp["name"], "kind": "dense", "scope": inp["scope"],
                             "width": inp["width"], "normalize": None, "nan": ("error", None)})
    else:
        tables_cfg = config.get("tables", [])
        if not isinstance(tables_cfg, list):
            raise ConfigError("config.tables: expected a list")
        by_name = {}
        for i, table in enumerate(tables_cfg):
            where = f"config.tables[{i}]"
            _check_keys(table, TABLE_KEYS, where)
            name = _name(table, where, set(by_name), "table")
            if "." in name:  # embeddings.<name>.weight must split back into its name
                raise ConfigError(f"{where}.name: may not contain '.', found {name!r}")
            for key in ("vocabulary", "dim"):
                if not _is_int(table.get(key)) or table[key] < 1:
                    raise ConfigError(f"{where}.{key}: expected an integer >= 1, found {table.get(key)!r}")
            dtype = table.get("dtype", "f32")
            if dtype not in ("f32", "f16"):
                raise ConfigError(f"{where}.dtype: expected 'f32' or 'f16', found {dtype!r}")
            by_name[name] = {"name": name, "vocabulary": table["vocabulary"], "dim": table["dim"],
                             "dtype": dtype}
            tables.append(by_name[name])
        features_cfg = config["features"]
        if not isinstance(features_cfg, list) or not features_cfg:
            raise ConfigError("config.features: expected a non-empty list")
        used = set()
        for i, feat in enumerate(features_cfg):
            where = f"config.features[{i}]"
            if not isinstance(feat, dict):
                raise ConfigError(f"{where}: expected an object")
            kind = feat.get("kind")
            if kind not in FEATURE_KEYS:
                raise ConfigError(f"{where}.kind: expected 'dense', 'sparse' or 'sequence', found {kind!r}")
            _check_keys(feat, FEATURE_KEYS[kind], where)
            name = _name(feat, where, names, "feature")
            f = {"name": name, "kind": kind, "scope": _scope(feat, where)}
            if kind == "dense":
                if not _is_int(feat.get("width")) or feat["width"] < 1:
                    raise ConfigError(f"{where}.width: expected an integer >= 1, found {feat.get('width')!r}")
                f["width"] = feat["width"]
                norm = feat.get("normalize")
                if norm is not None:
                    _check_keys(norm, {"mean", "std"}, f"{where}.normalize")
                    if set(norm) != {"mean", "std"}:
                        raise ConfigError(f"{where}.normalize: needs both 'mean' and 'std'")
                    norm = (_per_column(norm["mean"], f["width"], f"{where}.normalize.mean", False),
                            _per_column(norm["std"], f["width"], f"{where}.normalize.std", True))
                f["normalize"] = norm
                nan = feat.get("nan", "error")
                if nan == "error":
                    f["nan"] = ("error", None)
                elif isinstance(nan, dict) and set(nan) == {"replace"} and _is_number(nan["replace"]):
                    f["nan"] = ("replace", float(nan["replace"]))
                else:
                    raise ConfigError(f"{where}.nan: expected \"error\" or {{\"replace\": a finite "
                                      f"number}}, found {nan!r}")
            else:
                table = by_name.get(feat.get("table"))
                if table is None:
                    raise ConfigError(f"{where}.table: {feat.get('table')!r} is not in config.tables")
                used.add(table["name"])
                f.update(table=table["name"], vocabulary=table["vocabulary"], width=table["dim"],
                         dtype=table["dtype"],
                         oov=_resolve_oov(feat.get("oov"), table["vocabulary"], f"{where}.oov"))
            if kind == "sequence":
                if not _is_int(feat.get("max_length")) or feat["max_length"] < 1:
                    raise ConfigError(f"{where}.max_length: expected an integer >= 1, "
                                      f"found {feat.get('max_length')!r}")
                if feat.get("pooling") not in ("sum", "mean"):
                    raise ConfigError(f"{where}.pooling: expected 'sum' or 'mean', found {feat.get('pooling')!r}")
                padding = feat.get("padding_id")
                if padding is not None and not _is_int(padding):
                    raise ConfigError(f"{where}.padding_id: expected an integer or null, found {padding!r}")
                mean_eps = feat.get("mean_eps", 0.0)
                if "mean_eps" in feat and feat["pooling"] != "mean":
                    raise ConfigError(f"{where}.mean_eps: only with pooling 'mean'")
                if not _is_number(mean_eps) or mean_eps < 0:
                    raise ConfigError(f"{where}.mean_eps: expected a finite number >= 0, found {mean_eps!r}")
                f.update(max_length=feat["max_length"], pooling=feat["pooling"],
                         padding_id=padding, mean_eps=float(mean_eps))
            features.append(f)
        unused = [t["name"] for t in tables if t["name"] not in used]
        if unused:
            raise ConfigError(f"config.tables: no feature reads table(s) {unused}")
    offset = 0
    for i, f in enumerate(features):
        f["index"], f["offset"] = i, offset
        offset += f["width"]
        if f["name"] in RESERVED_NAMES or f["name"].endswith(".lengths"):
            raise ConfigError(f"config: feature name {f['name']!r} is reserved")

    extras_cfg = config.get("extras", [])
    if not isinstance(extras_cfg, list):
        raise ConfigError("config.extras: expected a list")
    extras = []
    for i, extra in enumerate(extras_cfg):
        where = f"config.extras[{i}]"
        _check_keys(extra, {"name"}, where)
        name = _name(extra, where, names, "feature or extra")
        if name in RESERVED_NAMES or name.endswith(".lengths"):
            raise ConfigError(f"{where}.name: {name!r} is reserved")
        extras.append({"name": name})
    return inputs, tables, features, extras


def _resolve_score(config, tasks, features, extras):
    """None, or {"exponents": [(task index, w)] for w != 0, in task order, "regression_floor",
    "transform": {"type", "input", "source" ("extra" or "feature"), "scale", "offset"}}."""
    if "score" not in config:
        return None
    score = config["score"]
    _check_keys(score, SCORE_KEYS, "config.score")
    exponents = score.get("exponents", {})
    if not isinstance(exponents, dict):
        raise ConfigError("config.score.exponents: expected an object task name -> number")
    names = [t["name"] for t in tasks]
    for key, w in exponents.items():
        if key not in names:
            raise ConfigError(f"config.score.exponents: {key!r} is not a task; tasks: {names}")
        if not _is_number(w):
            raise ConfigError(f"config.score.exponents.{key}: expected a finite number, found {w!r}")
    floor = score.get("regression_floor", 0.0)
    if not _is_number(floor) or floor < 0:
        raise ConfigError(f"config.score.regression_floor: expected a finite number >= 0, found {floor!r}")
    transform = score.get("transform", {"type": "none"})
    _check_keys(transform, {"type", "input", "scale", "offset"}, "config.score.transform")
    kind = transform.get("type")
    if kind not in TRANSFORMS:
        raise ConfigError(f"config.score.transform.type: expected one of {list(TRANSFORMS)}, found {kind!r}")
    resolved = {"type": kind, "input": None, "source": None, "scale": 1.0, "offset": 0.0}
    if kind != "sigmoid" and ("scale" in transform or "offset" in transform):
        raise ConfigError("config.score.transform: scale and offset only apply to 'sigmoid'")
    for key in ("scale", "offset"):
        if key in transform:
            if not _is_number(transform[key]):
                raise ConfigError(f"config.score.transform.{key}: expected a finite number")
            resolved[key] = float(transform[key])
    if kind == "none":
        if "input" in transform:
            raise ConfigError("config.score.transform.input: not with type 'none'")
    else:
        name = transform.get("input")
        if name in [e["name"] for e in extras]:
            resolved["source"] = "extra"
        else:
            feat = next((f for f in features if f["name"] == name), None)
            if feat is None or feat["kind"] != "dense" or feat["scope"] != "candidate" \
                    or feat["width"] != 1:
                raise ConfigError(f"config.score.transform.input: {name!r} is neither an extra nor "
                                  f"a candidate-scope dense feature of width 1")
            resolved["source"] = "feature"
        resolved["input"] = name
    return {"exponents": [(t, float(exponents[n])) for t, n in enumerate(names)
                          if exponents.get(n, 0) != 0],
            "regression_floor": float(floor), "transform": resolved}


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

    inputs, tables, features, extras = _resolve_feature_layer(config)

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

    score = _resolve_score(config, tasks, features, extras)
    # "inputs": the config's `inputs` list (empty for a config with `features`); "features":
    # every feature resolved, `inputs` included (each one a dense feature).
    return {"inputs": [dict(i) for i in inputs], "tasks": [dict(t) for t in tasks],
            "input_width": sum(f["width"] for f in features), "levels": levels, "towers": towers,
            "last_level_shared_gate": last_gate, "tables": tables, "features": features,
            "extras": extras, "score": score}


# ----------------------------------------------------------------------------------------
# Modules. Attribute names ARE the native weight naming; do not rename them.
# ----------------------------------------------------------------------------------------

class Dice(nn.Module):
    """torch-rechub's Dice (docs/config-format.md), per row over the layer's outputs:
    m = mean_j y_j, v = sum_j ((y_j - m)^2 + eps), p = sigmoid((y - m) / sqrt(v)),
    out = p y + (1 - p) alpha y. Tensor: alpha [1]."""

    def __init__(self, epsilon):
        super().__init__()
        self.epsilon = epsilon
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, y):
        m = y.mean(dim=1, keepdim=True)
        v = (torch.pow(y - m, 2) + self.epsilon).sum(dim=1, keepdim=True)
        p = torch.sigmoid((y - m) / torch.sqrt(v))
        return p * y + (1 - p) * self.alpha * y


class DenseLayer(nn.Module):
    """Linear -> [BatchNorm1d (eval)] -> activation. Tensors: linear.*, bn.*, prelu.weight,
    dice.alpha."""

    def __init__(self, in_features, out_features, bias, batch_norm, eps, activation, prelu_size):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.bn = nn.BatchNorm1d(out_features, eps=eps) if batch_norm else None
        self.kind, self.negative_slope = activation  # for dice: (kind, epsilon)
        self.prelu = nn.PReLU(num_parameters=prelu_size) if self.kind == "prelu" else None
        if self.kind == "dice":
            self.dice = Dice(self.negative_slope)

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
        if self.kind == "dice":
            return self.dice(h)
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


class InputError(ValueError):
    """An input the model rejects at run time (an out-of-vocabulary id under "error", a NaN
    under nan "error", a sequence longer than max_length, a missing feature)."""


class Table(nn.Module):
    """An embedding table. Tensor: weight [vocabulary, dim]."""

    def __init__(self, vocabulary, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocabulary, dim))
        nn.init.normal_(self.weight)  # nn.Embedding's initialisation


class Tables(nn.Module):
    """Tensors: <table>.weight. Registered under the table's own name, whatever it is."""

    def __init__(self, tables):
        super().__init__()
        for t in tables:
            self._modules[t["name"]] = Table(t["vocabulary"], t["dim"])

    def __getitem__(self, name):
        return self._modules[name]


def table_values(weight, dtype_name):
    """The table as the model file holds it: "f16" rounds every value to half precision
    (float32 first, then round-to-nearest-even to f16, as a converter reading the weights as
    float32 and storing f16 does), widened back to the weight's dtype."""
    if dtype_name == "f16":
        return weight.float().half().to(weight.dtype)
    return weight


def _first(mask):
    return tuple(int(i) for i in mask.nonzero()[0])


def lookup_rows(f, ids, mask):
    """Table rows of the ids where mask is true (0 elsewhere), under the feature's oov policy."""
    vocabulary = f["vocabulary"]
    oov = (ids < 0) | (ids >= vocabulary)
    policy, row = f["oov"]
    bad = oov & mask
    if policy == "error" and bool(bad.any()):
        where = _first(bad)
        raise InputError(f"feature '{f['name']}': candidate {where[0]}: id {int(ids[where])} is "
                         f"outside the vocabulary [0, {vocabulary})")
    if policy == "hash":
        rows = torch.remainder(ids, vocabulary)  # floor modulo: -1 -> vocabulary - 1
    elif policy == "oov_row":
        rows = torch.where(oov, torch.full_like(ids, row), ids)
    else:
        rows = ids
    return torch.where(mask, rows, torch.zeros_like(rows))


def dense_raw(f, value, dtype):
    """A dense feature's values [N, width] after the nan policy, before normalize."""
    x = torch.as_tensor(value).to(dtype)
    if x.dim() == 1 and f["width"] == 1:
        x = x[:, None]
    if x.dim() != 2 or x.shape[1] != f["width"]:
        raise InputError(f"feature '{f['name']}': expected [N, {f['width']}] values, found {list(x.shape)}")
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        policy, replacement = f["nan"]
        if policy == "error":
            where = _first(bad)
            raise InputError(f"feature '{f['name']}': candidate {where[0]}: value {float(x[where])} "
                             f"is not finite")
        x = torch.where(bad, torch.full_like(x, replacement), x)
    return x


def dense_feature(f, value, dtype):
    x = dense_raw(f, value, dtype)
    if f["normalize"] is not None:
        mean, std = f["normalize"]
        x = (x - torch.tensor(mean, dtype=dtype)) / torch.tensor(std, dtype=dtype)
    return x


def sparse_feature(f, ids, table):
    ids = torch.as_tensor(ids)
    if ids.dim() != 1 or ids.dtype != torch.int64:
        raise InputError(f"feature '{f['name']}': expected int64 ids [N], found {ids.dtype} {list(ids.shape)}")
    rows = lookup_rows(f, ids, torch.ones_like(ids, dtype=torch.bool))
    return table[rows]


def sequence_feature(f, ids, lengths, table):
    """ids [N, L] int64; lengths [N] (optional: ids past a row's length are not given).
    Ids equal to padding_id are skipped; sum or mean of the rest; no id left -> zeros."""
    ids = torch.as_tensor(ids)
    if ids.dim() != 2 or ids.dtype != torch.int64:
        raise InputError(f"feature '{f['name']}': expected int64 ids [N, L], found {ids.dtype} {list(ids.shape)}")
    n, length = ids.shape
    if lengths is None:
        given = torch.full((n,), length, dtype=torch.int64)
    else:
        given = torch.as_tensor(lengths)
        if given.shape != (n,) or given.dtype != torch.int64 or bool(((given < 0) | (given > length)).any()):
            raise InputError(f"feature '{f['name']}': lengths must be int64 [N] in [0, {length}]")
    too_long = given > f["max_length"]
    if bool(too_long.any()):
        where = _first(too_long)
        raise InputError(f"feature '{f['name']}': candidate {where[0]}: {int(given[where])} ids, "
                         f"more than max_length {f['max_length']}")
    mask = torch.arange(length)[None, :] < given[:, None]
    if f["padding_id"] is not None:
        mask = mask & (ids != f["padding_id"])
    rows = lookup_rows(f, ids, mask)
    pooled = (table[rows] * mask[:, :, None].to(table.dtype)).sum(dim=1)
    if f["pooling"] == "mean":
        count = mask.sum(dim=1).to(table.dtype)
        denominator = torch.where(count > 0, count + f["mean_eps"], torch.ones_like(count))
        pooled = pooled / denominator[:, None]  # an empty row sums to 0: stays 0
    return pooled


class PLE(nn.Module):
    def __init__(self, config, prelu_sizes=None):
        super().__init__()
        resolved = resolve_config(config)
        prelu_sizes = prelu_sizes or {}
        self.config = config
        self.resolved = resolved
        self.input_width = resolved["input_width"]
        self.task_names = [t["name"] for t in resolved["tasks"]]
        self.binary = [t["type"] == "binary" for t in resolved["tasks"]]
        # The feature layer (plain data, so a test can alter a copy of the model).
        self.features = [dict(f) for f in resolved["features"]]
        self.extras = [e["name"] for e in resolved["extras"]]
        self.score_cfg = copy.deepcopy(resolved["score"])
        self.table_dtype = {t["name"]: t["dtype"] for t in resolved["tables"]}
        self.embeddings = Tables(resolved["tables"])  # empty without `features`: no tensors
        self.levels = nn.ModuleList()
        width = self.input_width
        for l, level_cfg in enumerate(resolved["levels"]):
            level = Level(l, width, level_cfg, prelu_sizes)
            self.levels.append(level)
            width = level.out_features
        self.towers = nn.ModuleList(
            Tower(f"towers.{t}", width, cfg, task["type"] == "binary", prelu_sizes)
            for t, (cfg, task) in enumerate(zip(resolved["towers"], resolved["tasks"])))

    def _dtype(self):
        return self.towers[0].head.weight.dtype

    def _check_keys(self, inputs):
        known = {f["name"] for f in self.features} | set(self.extras) | \
            {f["name"] + ".lengths" for f in self.features if f["kind"] == "sequence"}
        unknown = sorted(set(inputs) - known)
        if unknown:
            raise InputError(f"unknown input(s) {unknown}")

    def feature_blocks(self, inputs):
        """inputs: {feature name: values, "<sequence>.lengths": [N] (optional), extra name:
        [N]}: dense [N, width] float, sparse [N] int64, sequence [N, L] int64. Returns each
        feature's output [N, width], in the features' order."""
        self._check_keys(inputs)
        dtype = self._dtype()
        blocks = []
        for f in self.features:
            if f["name"] not in inputs:
                raise InputError(f"feature '{f['name']}' missing")
            value = inputs[f["name"]]
            if f["kind"] == "dense":
                block = dense_feature(f, value, dtype)
            else:
                table = table_values(self.embeddings[f["table"]].weight, self.table_dtype[f["table"]])
                if f["kind"] == "sparse":
                    block = sparse_feature(f, value, table)
                else:
                    block = sequence_feature(f, value, inputs.get(f["name"] + ".lengths"), table)
            if blocks and block.shape[0] != blocks[0].shape[0]:
                raise InputError(f"feature '{f['name']}': {block.shape[0]} rows, expected {blocks[0].shape[0]}")
            blocks.append(block)
        return blocks

    def model_input(self, inputs):
        """The model input [N, input_width]: `inputs` itself when it is a tensor (the
        concatenated dense inputs of an `inputs` config, or a precomputed feature vector),
        else the features' outputs concatenated in list order."""
        if torch.is_tensor(inputs):
            return inputs
        return torch.cat(self.feature_blocks(inputs), dim=1)

    def forward_levels(self, inputs):
        """Returns (task outputs of the last level, {gate name: weights})."""
        x = self.model_input(inputs)
        if x.dim() != 2 or x.shape[1] != self.input_width:
            raise ValueError(f"input: expected [N, {self.input_width}], found {list(x.shape)}")
        task_inputs = [x] * len(self.task_names)
        shared_input = x
        gates = {}
        for level in self.levels:
            task_inputs, shared_input, level_gates = level(task_inputs, shared_input)
            gates.update(level_gates)
        return task_inputs, gates

    def forward(self, inputs):
        """inputs: x [N, input_width] or a feature dict (see feature_blocks).
        Returns (outputs [N, T], {gate name: [N, n]})."""
        task_outputs, gates = self.forward_levels(inputs)
        outputs = torch.stack([tower(h) for tower, h in zip(self.towers, task_outputs)], dim=1)
        return outputs, gates

    def transform_input(self, inputs):
        """The ranking score's transform input [N]: an extra, or a candidate-scope dense
        feature of width 1 as given (after its nan policy, before normalize)."""
        tr = self.score_cfg["transform"]
        dtype = self._dtype()
        if torch.is_tensor(inputs):  # `inputs` config: x holds the raw dense inputs
            f = next(f for f in self.features if f["name"] == tr["input"])
            return inputs[:, f["offset"]].to(dtype)
        if tr["input"] not in inputs:
            raise InputError(f"score: '{tr['input']}' missing")
        if tr["source"] == "feature":
            f = next(f for f in self.features if f["name"] == tr["input"])
            return dense_raw(f, inputs[tr["input"]], dtype)[:, 0]
        x = torch.as_tensor(inputs[tr["input"]]).to(dtype)
        if x.dim() != 1:
            raise InputError(f"extra '{tr['input']}': expected [N] values, found {list(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            where = _first(~torch.isfinite(x))
            raise InputError(f"extra '{tr['input']}': candidate {where[0]}: value is not finite")
        return x

    def scores(self, outputs, inputs):
        """The ranking score [N] (docs/config-format.md, Ranking score), or None without one:
        prod_k max(p_k, floor if regression) ^ w_k (tasks with w_k != 0, in task order) * f(x)."""
        cfg = self.score_cfg
        if cfg is None:
            return None
        score = torch.ones(outputs.shape[0], dtype=outputs.dtype)
        for t, w in cfg["exponents"]:
            p = outputs[:, t]
            if not self.binary[t]:
                p = torch.clamp(p, min=cfg["regression_floor"])
            score = score * torch.pow(p, w)  # 0 ^ w = 0 for w > 0 (inf for w < 0, as std::pow)
        tr = cfg["transform"]
        if tr["type"] == "none":
            return score
        x = self.transform_input(inputs)
        if tr["type"] == "identity":
            f = x
        elif tr["type"] == "log1p":
            f = torch.log1p(torch.clamp(x, min=0.0))
        else:
            f = 1.0 / (1.0 + torch.exp(-(tr["scale"] * x + tr["offset"])))
        return score * f

    def predict(self, inputs):
        """(outputs [N, T], {gate name: [N, n]}, scores [N] or None)."""
        outputs, gates = self.forward(inputs)
        return outputs, gates, self.scores(outputs, inputs)


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
    for table, dtype_name in getattr(model, "table_dtype", {}).items():
        name = f"embeddings.{table}.weight"
        if dtype_name == "f16" and name in weights and not errors and \
                not torch.isfinite(weights[name].float().half()).all():
            errors.append(f"tensor '{name}': a value does not fit in f16 (the table's dtype)")
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


def inputs_from_bundle(data, dtype=torch.float64):
    """A bundle's data.safetensors tensors -> the forward's input: x (from `inputs`) or the
    feature dict ({name: tensor} from `features.<name>`, `features.<name>.lengths` and
    `extras.<name>`; float values widened to `dtype`, ids kept int64)."""
    if "inputs" in data:
        return torch.from_numpy(np.asarray(data["inputs"]).astype(np.float64)).to(dtype)
    inputs = {}
    for name, value in data.items():
        for prefix in ("features.", "extras."):
            if name.startswith(prefix):
                t = torch.from_numpy(np.asarray(value))
                inputs[name[len(prefix):]] = t if t.dtype == torch.int64 else \
                    t.to(torch.float64).to(dtype)
    return inputs


# ----------------------------------------------------------------------------------------
# Requests in ple-run's JSON lines (docs/ple-run.md) and --evaluate.
# ----------------------------------------------------------------------------------------

def _reject_constant(token):
    raise ValueError(f"{token} is not a JSON number")


def _float32(value, what):
    with np.errstate(over="ignore"):
        if not _is_number(value) or not math.isfinite(float(np.float32(value))):
            raise InputError(f"{what}: expected a number finite in float32, found {value!r}")
        return float(np.float32(value))


def _int64(value, what):
    if not _is_int(value) or not -2**63 <= value < 2**63:
        raise InputError(f"{what}: expected an integer id, found {value!r}")
    return value


def _parse_value(f, value, what):
    """One feature's JSON value -> float32 values (dense) or int ids (sparse, sequence)."""
    if f["kind"] == "dense":
        values = value if isinstance(value, list) else [value]
        if len(values) != f["width"] or (not isinstance(value, list) and f["width"] != 1):
            raise InputError(f"{what}: needs {f['width']} numbers, found "
                             f"{len(value) if isinstance(value, list) else 'one'}")
        return [_float32(v, what) for v in values]
    if f["kind"] == "sparse":
        return _int64(value, what)
    if not isinstance(value, list):
        raise InputError(f"{what}: expected an array of ids, found {value!r}")
    if len(value) > f["max_length"]:
        raise InputError(f"{what}: {len(value)} ids, more than max_length {f['max_length']}")
    return [_int64(v, what) for v in value]


def read_requests(config, lines):
    """Parses ple-run's JSON lines. Returns a list of requests, each {"line": first line
    number, "values": {request-scope feature: value}, "candidates": [{"line", "id", "values",
    "labels": {task: value or None}}]}. Blank lines are skipped."""
    r = resolve_config(config)
    request_feats = {f["name"]: f for f in r["features"] if f["scope"] == "request"}
    candidate_feats = {f["name"]: f for f in r["features"] if f["scope"] == "candidate"}
    extras = [e["name"] for e in r["extras"]]
    tasks = {t["name"]: t["type"] for t in r["tasks"]}
    requests = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_constant=_reject_constant)
        except ValueError as e:
            raise InputError(f"line {number}: not a JSON object: {e}") from None
        if not isinstance(obj, dict):
            raise InputError(f"line {number}: not a JSON object")
        if "request" in obj:
            if set(obj) != {"request"} or not isinstance(obj["request"], dict):
                raise InputError(f"line {number}: a request line is {{\"request\": {{...}}}} and nothing else")
            values = {}
            for name, value in obj["request"].items():
                if name not in request_feats:
                    kind = "a candidate-scope feature" if name in candidate_feats else \
                        "an extra" if name in extras else "unknown"
                    raise InputError(f"line {number}: '{name}' is {kind}, not a request-scope feature")
                values[name] = _parse_value(request_feats[name], value, f"line {number}: feature '{name}'")
            missing = [n for n in request_feats if n not in values]
            if missing:
                raise InputError(f"line {number}: request feature '{missing[0]}' missing")
            requests.append({"line": number, "values": values, "candidates": []})
            continue
        if not requests:
            if request_feats:
                raise InputError(f"line {number}: a candidate before any request line")
            requests.append({"line": number, "values": {}, "candidates": []})
        cand = {"line": number, "id": obj.get("id"), "values": {}, "labels": {t: None for t in tasks}}
        if "id" in obj and (isinstance(obj["id"], bool) or not isinstance(obj["id"], (str, int, float))):
            raise InputError(f"line {number}: id must be a string or a number")
        for name, value in obj.items():
            what = f"line {number}: feature '{name}'"
            if name == "id":
                continue
            if name == "labels":
                if not isinstance(value, dict):
                    raise InputError(f"line {number}: labels must be an object task -> value")
                for task, label in value.items():
                    if task not in tasks:
                        raise InputError(f"line {number}: labels: '{task}' is not a task")
                    if label is None:
                        continue
                    if tasks[task] == "binary" and (not _is_number(label) or label not in (0, 1)):
                        raise InputError(f"line {number}: labels.{task}: expected 0, 1 or null, found {label!r}")
                    cand["labels"][task] = float(_float32(label, f"line {number}: labels.{task}"))
            elif name in candidate_feats:
                cand["values"][name] = _parse_value(candidate_feats[name], value, what)
            elif name in extras:
                cand["values"][name] = _float32(value, f"line {number}: extra '{name}'")
            elif name in request_feats:
                raise InputError(f"line {number}: '{name}' is a request-scope feature (give it on the request line)")
            else:
                raise InputError(f"line {number}: unknown feature '{name}'")
        missing = [n for n in list(candidate_feats) + extras if n not in cand["values"]]
        if missing:
            raise InputError(f"line {number}: feature '{missing[0]}' missing")
        requests[-1]["candidates"].append(cand)
    return requests


def request_inputs(config, request, dtype=torch.float64):
    """One parsed request -> the forward's feature dict over its candidates (request-scope
    values repeated on every row; sequences padded, with `<name>.lengths`)."""
    r = resolve_config(config)
    rows = [dict(request["values"], **c["values"]) for c in request["candidates"]]
    n = len(rows)
    inputs = {}
    for f in r["features"]:
        column = [row[f["name"]] for row in rows]
        if f["kind"] == "dense":
            inputs[f["name"]] = torch.tensor(column, dtype=torch.float64).reshape(n, f["width"]).to(dtype)
        elif f["kind"] == "sparse":
            inputs[f["name"]] = torch.tensor(column, dtype=torch.int64).reshape(n)
        else:
            longest = max([len(c) for c in column] + [0])
            pad = f["padding_id"] if f["padding_id"] is not None else 0
            ids = torch.full((n, longest), pad, dtype=torch.int64)
            for i, c in enumerate(column):
                ids[i, :len(c)] = torch.tensor(c, dtype=torch.int64)
            inputs[f["name"]] = ids
            inputs[f["name"] + ".lengths"] = torch.tensor([len(c) for c in column], dtype=torch.int64)
    for e in r["extras"]:
        inputs[e["name"]] = torch.tensor([row[e["name"]] for row in rows], dtype=torch.float64).to(dtype)
    return inputs


def auc(scores, labels):
    """ROC AUC of scores against 0/1 labels; tied scores count one half. None without both
    a positive and a negative."""
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(labels) > 0.5
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    i = 0
    while i < len(scores):  # average rank over each group of equal scores
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def score_requests(model, requests):
    """Runs every request. Returns a list of (outputs [n, T] float64, scores [n] or None)."""
    results = []
    with torch.no_grad():
        for request in requests:
            if not request["candidates"]:
                results.append((np.zeros((0, len(model.task_names))), None))
                continue
            outputs, _, scores = model.predict(request_inputs(model.config, request, model._dtype()))
            results.append((outputs.double().numpy(),
                            None if scores is None else scores.double().numpy()))
    return results


def evaluate(model, requests, results=None):
    """ple-run --evaluate: per task over every labelled candidate of every request:
    {"labelled", "positives" (binary), "auc" (binary) or "mse" (regression)}."""
    results = results if results is not None else score_requests(model, requests)
    report = {}
    for t, name in enumerate(model.task_names):
        got, want = [], []
        for request, (outputs, _) in zip(requests, results):
            for c, cand in enumerate(request["candidates"]):
                if cand["labels"][name] is not None:
                    got.append(outputs[c, t])
                    want.append(cand["labels"][name])
        got, want = np.asarray(got), np.asarray(want)
        if model.binary[t]:
            report[name] = {"labelled": len(want), "positives": int((want > 0.5).sum()),
                            "auc": auc(got, want)}
        else:
            report[name] = {"labelled": len(want),
                            "mse": float(np.mean((got - want) ** 2)) if len(want) else None}
    return report


def ranking(scores):
    """Candidate indices best first; ties keep input order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


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
    with torch.no_grad():
        outputs, gates, scores = model.predict(inputs_from_bundle(data))
    got = {"expected.outputs": outputs}
    got.update({f"expected.{k}": v for k, v in gates.items()})
    if scores is not None:
        got["expected.scores"] = scores
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
    parser.add_argument("--inputs", help="ple-run JSON lines (docs/ple-run.md): request lines "
                                         "and candidate lines")
    parser.add_argument("--evaluate", action="store_true",
                        help="print per task the labelled count, positives and AUC (or MSE)")
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
        requests = read_requests(config, f.read().split("\n"))
    results = score_requests(model, requests)
    if args.evaluate:
        for name, row in evaluate(model, requests, results).items():
            print(json.dumps(dict(task=name, **row)))
        return 0
    for r, (request, (outputs, scores)) in enumerate(zip(requests, results)):
        order = ranking(scores) if scores is not None else range(len(outputs))
        for rank, c in enumerate(order):
            row = {"request": r}
            if scores is not None:
                row["rank"] = rank
            row.update(candidate=c, id=request["candidates"][c]["id"])
            if scores is not None:
                row["score"] = float(scores[c])
            row.update(zip(model.task_names, outputs[c].tolist()))
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
