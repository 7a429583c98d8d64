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

Feature-layer bundles (a config with `tables` and `features`) hold features.<name>,
features.<name>.lengths and extras.<name> instead of `inputs`, plus expected.scores. Their
embedding tables are drawn ~N(0, 0.5) so that every feature moves the outputs (asserted: its
block set to zero changes >= 90% of the rows by more than 100x the tolerance), and their
inputs are drawn to exercise what the config declares (out-of-vocabulary ids, negative ones
included, under hash / oov_row; NaN and +-Inf under nan replace; padding ids inside a
sequence; empty and variable-length sequences; regression outputs below the score's floor).
Their mutations add the feature layer's, Dice's and the score's likely mistakes: another
concatenation order (DeepCTR-Torch's, torch-rechub's), normalize skipped, NaN replaced after
normalize, |id| mod V for negative ids, ids clamped, oov_row and hash swapped, sum and mean
swapped, padding ids pooled, id 0 taken as padding, the mean over the padded length, lengths
ignored, an f16 table kept in float32 or rounded toward zero, Dice with a row-mean variance,
batch statistics, no alpha or epsilon 1e-8, and in the score: exponents ignored, unlisted
tasks included, no regression floor, 0^w = 1, the transform left out, log for log1p, sigmoid
without scale/offset, the transform of the normalized value. (mean_eps 1e-8 or 1e-16 against
0 is below any float32 tolerance and is not checked.)
"""

import argparse
import copy
import hashlib
import json
import math
import os
import sys
import types

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
    # Feature-layer bundles: data.safetensors holds features.<name> / extras.<name> instead of
    # `inputs`, and expected.scores. "generate" says how each feature's values are drawn
    # (see make_feature_inputs); "regression_offset" centres regression heads nearer to zero.
    {
        "name": "features_mixed", "seed": 125, "rows": 64,
        "description": "feature layer: request-scope sparse user_id (oov error), history sequence "
                       "(mean, padding_id 0 also inside the sequence, mean_eps 0, max_length 12) "
                       "sharing the video table with the candidate's video_id (oov hash: negative "
                       "and >= vocabulary ids), category (oov_row 0, out-of-vocabulary ids), "
                       "dense age (normalize) and quality (width 3, per-column normalize, NaN and "
                       "+-Inf replaced by 0.5 before normalize); extra video_len; score "
                       "click^1 like^0.5 watch^1.5 log1p(video_len), regression_floor 0 with some "
                       "watch outputs negative (score 0); 2 levels, 3 tasks",
        "regression_offset": 0.4,
        "generate": {"history": {"min_length": 4, "interior_padding": True},
                     "video_id": {"oov": 0.35}, "category": {"oov": 0.3},
                     "quality": {"nonfinite": 0.06}, "video_len": {"uniform": [5.0, 600.0]}},
        "config": {
            "tables": [{"name": "user", "vocabulary": 50, "dim": 4},
                       {"name": "video", "vocabulary": 80, "dim": 6},
                       {"name": "category", "vocabulary": 12, "dim": 3}],
            "features": [
                {"name": "user_id", "kind": "sparse", "scope": "request", "table": "user",
                 "oov": "error"},
                {"name": "history", "kind": "sequence", "scope": "request", "table": "video",
                 "max_length": 12, "pooling": "mean", "padding_id": 0, "mean_eps": 0.0},
                {"name": "age", "kind": "dense", "scope": "request", "width": 1,
                 "normalize": {"mean": 30.0, "std": 12.0}},
                {"name": "video_id", "kind": "sparse", "scope": "candidate", "table": "video",
                 "oov": "hash"},
                {"name": "category", "kind": "sparse", "scope": "candidate", "table": "category",
                 "oov": {"oov_row": 0}},
                {"name": "quality", "kind": "dense", "scope": "candidate", "width": 3,
                 "normalize": {"mean": [0.5, 0.0, 2.0], "std": [0.25, 1.0, 0.5]},
                 "nan": {"replace": 0.5}},
            ],
            "extras": [{"name": "video_len"}],
            "score": {"exponents": {"click": 1.0, "like": 0.5, "watch": 1.5},
                      "transform": {"type": "log1p", "input": "video_len"},
                      "regression_floor": 0.0},
            "tasks": _tasks(("click", "binary"), ("like", "binary"), ("watch", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [16], "activation": "relu"},
            "gate": {"hidden_units": [], "bias": True},
            "tower": {"units": [8], "activation": "relu"},
            "levels": [{"specific_experts": 1, "shared_experts": 2},
                       {"specific_experts": 1, "shared_experts": 1}],
        },
    },
    {
        "name": "features_f16_sum", "seed": 122, "rows": 48,
        "description": "feature layer: f16 video table (weights file holds float32 values the "
                       "model file rounds to f16), candidate-scope tags sequence (sum, padding_id "
                       "-1, variable lengths, empty rows), candidate-scope related-videos sequence "
                       "(mean, mean_eps 1e-8, no padding id, features.related.lengths with empty "
                       "rows, id 0 counts), video_id oov_row 63, request-scope user_id and dense "
                       "context; score ctr^1 cvr^2 (dwell not listed) times sigmoid(0.02 duration "
                       "- 1) of the raw (not normalized) candidate dense duration; CGC with dice "
                       "towers (default epsilon, epsilon 0.01, two layers)",
        "generate": {"video_id": {"oov": 0.3}, "tags": {"min_length": 0, "empty": 0.2},
                     "related": {"min_length": 0, "empty": 0.15, "zero_id": 0.15},
                     "duration": {"uniform": [5.0, 400.0]}},
        "config": {
            "tables": [{"name": "video", "vocabulary": 64, "dim": 6, "dtype": "f16"},
                       {"name": "tag", "vocabulary": 40, "dim": 4, "dtype": "f32"},
                       {"name": "user", "vocabulary": 30, "dim": 4}],
            "features": [
                {"name": "user_id", "kind": "sparse", "scope": "request", "table": "user"},
                {"name": "context", "kind": "dense", "scope": "request", "width": 2},
                {"name": "video_id", "kind": "sparse", "scope": "candidate", "table": "video",
                 "oov": {"oov_row": 63}},
                {"name": "tags", "kind": "sequence", "scope": "candidate", "table": "tag",
                 "max_length": 6, "pooling": "sum", "padding_id": -1},
                {"name": "related", "kind": "sequence", "scope": "candidate", "table": "video",
                 "max_length": 8, "pooling": "mean", "mean_eps": 1e-8},
                {"name": "duration", "kind": "dense", "scope": "candidate", "width": 1,
                 "normalize": {"mean": 120.0, "std": 60.0}},
            ],
            "score": {"exponents": {"ctr": 1.0, "cvr": 2.0},
                      "transform": {"type": "sigmoid", "input": "duration", "scale": 0.02,
                                    "offset": -1.0}},
            "tasks": _tasks(("ctr", "binary"), ("cvr", "binary"), ("dwell", "regression")),
            "batch_norm_eps": 1e-5,
            "expert": {"units": [12], "activation": "relu"},
            "gate": {"hidden_units": [], "bias": True},
            "tower": {"units": [8], "activation": "dice"},
            "towers": [{"units": [8, 4], "activation": "dice"},
                       {"units": [8], "activation": {"type": "dice", "epsilon": 0.01}},
                       {"units": [8], "activation": "dice"}],
            "levels": [{"specific_experts": 1, "shared_experts": 2}],
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
    if isinstance(x32, dict):
        return {k: torch.from_numpy(v) if v.dtype == np.int64 else torch.from_numpy(v.astype(np.float64))
                for k, v in x32.items()}
    return torch.from_numpy(x32.astype(np.float64))


def as_f32(x):
    """The same inputs for a float32 model: float values as float32, ids unchanged."""
    if isinstance(x, dict):
        return {k: v if v.dtype == torch.int64 else v.float() for k, v in x.items()}
    return x.float()


def make_inputs(bundle, config, rng, candidates, requests=1):
    if "features" in config:
        return make_feature_inputs(bundle, config, rng, candidates, requests)
    return make_request(config, rng, candidates, requests)


def _draw_ids(f, gen, rng, shape):
    """Ids in [0, vocabulary); with gen "oov": that fraction out of the vocabulary, half of
    them negative (down to -3 vocabulary), half >= vocabulary (up to 4 vocabulary)."""
    vocabulary = f["vocabulary"]
    ids = rng.integers(0, vocabulary, shape)
    if gen.get("oov"):
        oov = rng.random(shape) < gen["oov"]
        negative = rng.integers(-3 * vocabulary, 0, shape)
        large = rng.integers(vocabulary, 4 * vocabulary, shape)
        ids = np.where(oov, np.where(rng.random(shape) < 0.5, negative, large), ids)
    return ids.astype(np.int64)


def _draw_feature(f, gen, rng, n):
    """n rows of one feature. Dense: float32 [n, width] (N(mean, std) of its normalize, or
    N(0, 1), or gen "uniform"; gen "nonfinite": that fraction NaN / +Inf / -Inf). Sparse:
    int64 [n]. Sequence: (int64 [n, max_length], lengths [n] or None). Lengths are uniform in
    [gen "min_length" (default 1), max_length], gen "empty" of the rows empty. With a padding
    id, positions past the length hold it (and gen "interior_padding" puts it inside too);
    without, they hold valid ids and the lengths are returned. gen "zero_id": that fraction
    of the ids is 0."""
    if f["kind"] == "dense":
        width = f["width"]
        if "uniform" in gen:
            x = rng.uniform(gen["uniform"][0], gen["uniform"][1], (n, width))
        elif f["normalize"] is not None:
            mean, std = (np.asarray(v) for v in f["normalize"])
            x = mean + std * rng.standard_normal((n, width))
        else:
            x = rng.standard_normal((n, width))
        if gen.get("nonfinite"):
            hit = rng.random((n, width)) < gen["nonfinite"]
            x[hit] = rng.choice([np.nan, np.inf, -np.inf], int(hit.sum()))
        return x.astype(np.float32)
    if f["kind"] == "sparse":
        return _draw_ids(f, gen, rng, n)
    length = f["max_length"]
    pad = f["padding_id"]
    lengths = rng.integers(gen.get("min_length", 1), length + 1, n)
    if gen.get("empty"):
        lengths[rng.random(n) < gen["empty"]] = 0
    ids = _draw_ids(f, gen, rng, (n, length))
    if pad is not None:
        ids = np.where(ids == pad, (ids + 1) % f["vocabulary"], ids)
    if gen.get("zero_id"):
        ids[rng.random((n, length)) < gen["zero_id"]] = 0
    if pad is None:
        return ids, lengths.astype(np.int64)
    past = np.arange(length)[None, :] >= lengths[:, None]
    if gen.get("interior_padding"):
        past = past | (rng.random((n, length)) < 0.25)
    ids[past] = pad
    return ids, None


def make_feature_inputs(bundle, config, rng, candidates, requests=1):
    """The feature dict of `requests` requests of `candidates` rows each, as numpy arrays:
    features.<name> values under their name, sequence lengths under "<name>.lengths" (features
    without a padding id), extras under their name (float32, gen "uniform" [lo, hi], default
    [0, 1]). Request-scope features are drawn once per request and repeated."""
    r = ref.resolve_config(config)
    gen = bundle.get("generate", {})
    parts = {}
    for _ in range(requests):
        for f in r["features"]:
            n = 1 if f["scope"] == "request" else candidates
            value = _draw_feature(f, gen.get(f["name"], {}), rng, n)
            values = {f["name"]: value}
            if f["kind"] == "sequence":
                values = {f["name"]: value[0]}
                if value[1] is not None:
                    values[f["name"] + ".lengths"] = value[1]
            for key, v in values.items():
                if n == 1:
                    v = np.repeat(v, candidates, axis=0)
                parts.setdefault(key, []).append(v)
        for e in r["extras"]:
            lo, hi = gen.get(e["name"], {}).get("uniform", (0.0, 1.0))
            parts.setdefault(e["name"], []).append(rng.uniform(lo, hi, candidates).astype(np.float32))
    return {k: np.concatenate(v, axis=0) for k, v in parts.items()}


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
    if layer.kind == "dice":
        _set(layer.dice.alpha, rng.uniform(0.2, 0.6, 1))


def _soft_gates(level):
    gates = [g for g in level.task_gates]
    if level.shared_gate is not None:
        gates.append(level.shared_gate)
    return [g for g in gates if isinstance(g, ref.SoftmaxGate)]


def randomise(model, rng):
    """Draws every tensor (in module order, so the draw is deterministic)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ref.Table):  # embedding values ~N(0, 0.5): features matter
                _set(module.weight, rng.normal(0.0, 0.5, tuple(module.weight.shape)))
            elif isinstance(module, ref.DenseLayer):
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


def calibrate(model, x, rng, regression_offset=None):
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
            if regression_offset is not None and task["type"] == "regression":
                offset = regression_offset  # nearer to zero: the score's regression floor bites
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


def predict(model, x):
    """(outputs, gates, scores or None) as numpy."""
    with torch.no_grad():
        outputs, gates, scores = model.predict(x)
    return outputs.numpy(), {k: v.numpy() for k, v in gates.items()}, \
        None if scores is None else scores.numpy()


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
        out32, gates32, scores32 = model32.predict(as_f32(x))
        out64, gates64, scores64 = model.predict(x)
    worst, where = 0.0, ""
    names = [t["name"] for t in model.resolved["tasks"]]
    pairs = [(f"task {n}", out32[:, t], out64[:, t]) for t, n in enumerate(names)]
    pairs += [(k, gates32[k], gates64[k]) for k in gates64]
    if scores64 is not None:
        pairs.append(("scores", scores32, scores64))
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
    x = model.model_input(x)
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


def _columns(f):
    return slice(f["offset"], f["offset"] + f["width"])


def _valid_mask(f, x):
    """[N, L] bool: the ids of sequence feature f that are pooled."""
    ids = x[f["name"]]
    mask = torch.ones_like(ids, dtype=torch.bool)
    lengths = x.get(f["name"] + ".lengths")
    if lengths is not None:
        mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
    if f["padding_id"] is not None:
        mask = mask & (ids != f["padding_id"])
    return mask


def _f16_toward_zero(weight):
    """float32 -> f16 rounding toward zero (a converter that truncates instead of rounding)."""
    w32 = weight.numpy().astype(np.float32)
    h = w32.astype(np.float16)
    too_far = np.abs(h.astype(np.float32)) > np.abs(w32)
    h[too_far] = np.nextafter(h[too_far], np.float16(0))
    return torch.from_numpy(h.astype(np.float64))


def _dice_variant(kind):
    """A Dice forward with one of a runtime's likely mistakes."""
    def forward(self, y):
        if kind == "batch":  # statistics over the batch (per column), not over the row
            m = y.mean(dim=0, keepdim=True)
            v = (torch.pow(y - m, 2) + self.epsilon).sum(dim=0, keepdim=True)
        else:
            m = y.mean(dim=1, keepdim=True)
            v = torch.pow(y - m, 2) + self.epsilon
            v = v.mean(dim=1, keepdim=True) if kind == "mean" else v.sum(dim=1, keepdim=True)
        p = torch.sigmoid((y - m) / torch.sqrt(v))
        return p * y + (1 - p) * self.alpha * y
    return forward


def _scores_zero_power_one(self, outputs, inputs):
    """A score that skips a task whose (clamped) output is 0 instead of giving 0 ^ w = 0."""
    cfg = self.score_cfg
    score = torch.ones(outputs.shape[0], dtype=outputs.dtype)
    for t, w in cfg["exponents"]:
        p = outputs[:, t] if self.binary[t] else torch.clamp(outputs[:, t], min=cfg["regression_floor"])
        score = score * torch.where(p == 0, torch.ones_like(p), torch.pow(p, w))
    saved, self.score_cfg = self.score_cfg, dict(cfg, exponents=[])
    try:
        return score * ref.PLE.scores(self, outputs, inputs)
    finally:
        self.score_cfg = saved


def feature_mutations(model, x, outputs):
    """The feature layer's, the score's and Dice's likely mistakes that apply to this model and
    these inputs: a list of (label, mutant model, mutant inputs, x transform or None, target),
    target "outputs" or "scores" (what the mutation must change beyond the tolerance)."""
    found = []
    feats = model.features

    def add(label, mutant=None, inputs=None, x_fn=None, target="outputs"):
        found.append((label, mutant if mutant is not None else copy.deepcopy(model),
                      inputs if inputs is not None else x, x_fn, target))

    def mutant_with(index, **changes):
        mutant = copy.deepcopy(model)
        mutant.features[index].update(changes)
        return mutant

    if isinstance(x, dict):
        identity = list(range(len(feats)))
        kinds = {k: [i for i, f in enumerate(feats) if f["kind"] == k]
                 for k in ("sparse", "sequence", "dense")}
        orders = [("concatenate sparse, then sequence, then dense features (DeepCTR-Torch order)",
                   kinds["sparse"] + kinds["sequence"] + kinds["dense"]),
                  ("concatenate embeddings in list order, then dense features (torch-rechub order)",
                   sorted(kinds["sparse"] + kinds["sequence"]) + kinds["dense"])]
        seen = [identity]
        for label, order in orders:
            if order in seen:
                continue
            seen.append(order)
            cols = torch.cat([torch.arange(feats[i]["offset"], feats[i]["offset"] + feats[i]["width"])
                              for i in order])
            add(label, x_fn=lambda h, cols=cols: h[:, cols])
        for i, f in enumerate(feats):
            name = f["name"]
            if f["kind"] == "dense" and f["normalize"] is not None:
                add(f"{name}: normalize skipped", mutant_with(i, normalize=None))
                bad = ~torch.isfinite(x[name].reshape(x[name].shape[0], -1))
                if f["nan"][0] == "replace" and bool(bad.any()):
                    def replace_late(h, cols=_columns(f), bad=bad, v=f["nan"][1]):
                        h = h.clone()
                        block = h[:, cols]
                        block[bad] = v
                        h[:, cols] = block
                        return h
                    add(f"{name}: non-finite values replaced after normalize", x_fn=replace_late)
            if f["kind"] in ("sparse", "sequence"):
                ids = x[name]
                mask = _valid_mask(f, x) if f["kind"] == "sequence" else torch.ones_like(ids, dtype=torch.bool)
                vocabulary = f["vocabulary"]
                oov = mask & ((ids < 0) | (ids >= vocabulary))
                negative = mask & (ids < 0)
                if f["oov"][0] == "hash" and bool(negative.any()):
                    add(f"{name}: negative ids hashed as |id| mod vocabulary (C remainder)",
                        inputs=dict(x, **{name: torch.where(negative, -ids, ids)}))
                if f["oov"][0] != "error" and bool(oov.any()):
                    add(f"{name}: out-of-vocabulary ids clamped into [0, vocabulary)",
                        inputs=dict(x, **{name: torch.where(oov, ids.clamp(0, vocabulary - 1), ids)}))
                if f["oov"][0] == "oov_row":
                    add(f"{name}: oov_row ignored, out-of-vocabulary ids hashed",
                        mutant_with(i, oov=("hash", None)))
                if f["oov"][0] == "hash" and bool(oov.any()):
                    add(f"{name}: hash ignored, out-of-vocabulary ids to row 0",
                        mutant_with(i, oov=("oov_row", 0)))
            if f["kind"] == "sequence":
                mask = _valid_mask(f, x)
                count = mask.sum(dim=1)
                length = x[name].shape[1]
                if f["pooling"] == "mean":
                    add(f"{name}: sum pooling instead of mean", mutant_with(i, pooling="sum"))
                    if bool(((count > 0) & (count < length)).any()):
                        def by_length(h, cols=_columns(f), count=count, length=length):
                            h = h.clone()
                            h[:, cols] = h[:, cols] * count[:, None].to(h.dtype) / length
                            return h
                        add(f"{name}: mean over the padded length {length}", x_fn=by_length)
                else:
                    add(f"{name}: mean pooling instead of sum", mutant_with(i, pooling="mean", mean_eps=0.0))
                if f["padding_id"] is not None:
                    add(f"{name}: padding id {f['padding_id']} pooled", mutant_with(i, padding_id=None))
                if f["padding_id"] != 0 and bool((mask & (x[name] == 0)).any()):
                    add(f"{name}: id 0 taken as padding (DeepCTR-Torch)", mutant_with(i, padding_id=0))
                lengths = x.get(name + ".lengths")
                if lengths is not None and bool((lengths < length).any()):
                    rest = {k: v for k, v in x.items() if k != name + ".lengths"}
                    add(f"{name}: lengths ignored", inputs=rest)
        for table, dtype in model.table_dtype.items():
            if dtype != "f16":
                continue
            mutant = copy.deepcopy(model)
            mutant.table_dtype[table] = "f32"
            add(f"table {table}: kept in float32 instead of f16", mutant)
            mutant = copy.deepcopy(model)
            with torch.no_grad():
                mutant.embeddings[table].weight.copy_(_f16_toward_zero(model.embeddings[table].weight))
            mutant.table_dtype[table] = "f32"
            add(f"table {table}: f16 by truncation instead of round-to-nearest-even", mutant)

    dice_layers = [n for n, m in model.named_modules() if isinstance(m, ref.DenseLayer) and m.kind == "dice"]
    if dice_layers:
        for label, kind in (("dice: variance as the mean over the row, not the sum", "mean"),
                            ("dice: statistics over the batch (per column), not per row", "batch")):
            mutant = copy.deepcopy(model)
            for n in dice_layers:
                dice = mutant.get_submodule(n).dice
                dice.forward = types.MethodType(_dice_variant(kind), dice)
            add(label, mutant)
        mutant = copy.deepcopy(model)
        with torch.no_grad():
            for n in dice_layers:
                mutant.get_submodule(n).dice.alpha.zero_()
        add("dice: alpha ignored", mutant)
        mutant = copy.deepcopy(model)
        for n in dice_layers:
            mutant.get_submodule(n).dice.epsilon = 1e-8
        add("dice: epsilon 1e-8 (DIN/DeepCTR) instead of the configured one", mutant)

    cfg = model.score_cfg
    if cfg is not None:
        listed = [t for t, _ in cfg["exponents"]]
        if any(w != 1.0 for _, w in cfg["exponents"]):
            mutant = copy.deepcopy(model)
            mutant.score_cfg["exponents"] = [(t, 1.0) for t in listed]
            add("score: exponents ignored (1 for every listed task)", mutant, target="scores")
        if len(listed) < len(model.task_names):
            mutant = copy.deepcopy(model)
            mutant.score_cfg["exponents"] = sorted(cfg["exponents"] + [
                (t, 1.0) for t in range(len(model.task_names)) if t not in listed])
            add("score: unlisted tasks enter with exponent 1", mutant, target="scores")
        clamped = [t for t in listed if not model.binary[t]
                   and bool((outputs[:, t] <= cfg["regression_floor"]).any())]
        if clamped:
            mutant = copy.deepcopy(model)
            mutant.score_cfg["regression_floor"] = -math.inf
            add("score: regression outputs not clamped to the floor", mutant, target="scores")
            if cfg["regression_floor"] == 0.0:
                mutant = copy.deepcopy(model)
                mutant.scores = types.MethodType(_scores_zero_power_one, mutant)
                add("score: 0 ^ w taken as 1", mutant, target="scores")
        tr = cfg["transform"]
        if tr["type"] != "none":
            mutant = copy.deepcopy(model)
            mutant.score_cfg["transform"] = dict(tr, type="none")
            add("score: transform left out", mutant, target="scores")
        if isinstance(x, dict) and tr["type"] != "none":
            raw = model.transform_input(x)
            if tr["type"] == "log1p" and bool((raw >= 1).all()):
                mutant = copy.deepcopy(model)  # log1p(x - 1) = log(x)
                mutant.score_cfg["transform"] = dict(tr, input="__mutated", source="extra")
                mutant.extras = mutant.extras + ["__mutated"]
                add("score: log instead of log1p", mutant, dict(x, __mutated=raw - 1), target="scores")
            if tr["type"] == "sigmoid" and (tr["scale"] != 1.0 or tr["offset"] != 0.0):
                mutant = copy.deepcopy(model)
                mutant.score_cfg["transform"] = dict(tr, scale=1.0, offset=0.0)
                add("score: sigmoid without scale and offset", mutant, target="scores")
            f = next((f for f in feats if f["name"] == tr["input"]), None)
            if tr["source"] == "feature" and f["normalize"] is not None:
                mutant = copy.deepcopy(model)
                mutant.score_cfg["transform"] = dict(tr, input="__mutated", source="extra")
                mutant.extras = mutant.extras + ["__mutated"]
                normalized = ref.dense_feature(f, x[f["name"]], torch.float64)[:, 0]
                add("score: transform of the normalized value", mutant,
                    dict(x, __mutated=normalized), target="scores")
    return found


def run_mutant(mutant, inputs, x_fn):
    with torch.no_grad():
        h = mutant.model_input(inputs)
        if x_fn is not None:
            h = x_fn(h)
        outputs, gates = mutant(h)
        scores = mutant.scores(outputs, inputs)
    return outputs.numpy(), {k: v.numpy() for k, v in gates.items()}, \
        None if scores is None else scores.numpy()


def check_mutations(name, model, x, outputs, gates, scores=None):
    """Asserts that each applicable mutation fails the bundle's tolerance check. Returns the
    list of (mutation, where it is caught)."""
    results = []
    failures = []

    def verdict(label, got_outputs, got_gates, must_hit_outputs=True, got_scores=None,
                must_hit_scores=False):
        out_bad = not within_tolerance(got_outputs, outputs)
        gate_bad = [g for g in gates if not within_tolerance(got_gates[g], gates[g])]
        score_bad = scores is not None and not within_tolerance(got_scores, scores)
        where = ("outputs" if out_bad else "") + \
                (("+" if out_bad else "") + f"{len(gate_bad)} gate(s)" if gate_bad else "")
        if score_bad:
            where += ("+" if where else "") + "scores"
        results.append((label, where or "NOT CAUGHT"))
        if must_hit_outputs and not out_bad:
            failures.append(f"{label}: outputs within tolerance")
        if must_hit_scores and not score_bad:
            failures.append(f"{label}: scores within tolerance")
        if not out_bad and not gate_bad and not score_bad:
            failures.append(f"{label}: not caught at all")

    def run_all(mutant):
        o, g, sc = predict(mutant, x)
        return o, g, sc

    for label, mutate in MUTATIONS:
        mutant = copy.deepcopy(model)
        with torch.no_grad():
            if not mutate(mutant):
                continue
        o, g, sc = run_all(mutant)
        verdict(label, o, g, got_scores=sc)

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
            o, g, sc = run_all(mutant)
            verdict(f"reverse expert order in {gname}", o, g, must_hit_outputs=feeds_outputs,
                    got_scores=sc)

    last = model.levels[-1]
    if last.shared_gate is not None and not last.shared_gate_used:
        verdict("use the last-level shared gate", *_forward_with_last_shared_gate(model, x))

    for label, mutant, inputs, x_fn, target in feature_mutations(model, x, outputs):
        try:
            o, g, sc = run_mutant(mutant, inputs, x_fn)
        except ref.InputError as e:  # the mutated runtime rejects the bundle's inputs
            results.append((label, f"raises ({e})"))
            continue
        verdict(label, o, g, must_hit_outputs=target == "outputs", got_scores=sc,
                must_hit_scores=target == "scores")

    if failures:
        raise AssertionError(f"bundle {name}: mutations the bundle would not catch:\n  "
                             + "\n  ".join(failures))
    return results


def check_feature_properties(name, model, x_check, x_bundle, scores_bundle):
    """Feature bundles: every feature moves the outputs (its block set to zero changes most
    rows beyond the tolerance), and the bundle's inputs exercise the policies they claim."""
    problems = []
    with torch.no_grad():
        h = model.model_input(x_check)
        base, _ = model(h)
        for f in model.features:
            h2 = h.clone()
            h2[:, _columns(f)] = 0.0
            changed, _ = model(h2)
            diff = (changed - base).abs().numpy()
            allowed = np.maximum(ATOL, RTOL * np.abs(base.numpy()))
            nonzero = (h[:, _columns(f)] != 0).any(dim=1).numpy()  # empty sequences pool to 0
            share = float((diff > 100 * allowed).any(axis=1)[nonzero].mean())
            if share < 0.9:
                problems.append(f"feature {f['name']}: moves only {share:.0%} of the outputs "
                                f"beyond 100x the tolerance")
    x = x_bundle
    for f in model.features:
        name_f = f["name"]
        if f["kind"] == "dense" and f["nan"][0] == "replace":
            if bool(torch.isfinite(x[name_f]).all()):
                problems.append(f"{name_f}: nan policy replace, but no non-finite value")
        if f["kind"] in ("sparse", "sequence") and f["oov"][0] != "error":
            ids = x[name_f]
            mask = _valid_mask(f, x) if f["kind"] == "sequence" else torch.ones_like(ids, dtype=torch.bool)
            if not bool((mask & (ids < 0)).any()) or not bool((mask & (ids >= f["vocabulary"])).any()):
                problems.append(f"{name_f}: oov {f['oov'][0]}, but not both negative and too "
                                f"large ids")
        if f["kind"] == "sequence":
            count = _valid_mask(f, x).sum(dim=1)
            if f["scope"] == "candidate" and (len(set(count.tolist())) < 3 or not bool((count == 0).any())):
                problems.append(f"{name_f}: candidate sequences need varied lengths and an empty row")
            if f["padding_id"] is not None:
                ids = x[name_f]
                inside = (ids == f["padding_id"]) & (torch.arange(ids.shape[1])[None, :] <
                                                     (ids != f["padding_id"]).int().cumsum(1).argmax(1)[:, None])
                if f["scope"] == "request" and not bool(inside.any()):
                    problems.append(f"{name_f}: no padding id inside the request's sequence")
    cfg = model.score_cfg
    if cfg is not None:
        if not np.isfinite(scores_bundle).all() or scores_bundle.std() <= 0:
            problems.append("scores: not finite or constant")
        for t, _ in cfg["exponents"]:
            if not model.binary[t]:
                zero = float((scores_bundle == 0).mean())
                if not 0.0 < zero < 0.5:
                    problems.append(f"scores: {zero:.0%} clamped to 0 by the regression floor "
                                    f"(want some, less than half)")
    if problems:
        raise AssertionError(f"bundle {name}: feature inputs do not make mistakes visible:\n  "
                             + "\n  ".join(problems))


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
    features = "features" in config

    rng_weights = np.random.default_rng([seed, 1])
    x_calibration = as_f64(make_inputs(bundle, config, np.random.default_rng([seed, 2]),
                                       CALIBRATION_CANDIDATES, CALIBRATION_REQUESTS))
    x_check = as_f64(make_inputs(bundle, config, np.random.default_rng([seed, 3]), CHECK_CANDIDATES))
    inputs = make_inputs(bundle, config, np.random.default_rng([seed, 4]), bundle["rows"])
    x = as_f64(inputs)

    randomise(model, rng_weights)
    calibrate(model, x_calibration, rng_weights, bundle.get("regression_offset"))
    round_to_float32(model)

    outputs, gates, scores = predict(model, x)
    check_properties(name, model, x_check, outputs, gates)
    if features:
        check_feature_properties(name, model, x_check, x, scores)
    margin, where = max(float32_margin(model, x), float32_margin(model, x_check))
    print(f"{name}: float32 margin {margin:.2f} ({where})")
    assert margin <= FLOAT32_MARGIN, (
        f"{name}: torch float32 reaches {margin:.2f} of the tolerance on {where}: the bundle is too "
        f"close to float32 rounding noise to judge a runtime (keep it under {FLOAT32_MARGIN})")
    mutations = check_mutations(name, model, x, outputs, gates, scores)

    # Second implementation, from the weights as stored.
    weights = weights_for_file(model, bundle.get("num_batches_tracked", True))
    np_inputs = {k: v if v.dtype == np.int64 else v.astype(np.float64) for k, v in inputs.items()} \
        if features else inputs.astype(np.float64)
    np_outputs, np_gates = numpy_forward.forward(
        config, {k: v.astype(np.float64) for k, v in weights.items()}, np_inputs)
    assert set(np_gates) == set(gates), (sorted(np_gates), sorted(gates))
    cross_error = max([np.abs(np_outputs - outputs).max()] +
                      [np.abs(np_gates[k] - gates[k]).max() for k in gates])
    if scores is not None:
        np_scores = numpy_forward.scores(config, np_outputs, np_inputs)
        cross_error = max(cross_error, np.abs(np_scores - scores).max())
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
    if features:
        data = bundle_feature_tensors(config, inputs)
    else:
        data = {"inputs": inputs}
    data["expected.outputs"] = outputs.astype("<f8")
    for gname in sorted(gates, key=_gate_sort_key):
        data[f"expected.{gname}"] = gates[gname].astype("<f8")
    if scores is not None:
        data["expected.scores"] = scores.astype("<f8")
    safetensors_io.save_file(data, os.path.join(path, "data.safetensors"),
                             {"bundle": name, "generator": GENERATOR})

    # Round trip: read the files back, rebuild from them, recompute bit for bit.
    check = ref.check_bundle(path)
    assert max(check.values()) == 0.0, f"{name}: recomputed from the files, differs: {check}"
    back, _ = safetensors_io.load_file(os.path.join(path, "data.safetensors"))
    if features:
        for key, value in data.items():
            assert np.array_equal(back[key], value, equal_nan=value.dtype.kind == "f"), key
        _check_feature_scope(config, back)
    else:
        assert np.array_equal(back["inputs"], inputs)
        _check_request_scope(config, back["inputs"])
    return config, inputs, outputs, gates, scores, mutations, path


def bundle_feature_tensors(config, inputs):
    """data.safetensors names (docs/bundle-format.md): features.<name> (dense F32 [N, width],
    sparse I64 [N], sequence I64 [N, L]), features.<name>.lengths, extras.<name> F32 [N]."""
    r = ref.resolve_config(config)
    data = {}
    for f in r["features"]:
        data[f"features.{f['name']}"] = inputs[f["name"]]
        if f["name"] + ".lengths" in inputs:
            data[f"features.{f['name']}.lengths"] = inputs[f["name"] + ".lengths"]
    for e in r["extras"]:
        data[f"extras.{e['name']}"] = inputs[e["name"]]
    assert len(data) == len(inputs)
    return data


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


def _check_feature_scope(config, data):
    for f in ref.resolve_config(config)["features"]:
        for key in (f"features.{f['name']}", f"features.{f['name']}.lengths"):
            if key not in data:
                continue
            block = data[key]
            same = np.array_equal(block, np.repeat(block[:1], len(block), axis=0), equal_nan=True)
            if f["scope"] == "request":
                assert same, key
            elif len(block) > 1:
                assert not same, key


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files)


def summary_line(config, inputs, outputs, gates, path, scores=None):
    parts = []
    for t, task in enumerate(config["tasks"]):
        v = outputs[:, t]
        parts.append(f"{task['name']}[{v.min():.3f}/{v.mean():.3f}/{v.max():.3f}]")
    multi = [w for w in gates.values() if w.shape[1] >= 2]
    gate_text = (f"mean max-gate-w {np.mean([w.max(axis=1).mean() for w in multi]):.3f} "
                 f"over {len(multi)} gate(s)") if multi else "no softmax gate over >1 expert"
    if isinstance(inputs, dict):
        r = ref.resolve_config(config)
        shape = f"N={outputs.shape[0]} W={r['input_width']} ({len(r['features'])} features) T={outputs.shape[1]}"
    else:
        shape = f"N={inputs.shape[0]} W={inputs.shape[1]} T={outputs.shape[1]}"
    score_text = "" if scores is None else \
        f" | scores min/mean/max [{scores.min():.3f}/{scores.mean():.3f}/{scores.max():.3f}], " \
        f"{int((scores == 0).sum())} zero"
    return (f"{shape} | out min/mean/max {' '.join(parts)} | {gate_text}{score_text} | "
            f"{dir_bytes(path)} bytes")


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
        config, inputs, outputs, gates, scores, mutations, path = make_bundle(bundle, args.out)
        print(f"{bundle['name']:<19} {summary_line(config, inputs, outputs, gates, path, scores)}")
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
