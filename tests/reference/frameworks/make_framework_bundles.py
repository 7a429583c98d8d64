#!/usr/bin/python3
"""Conformance bundles made by the training frameworks' OWN model classes (docs/importing.md).

Extract the frameworks OUTSIDE this repository (nothing of theirs is copied here), then run:

    R=/path/to/torch-rechub.git   D=/path/to/DeepCTR-Torch.git    # git directories (mirrors)
    mkdir -p /tmp/frameworks/torch-rechub /tmp/frameworks/DeepCTR-Torch
    git -C $R archive HEAD torch_rechub  | tar -x -C /tmp/frameworks/torch-rechub
    git -C $D archive HEAD deepctr_torch | tar -x -C /tmp/frameworks/DeepCTR-Torch
    /usr/bin/python3 tests/reference/frameworks/make_framework_bundles.py \
        --rechub-src /tmp/frameworks/torch-rechub --rechub-git $R \
        --deepctr-src /tmp/frameworks/DeepCTR-Torch --deepctr-git $D

Writes tests/bundles/{rechub_ple, rechub_ple_dice, rechub_mmoe, deepctr_ple, deepctr_ple_bn,
deepctr_mmoe}/ (docs/bundle-format.md): config.json in the framework's own vocabulary plus our
keys, weights.safetensors = the framework's state_dict() unchanged (float32, num_batches_tracked
I64, DeepCTR-Torch's unused modules included), data.safetensors = per-feature inputs of one
request's candidates, the framework's own float64 eval-mode outputs and its gate weights.

The frameworks are imported from the --*-src directories with their package __init__ files
bypassed (see _package_without_init); the few third-party modules they import only for training
or data loading (pandas, tqdm, sklearn, tensorflow's keras callbacks) get empty stand-ins in
sys.modules when missing. --*-git names the git directory the sources were extracted from: its
HEAD commit goes into each bundle's generator string, and every extracted file of the package is
checked against that commit's blobs.

For every bundle the script:
  1. writes config.json and builds the framework's model class from it (same arguments);
  2. trains it a few hundred Adam steps (float32, one thread, fixed seeds, dropout on, BCE for
     binary and MSE for regression tasks plus a small gate-entropy penalty so the gates leave
     uniform) on synthetic data drawn from a hidden rule; regression heads start at the target
     mean; DeepCTR-Torch's DNN Linear weights (framework init N(0, 1e-4)) are re-drawn with
     PyTorch's default Linear init first, or its binary towers barely train in 400 steps;
  3. exports state_dict() through torch.save and tools/pt_to_safetensors.py's loader and writer;
  4. builds a FRESH model from config.json, loads weights.safetensors into it (strict), converts
     it and the inputs to float64, and records its eval-mode outputs and gate weights (forward
     hooks on the gate modules) on N held-out candidates of one request: the expected values
     are computed from the float32 weights as written;
  5. asserts: the trained model in float64 gives the same bits; the float32 model is within 0.6
     of the tolerance of the float64 one (outputs and gates); binary outputs are spread inside
     [0.03, 0.97]; every gate's mean max weight is >= 1/n + 0.2; BatchNorm statistics moved;
     an independent numpy forward written from docs/importing.md alone (docs_forward) gives the
     same outputs and gates (<= 1e-12); and each importer mistake in MUTATIONS that the bundle's
     data can reveal makes the bundle's tolerance check fail.
Deterministic: two runs write identical bytes (per-file sha256 and a tree hash are printed).
"""

import argparse
import copy
import hashlib
import importlib
import io
import json
import os
import subprocess
import sys
import types

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the repository or the framework sources

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))
sys.path.insert(0, os.path.join(REPO, "tools"))
import pt_to_safetensors  # noqa: E402
import safetensors_io  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
FLOAT32_MARGIN = 0.6
BUNDLE_MAX_BYTES = 150 * 1024
TOTAL_MAX_BYTES = 700 * 1024
SCRIPT = "tests/reference/frameworks/make_framework_bundles.py"

# --------------------------------------------------------------------------------------------
# Bundles. Features are written in the framework's own vocabulary; "scope", "max_length",
# "framework", "model" and "task_names" are our keys (docs/importing.md). `request` gives the
# held-out request's sequence lengths (all of its rows share them); `train_lengths` the range
# of sequence lengths in training ("full": every sequence is max length, no padding).
# --------------------------------------------------------------------------------------------

BUNDLES = [
    {
        "name": "rechub_ple", "seed": 1101, "rows": 64, "steps": 400, "lr": 0.01, "entropy": 0.05,
        "description": "torch-rechub PLE, 2 levels, 1 specific + 2 shared experts [16] relu with "
                       "BatchNorm, dropout 0.2; towers prelu and relu; classification + regression; "
                       "request sequence 'hist' (mean pooling, padding_idx 0, 5 of 12 ids valid) "
                       "shares video_id's table; candidate row 0 looks up video_id 0 (the "
                       "sequence's padding id, a trained row of the shared table)",
        "config": {
            "framework": "torch-rechub", "model": "PLE",
            "features": [
                {"type": "SparseFeature", "name": "user_id", "vocab_size": 200, "embed_dim": 8,
                 "scope": "request"},
                {"type": "SequenceFeature", "name": "hist", "vocab_size": 300, "embed_dim": 8,
                 "pooling": "mean", "shared_with": "video_id", "padding_idx": 0,
                 "max_length": 12, "scope": "request"},
                {"type": "SparseFeature", "name": "video_id", "vocab_size": 300, "embed_dim": 8},
                {"type": "SparseFeature", "name": "category", "vocab_size": 24, "embed_dim": 8},
                {"type": "DenseFeature", "name": "user_activity", "embed_dim": 1, "scope": "request"},
                {"type": "DenseFeature", "name": "item_stats", "embed_dim": 3},
                {"type": "DenseFeature", "name": "freshness", "embed_dim": 1},
            ],
            "task_types": ["classification", "regression"], "task_names": ["click", "watch_time"],
            "n_level": 2, "n_expert_specific": 1, "n_expert_shared": 2,
            "expert_params": {"dims": [16], "activation": "relu", "dropout": 0.2},
            "tower_params_list": [{"dims": [8], "activation": "prelu", "dropout": 0.1},
                                  {"dims": [8], "activation": "relu", "dropout": 0.1}],
        },
        "request": {"hist": 5}, "train_lengths": {"hist": (0, 12)},
    },
    {
        "name": "rechub_ple_dice", "seed": 1102, "rows": 64, "steps": 400, "lr": 0.01, "entropy": 0.05,
        "description": "torch-rechub CGC (PLE with 1 level), 3 tasks, 2 specific + 1 shared "
                       "experts [16, 8] with dice; towers leakyrelu [8], sigmoid [4], dice [8, 4]; "
                       "request sequences: 'hist' (mean, shares item_id's table) EMPTY (all "
                       "padding) and 'tags' (sum pooling, own table, 4 of 6 valid)",
        "config": {
            "framework": "torch-rechub", "model": "PLE",
            "features": [
                {"type": "SparseFeature", "name": "user_id", "vocab_size": 150, "embed_dim": 6,
                 "scope": "request"},
                {"type": "SequenceFeature", "name": "hist", "vocab_size": 400, "embed_dim": 6,
                 "pooling": "mean", "shared_with": "item_id", "padding_idx": 0,
                 "max_length": 10, "scope": "request"},
                {"type": "DenseFeature", "name": "hour", "embed_dim": 1, "scope": "request"},
                {"type": "SparseFeature", "name": "item_id", "vocab_size": 400, "embed_dim": 6},
                {"type": "SequenceFeature", "name": "tags", "vocab_size": 50, "embed_dim": 6,
                 "pooling": "sum", "padding_idx": 0, "max_length": 6, "scope": "request"},
                {"type": "DenseFeature", "name": "price", "embed_dim": 2},
                {"type": "SparseFeature", "name": "author_id", "vocab_size": 60, "embed_dim": 6},
            ],
            "task_types": ["classification", "classification", "regression"],
            "task_names": ["click", "like", "duration"],
            "n_level": 1, "n_expert_specific": 2, "n_expert_shared": 1,
            "expert_params": {"dims": [16, 8], "activation": "dice", "dropout": 0.1},
            "tower_params_list": [{"dims": [8], "activation": "leakyrelu"},
                                  {"dims": [4], "activation": "sigmoid"},
                                  {"dims": [8, 4], "activation": "dice"}],
        },
        "request": {"hist": 0, "tags": 4}, "train_lengths": {"hist": (0, 10), "tags": (0, 6)},
    },
    {
        "name": "rechub_mmoe", "seed": 1103, "rows": 200, "steps": 400, "lr": 0.01, "entropy": 0.05,
        "description": "torch-rechub MMOE, 3 experts [16] relu with BatchNorm, gates Linear+BN+"
                       "softmax; towers relu and prelu; request sequence 'hist' with padding_idx "
                       "null (torch-rechub masks -1, which nn.Embedding cannot look up, so every "
                       "sequence is full length: 6 of 6) sharing item_id's table; 200 candidates",
        "config": {
            "framework": "torch-rechub", "model": "MMOE",
            "features": [
                {"type": "SparseFeature", "name": "user_id", "vocab_size": 100, "embed_dim": 4,
                 "scope": "request"},
                {"type": "SequenceFeature", "name": "hist", "vocab_size": 250, "embed_dim": 4,
                 "pooling": "mean", "shared_with": "item_id", "padding_idx": None,
                 "max_length": 6, "scope": "request"},
                {"type": "SparseFeature", "name": "item_id", "vocab_size": 250, "embed_dim": 4},
                {"type": "DenseFeature", "name": "context", "embed_dim": 2},
                {"type": "DenseFeature", "name": "score", "embed_dim": 1},
            ],
            "task_types": ["classification", "regression"], "task_names": ["click", "watch_time"],
            "n_expert": 3,
            "expert_params": {"dims": [16], "activation": "relu", "dropout": 0.1},
            "tower_params_list": [{"dims": [8], "activation": "relu"},
                                  {"dims": [8], "activation": "prelu"}],
        },
        "request": {"hist": 6}, "train_lengths": {"hist": "full"},
    },
    {
        "name": "deepctr_ple", "seed": 2101, "rows": 64, "steps": 400, "lr": 0.01, "entropy": 0.005,
        "description": "DeepCTR-Torch PLE, 2 levels, 1 specific + 1 shared expert [16] relu, no "
                       "gate DNN, tower [8], no BN; binary + regression; VarLenSparseFeat 'hist' "
                       "(combiner mean, 3 of 8 valid) listed before the SparseFeats and sharing "
                       "video_id's table (embedding_name); embedding dims 8 and 4 mixed",
        "config": {
            "framework": "deepctr-torch", "model": "PLE",
            "dnn_feature_columns": [
                {"type": "SparseFeat", "name": "user_id", "vocabulary_size": 200,
                 "embedding_dim": 8, "scope": "request"},
                {"type": "VarLenSparseFeat",
                 "sparsefeat": {"name": "hist", "vocabulary_size": 300, "embedding_dim": 8,
                                "embedding_name": "video_id"},
                 "maxlen": 8, "combiner": "mean", "scope": "request"},
                {"type": "DenseFeat", "name": "user_age", "dimension": 1, "scope": "request"},
                {"type": "SparseFeat", "name": "video_id", "vocabulary_size": 300,
                 "embedding_dim": 8},
                {"type": "SparseFeat", "name": "category", "vocabulary_size": 30,
                 "embedding_dim": 4},
                {"type": "DenseFeat", "name": "item_vec", "dimension": 3},
            ],
            "task_types": ["binary", "regression"], "task_names": ["click", "watch_time"],
            "shared_expert_num": 1, "specific_expert_num": 1, "num_levels": 2,
            "expert_dnn_hidden_units": [16], "gate_dnn_hidden_units": [],
            "tower_dnn_hidden_units": [8], "dnn_activation": "relu", "dnn_use_bn": False,
        },
        "request": {"hist": 3}, "train_lengths": {"hist": (0, 8)},
    },
    {
        "name": "deepctr_ple_bn", "seed": 2102, "rows": 64, "steps": 400, "lr": 0.01, "entropy": 0.05,
        "description": "DeepCTR-Torch PLE, 2 levels, 2 specific + 1 shared experts [16] (DeepCTR-"
                       "Torch builds 2 shared experts per level and uses 1: the other's weights "
                       "are in the state_dict), gate DNN [8], dnn_use_bn, prelu, 3 tasks; "
                       "VarLenSparseFeat 'hist' (combiner sum, 7 of 10 valid) sharing item_id's "
                       "table; last level's shared gate (DNN + final layer) present and unused",
        "config": {
            "framework": "deepctr-torch", "model": "PLE",
            "dnn_feature_columns": [
                {"type": "SparseFeat", "name": "user_id", "vocabulary_size": 120,
                 "embedding_dim": 6, "scope": "request"},
                {"type": "SparseFeat", "name": "city", "vocabulary_size": 20,
                 "embedding_dim": 4, "scope": "request"},
                {"type": "SparseFeat", "name": "item_id", "vocabulary_size": 350,
                 "embedding_dim": 6},
                {"type": "VarLenSparseFeat",
                 "sparsefeat": {"name": "hist", "vocabulary_size": 350, "embedding_dim": 6,
                                "embedding_name": "item_id"},
                 "maxlen": 10, "combiner": "sum", "scope": "request"},
                {"type": "SparseFeat", "name": "shop_id", "vocabulary_size": 40,
                 "embedding_dim": 4},
                {"type": "DenseFeat", "name": "price", "dimension": 2},
                {"type": "DenseFeat", "name": "user_level", "dimension": 1, "scope": "request"},
            ],
            "task_types": ["binary", "regression", "binary"],
            "task_names": ["click", "watch_time", "share"],
            "shared_expert_num": 1, "specific_expert_num": 2, "num_levels": 2,
            "expert_dnn_hidden_units": [16], "gate_dnn_hidden_units": [8],
            "tower_dnn_hidden_units": [8], "dnn_activation": "prelu", "dnn_use_bn": True,
        },
        "request": {"hist": 7}, "train_lengths": {"hist": (0, 10)},
    },
    {
        "name": "deepctr_mmoe", "seed": 2103, "rows": 64, "steps": 400, "lr": 0.005, "entropy": 0.01,
        "description": "DeepCTR-Torch MMOE, 3 experts [16] relu, gate DNN [8], tower [8], no BN; "
                       "binary + regression; VarLenSparseFeat 'hist' (combiner mean) EMPTY in "
                       "the request (all padding 0), sharing item_id's table",
        "config": {
            "framework": "deepctr-torch", "model": "MMOE",
            "dnn_feature_columns": [
                {"type": "SparseFeat", "name": "user_id", "vocabulary_size": 100,
                 "embedding_dim": 5, "scope": "request"},
                {"type": "VarLenSparseFeat",
                 "sparsefeat": {"name": "hist", "vocabulary_size": 200, "embedding_dim": 5,
                                "embedding_name": "item_id"},
                 "maxlen": 6, "combiner": "mean", "scope": "request"},
                {"type": "SparseFeat", "name": "item_id", "vocabulary_size": 200,
                 "embedding_dim": 5},
                {"type": "DenseFeat", "name": "item_vec", "dimension": 2},
                {"type": "DenseFeat", "name": "request_ctx", "dimension": 2, "scope": "request"},
            ],
            "task_types": ["binary", "regression"], "task_names": ["click", "watch_time"],
            "num_experts": 3, "expert_dnn_hidden_units": [16], "gate_dnn_hidden_units": [8],
            "tower_dnn_hidden_units": [8], "dnn_activation": "relu", "dnn_use_bn": False,
        },
        "request": {"hist": 0}, "train_lengths": {"hist": (0, 6)},
    },
]

TRAIN_REQUESTS, TRAIN_CANDIDATES, BATCH = 2048, 16, 256
LATENT = 4


# --------------------------------------------------------------------------------------------
# Importing the frameworks from the given directories
# --------------------------------------------------------------------------------------------

class _Inert:
    """Stand-in for classes the frameworks import but only use in training/data utilities."""

    def __init__(self, *args, **kwargs):
        pass


def _stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    module.__doc__ = "stand-in installed by make_framework_bundles.py (not available here)"
    sys.modules[name] = module
    return module


def _install_stubs():
    # Only modules that are really missing get a stand-in.
    def missing(name):
        try:
            importlib.import_module(name)
            return False
        except ImportError:
            return True

    if missing("pandas"):  # torch_rechub.utils.data (data helpers)
        _stub("pandas")
    if missing("tqdm"):  # torch_rechub.utils.data, deepctr_torch basemodel.fit
        _stub("tqdm", tqdm=_Inert)
    if missing("sklearn"):  # metrics for fit/evaluate, LabelEncoder for data helpers
        _stub("sklearn")
        _stub("sklearn.metrics", roc_auc_score=None, mean_squared_error=None, log_loss=None,
              accuracy_score=None)
        _stub("sklearn.preprocessing", LabelEncoder=_Inert)
    if missing("tensorflow"):  # deepctr_torch callbacks (keras CallbackList, History)
        _stub("tensorflow")
        _stub("tensorflow.python")
        _stub("tensorflow.python.keras")
        _stub("tensorflow.python.keras.callbacks", CallbackList=_Inert, EarlyStopping=_Inert,
              ModelCheckpoint=_Inert, History=_Inert)


def _package_without_init(name, src):
    """Registers package `name` from src/name WITHOUT running its __init__.py.

    torch_rechub/__init__.py reads the installed distribution's metadata (not installed here)
    and imports every subpackage; deepctr_torch/__init__.py starts a thread that asks PyPI for
    the latest version (network). Their submodules import normally below this package.
    """
    path = os.path.join(src, name)
    if not os.path.isfile(os.path.join(path, "__init__.py")):
        sys.exit(f"error: {path}/__init__.py not found: --*-src must be the extracted repository root")
    module = types.ModuleType(name)
    module.__path__ = [path]
    module.__file__ = os.path.join(path, "__init__.py")
    module.__package__ = name
    sys.modules[name] = module


def _import_frameworks(rechub_src, deepctr_src):
    _install_stubs()
    _package_without_init("torch_rechub", rechub_src)
    _package_without_init("deepctr_torch", deepctr_src)
    fw = types.SimpleNamespace(
        rechub_features=importlib.import_module("torch_rechub.basic.features"),
        rechub_models=importlib.import_module("torch_rechub.models.multi_task"),
        deepctr_inputs=importlib.import_module("deepctr_torch.inputs"),
        deepctr_models=importlib.import_module("deepctr_torch.models"),
    )
    for module, src in ((fw.rechub_models, rechub_src), (fw.deepctr_models, deepctr_src)):
        assert os.path.abspath(module.__file__).startswith(os.path.abspath(src)), module.__file__
    assert "deepctr_torch.utils" not in sys.modules  # the PyPI version check never ran
    return fw


def _git(git_dir, *args):
    return subprocess.run(["git", "-C", git_dir, *args], check=True, capture_output=True,
                          text=True).stdout


def _framework_commit(src, git_dir, package):
    """HEAD of git_dir; checks that every file of `package` under src is that commit's blob."""
    if git_dir is None:
        if os.path.exists(os.path.join(src, ".git")):
            git_dir = src
        else:
            sys.exit(f"error: {src} is not a git checkout: give the git directory it was "
                     f"extracted from (--rechub-git / --deepctr-git)")
    commit = _git(git_dir, "rev-parse", "HEAD").strip()
    listing = _git(git_dir, "ls-tree", "-r", "HEAD", "--", package)
    blobs = {}
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        blobs[path] = meta.split()[2]
    assert blobs, f"{git_dir}: HEAD has no {package}/"
    on_disk = set()
    for root, _, files in os.walk(os.path.join(src, package)):
        for f in files:
            if f.endswith(".pyc"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)
            on_disk.add(rel)
            with open(os.path.join(src, rel), "rb") as fh:
                data = fh.read()
            sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            if blobs.get(rel) != sha:
                sys.exit(f"error: {src}/{rel} differs from {git_dir} HEAD {commit}")
    if on_disk != set(blobs):
        sys.exit(f"error: {src}/{package} does not hold exactly the files of HEAD {commit}: "
                 f"missing {sorted(set(blobs) - on_disk)[:5]}, extra {sorted(on_disk - set(blobs))[:5]}")
    return commit


# --------------------------------------------------------------------------------------------
# Feature view of a config (framework neutral)
# --------------------------------------------------------------------------------------------

def feature_view(config):
    """List of dicts: name, kind (sparse/sequence/dense), scope, width, vocab, table, pad, L."""
    out = []
    if config["framework"] == "torch-rechub":
        for f in config["features"]:
            v = {"name": f["name"], "scope": f.get("scope", "candidate")}
            if f["type"] == "DenseFeature":
                v.update(kind="dense", width=f["embed_dim"])
            else:
                v.update(vocab=f["vocab_size"], dim=f["embed_dim"],
                         table=f.get("shared_with") or f["name"])
                if f["type"] == "SequenceFeature":
                    pad = f.get("padding_idx")
                    v.update(kind="sequence", L=f["max_length"], pad=pad,
                             pad_fill=-1 if pad is None else pad)
                else:
                    v.update(kind="sparse")
            out.append(v)
    else:
        for f in config["dnn_feature_columns"]:
            v = {"scope": f.get("scope", "candidate")}
            if f["type"] == "DenseFeat":
                v.update(name=f["name"], kind="dense", width=f["dimension"])
            elif f["type"] == "SparseFeat":
                v.update(name=f["name"], kind="sparse", vocab=f["vocabulary_size"],
                         dim=f["embedding_dim"], table=f.get("embedding_name") or f["name"])
            else:
                s = f["sparsefeat"]
                v.update(name=s["name"], kind="sequence", vocab=s["vocabulary_size"],
                         dim=s["embedding_dim"], table=s.get("embedding_name") or s["name"],
                         L=f["maxlen"], pad=0, pad_fill=0)
            out.append(v)
    return out


# --------------------------------------------------------------------------------------------
# Synthetic world: a hidden rule from features to task targets
# --------------------------------------------------------------------------------------------

class World:
    def __init__(self, config, rng):
        self.features = feature_view(config)
        self.types = config["task_types"]
        self.n_task = len(self.types)
        self.latent = {}
        for f in self.features:
            if f["kind"] != "dense" and f["table"] not in self.latent:
                self.latent[f["table"]] = rng.standard_normal((f["vocab"], LATENT)) * 0.8
            if f["kind"] == "dense":
                self.latent["dense:" + f["name"]] = rng.standard_normal((f["width"], LATENT)) * 0.7
        shared = rng.standard_normal(LATENT)
        self.inter = [0.6 * shared + 0.8 * rng.standard_normal(LATENT) for _ in range(self.n_task)]
        self.cand = [rng.standard_normal(LATENT) for _ in range(self.n_task)]
        self.req = [0.5 * rng.standard_normal(LATENT) for _ in range(self.n_task)]
        self.offset = [float(x) for x in rng.uniform(-0.4, 0.4, self.n_task)]
        self.norm = None

    def signals(self, data):
        rows = len(next(iter(data.values())))
        r = np.zeros((rows, LATENT))
        c = np.zeros((rows, LATENT))
        for f in self.features:
            x = data[f["name"]]
            if f["kind"] == "dense":
                contrib = x.astype(np.float64) @ self.latent["dense:" + f["name"]]
            elif f["kind"] == "sparse":
                contrib = self.latent[f["table"]][x]
            else:
                valid = x != f["pad_fill"]
                emb = self.latent[f["table"]][np.where(valid, x, 0)] * valid[..., None]
                contrib = emb.sum(1) / np.maximum(valid.sum(1, keepdims=True), 1)
            if f["scope"] == "request":
                r += contrib
            else:
                c += contrib
        s = np.stack([(self.inter[t] * r * c).sum(1) + np.tanh(c @ self.cand[t])
                      + 0.5 * np.sin(r @ self.req[t]) for t in range(self.n_task)], 1)
        if self.norm is None:
            self.norm = (s.mean(0), s.std(0))
        return (s - self.norm[0]) / self.norm[1]

    def labels(self, data, rng):
        z = self.signals(data)
        y = np.zeros_like(z)
        for t, kind in enumerate(self.types):
            if kind in ("classification", "binary"):
                p = 1.0 / (1.0 + np.exp(-(1.6 * z[:, t] + self.offset[t])))
                y[:, t] = rng.random(len(p)) < p
            else:  # regression: positive targets around 2 (away from zero)
                y[:, t] = np.clip(2.0 + 0.45 * z[:, t] + 0.15 * rng.standard_normal(len(z)), 1, 3)
        return y.astype(np.float32)


def draw_rows(world, rng, requests, candidates, request_lengths=None, train_lengths=None,
              shared_zero_row=False):
    """Feature values (numpy, by name) for `requests` x `candidates` rows."""
    data = {}
    rows = requests * candidates
    for f in world.features:
        n = requests if f["scope"] == "request" else rows
        if f["kind"] == "dense":
            if f["scope"] == "request":
                v = rng.uniform(-1.0, 2.0, (n, f["width"]))
            else:
                v = rng.standard_normal((n, f["width"])) * 0.8 + 0.3
            v = v.astype(np.float32)
        elif f["kind"] == "sparse":
            v = rng.integers(0, f["vocab"], n).astype(np.int64)
        else:
            L, pad = f["L"], f["pad_fill"]
            low = 0 if f["pad"] is None else 1  # no valid id equals the padding id
            ids = rng.integers(low, f["vocab"], (n, L)).astype(np.int64)
            if f["pad"] == 0:
                ids[ids == 0] = 1
            if request_lengths is not None:
                lengths = np.full(n, request_lengths[f["name"]])
            else:
                spec = train_lengths[f["name"]]
                lengths = np.full(n, L) if spec == "full" else rng.integers(spec[0], spec[1] + 1, n)
            if f["pad"] is None:
                assert (lengths == L).all(), f"{f['name']}: padding_idx null needs full length"
            ids[np.arange(L)[None, :] >= lengths[:, None]] = pad
            v = ids
        if f["scope"] == "request":
            v = np.repeat(v, candidates, axis=0)
        data[f["name"]] = v
    if shared_zero_row:
        # Candidate row 0 looks up id 0 (a sequence's padding id) of a table the sequence shares.
        seq_tables = {f["table"] for f in world.features if f["kind"] == "sequence"}
        for f in world.features:
            if f["kind"] == "sparse" and f["scope"] == "candidate" and f["table"] in seq_tables:
                data[f["name"]][0] = 0
    return data


# --------------------------------------------------------------------------------------------
# Building the framework models from config.json, and feeding them
# --------------------------------------------------------------------------------------------

OUR_FEATURE_KEYS = {"type", "scope", "max_length", "oov"}
OUR_TOP_KEYS = {"framework", "model", "task_names", "name", "description", "score", "extras"}


def build_model(fw, config):
    if config["framework"] == "torch-rechub":
        F = fw.rechub_features
        classes = {"SparseFeature": F.SparseFeature, "SequenceFeature": F.SequenceFeature,
                   "DenseFeature": F.DenseFeature}
        features = [classes[f["type"]](**{k: v for k, v in f.items() if k not in OUR_FEATURE_KEYS})
                    for f in config["features"]]
        kwargs = {k: v for k, v in config.items() if k not in OUR_TOP_KEYS | {"features"}}
        cls = {"PLE": fw.rechub_models.PLE, "MMOE": fw.rechub_models.MMOE}[config["model"]]
        return cls(features, **kwargs)
    inputs = fw.deepctr_inputs
    columns = []
    for f in config["dnn_feature_columns"]:
        args = {k: v for k, v in f.items() if k not in OUR_FEATURE_KEYS}
        if f["type"] == "SparseFeat":
            columns.append(inputs.SparseFeat(**args))
        elif f["type"] == "DenseFeat":
            columns.append(inputs.DenseFeat(**args))
        else:
            sparsefeat = inputs.SparseFeat(**args.pop("sparsefeat"))
            columns.append(inputs.VarLenSparseFeat(sparsefeat, **args))
    kwargs = {k: v for k, v in config.items()
              if k not in (OUR_TOP_KEYS - {"task_names"}) | {"dnn_feature_columns"}}
    cls = {"PLE": fw.deepctr_models.PLE, "MMOE": fw.deepctr_models.MMOE}[config["model"]]
    return cls(columns, **kwargs)


def model_inputs(model, config, data, dtype):
    """The framework's forward() argument from feature arrays (ids long, dense as dtype)."""
    if config["framework"] == "torch-rechub":
        x = {}
        for f in feature_view(config):
            v = torch.from_numpy(np.ascontiguousarray(data[f["name"]]))
            x[f["name"]] = v.to(dtype) if f["kind"] == "dense" else v
        return x
    # DeepCTR-Torch: one matrix, columns in model.feature_index order (ids as numbers).
    columns = []
    for name, (begin, end) in model.feature_index.items():
        v = data[name].astype(np.float64)
        v = v.reshape(len(v), -1)
        assert v.shape[1] == end - begin, name
        columns.append(v)
    return torch.from_numpy(np.concatenate(columns, 1)).to(dtype)


class GateRecorder:
    """Forward hooks on the gate modules; `records` holds each used gate's softmax weights."""

    def __init__(self, model, config):
        self.records = {}
        self.handles = []
        self.order = []
        T = len(config["task_types"])
        gates = []  # (key, module, module output is logits?)
        if config["framework"] == "torch-rechub":
            if config["model"] == "MMOE":
                gates = [(f"levels.0.task_gates.{t}", model.gates[t], False) for t in range(T)]
            else:
                for l, cgc in enumerate(model.cgc_layers):
                    gates += [(f"levels.{l}.task_gates.{t}", cgc.gates_specific[t], False)
                              for t in range(T)]
                    if hasattr(cgc, "gate_shared"):
                        gates.append((f"levels.{l}.shared_gate", cgc.gate_shared, False))
        else:
            if config["model"] == "MMOE":
                gates = [(f"levels.0.task_gates.{t}", model.gate_dnn_final_layer[t], True)
                         for t in range(T)]
            else:
                L = config["num_levels"]
                for l in range(L):
                    gates += [(f"levels.{l}.task_gates.{t}",
                               model.specific_gate_dnn_final_layer[l][t], True) for t in range(T)]
                    if l < L - 1:  # the last level's shared gate is computed but unused
                        gates.append((f"levels.{l}.shared_gate",
                                      model.shared_gate_dnn_final_layer[l], True))
        for key, module, logits in gates:
            self.order.append(key)
            self.handles.append(module.register_forward_hook(self._hook(key, logits)))

    def _hook(self, key, logits):
        def hook(module, inputs, output):
            self.records[key] = output.softmax(1) if logits else output
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def to_float64(model, config):
    """model.double(), plus what torch-rechub needs to run a float64 forward at all.

    torch-rechub's InputMask returns its 0/1 sequence mask as float32 (`.float()`), and
    AveragePooling/SumPooling then call torch.bmm(mask, embeddings), which refuses mixed float32/
    float64. A forward hook on the model's `embedding.input_mask` module hands the same 0/1
    values on as float64 (exact); the framework's code runs unchanged. (Its other float32 casts,
    `x[dense].float()` and `non_padding_length.float() + 1e-16`, are exact here: the dense inputs
    are float32 values and the lengths small integers, so they stay as the framework has them.)
    """
    model = model.double()
    if config["framework"] == "torch-rechub":
        model.embedding.input_mask.register_forward_hook(
            lambda module, inputs, output: output.double())
    return model


def named_modules_of(model):
    return {name: type(m).__name__ for name, m in model.named_modules()}


# --------------------------------------------------------------------------------------------
# Independent forward written from docs/importing.md (numpy, float64)
# --------------------------------------------------------------------------------------------

# A mistake an importer could make, applied to docs_forward (None: none). Each bundle must make
# the bundle's tolerance check fail for the mistakes that apply to it (see MUTATIONS).
_MUTATION = None


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _act(name, x, W, prefix):
    name = name.lower()
    if name == "relu":
        return np.maximum(x, 0)
    if name == "sigmoid":
        return _sigmoid(x)
    if name == "prelu":
        return np.where(x >= 0, x, W[prefix + ".weight"] * x)
    if name == "leakyrelu":
        return np.where(x >= 0, x, 0.01 * x)
    if name == "linear":
        return x
    if name == "dice":
        m = x.mean(1, keepdims=True)
        v = ((x - m) ** 2 + 1e-3).sum(1, keepdims=True)
        p = _sigmoid((x - m) / np.sqrt(v))
        return p * x + (1 - p) * W[prefix + ".alpha"] * x
    if name == "softmax":
        return _softmax(x)
    raise ValueError(name)


def _bn(x, W, prefix, eps=1e-5):
    if _MUTATION == "bn_eps_1e-3":
        eps = 1e-3
    return ((x - W[prefix + ".running_mean"]) / np.sqrt(W[prefix + ".running_var"] + eps)
            * W[prefix + ".weight"] + W[prefix + ".bias"])


def _linear(x, W, prefix, bias=True):
    y = x @ W[prefix + ".weight"].T
    return y + W[prefix + ".bias"] if bias else y


def _pool(table, ids, mask, pooling, eps):
    # Both frameworks form the mean's denominator `count + eps` in float32 even in a float64
    # forward (torch-rechub: `non_padding_length.float() + 1e-16`; DeepCTR-Torch:
    # `length.type(torch.float32) + self.eps`, a float32 tensor), where it rounds to `count`
    # for count >= 1. Done the same way here.
    if _MUTATION == "no_padding_mask":
        mask = np.ones_like(mask)
    if _MUTATION == "mean_sum_swapped":
        pooling = "sum" if pooling == "mean" else "mean"
    emb = table[np.where(mask, ids, 0)] * mask[..., None]
    s = emb.sum(1)
    if pooling != "mean":
        return s
    count = mask.sum(1, keepdims=True).astype(np.float32)
    return s / (count + np.float32(eps)).astype(np.float64)


def mutations_that_apply(config, data):
    """The importer mistakes this bundle's data can reveal (each must fail its tolerance)."""
    views = feature_view(config)
    kinds = [f["kind"] for f in views]
    if config["framework"] == "torch-rechub":
        grouped = [k for k in kinds if k != "dense"] + [k for k in kinds if k == "dense"]
    else:
        grouped = sorted(kinds, key=["sparse", "sequence", "dense"].index)
    applies = ["task_gate_order_reversed"]
    if grouped != kinds:
        applies.append("features_in_list_order")
    counts = [(data["features." + f["name"]] != f["pad_fill"]).sum(1)
              for f in views if f["kind"] == "sequence"]
    if any((c < f["L"]).any() for c, f in zip(counts, [f for f in views if f["kind"] == "sequence"])):
        applies.append("no_padding_mask")
    if any(((c != 0) & (c != 1)).any() for c in counts):
        applies.append("mean_sum_swapped")
    padded_tables = {f["table"]: f["pad"] for f in views if f["kind"] == "sequence" and f["pad"] is not None}
    if any(f["kind"] == "sparse" and padded_tables.get(f["table"]) is not None
           and (data["features." + f["name"]] == padded_tables[f["table"]]).any() for f in views):
        applies.append("padding_row_zeroed")
    if config["framework"] == "torch-rechub" or config.get("dnn_use_bn"):
        applies.append("bn_eps_1e-3")
    if config["framework"] == "deepctr-torch" and config["model"] == "PLE" and \
            config["specific_expert_num"] > config["shared_expert_num"]:
        applies.append("last_built_shared_experts_used")
    return applies


MUTATIONS = ["task_gate_order_reversed", "features_in_list_order", "no_padding_mask",
             "mean_sum_swapped", "padding_row_zeroed", "bn_eps_1e-3",
             "last_built_shared_experts_used"]


def docs_forward(config, W, data):
    """Outputs and gate weights as docs/importing.md describes the importer's computation."""
    W = {k: v.astype(np.float64) for k, v in W.items()}
    if _MUTATION == "padding_row_zeroed":  # assumes the padding row of a sequence's table is 0
        for f in feature_view(config):
            if f["kind"] == "sequence" and f["pad"] is not None:
                for k in W:
                    if k.endswith(f".{f['table']}.weight"):
                        W[k][f["pad"]] = 0
    T = len(config["task_types"])
    gates = {}
    list_order = _MUTATION == "features_in_list_order"
    if config["framework"] == "torch-rechub":
        parts, dense = [], []
        for f in config["features"]:
            x = data["features." + f["name"]]
            if f["type"] == "DenseFeature":
                (parts if list_order else dense).append(x.astype(np.float64))
                continue
            table = W[f"embedding.embed_dict.{f.get('shared_with') or f['name']}.weight"]
            if f["type"] == "SparseFeature":
                parts.append(table[x])
            else:
                pad = f.get("padding_idx")
                mask = x != (-1 if pad is None else pad)
                parts.append(_pool(table, x, mask, f["pooling"], 1e-16))
        x0 = np.concatenate(parts + dense, 1)

        def mlp(prefix, x, dims, act, output_layer):
            for i in range(len(dims)):
                x = _act(act, _bn(_linear(x, W, f"{prefix}.mlp.{4 * i}"), W,
                                  f"{prefix}.mlp.{4 * i + 1}"), W, f"{prefix}.mlp.{4 * i + 2}")
            if output_layer:
                x = _linear(x, W, f"{prefix}.mlp.{4 * len(dims)}")
            return x

        ep = config["expert_params"]
        expert = lambda prefix, x: mlp(prefix, x, ep["dims"], ep["activation"], False)
        gate = lambda prefix, x, n: mlp(prefix, x, [n], "softmax", False)
        if config["model"] == "MMOE":
            E = [expert(f"experts.{i}", x0) for i in range(config["n_expert"])]
            outs = []
            for t in range(T):
                g = gate(f"gates.{t}", x0, len(E))
                gates[f"levels.0.task_gates.{t}"] = g
                sel = E[::-1] if _MUTATION == "task_gate_order_reversed" else E
                outs.append(sum(g[:, [i]] * sel[i] for i in range(len(sel))))
        else:
            ns, nh, L = config["n_expert_specific"], config["n_expert_shared"], config["n_level"]
            ins = [x0] * (T + 1)
            for l in range(L):
                spec = [[expert(f"cgc_layers.{l}.experts_specific.{t * ns + j}", ins[t])
                         for j in range(ns)] for t in range(T)]
                shared = [expert(f"cgc_layers.{l}.experts_shared.{j}", ins[T]) for j in range(nh)]
                outs = []
                for t in range(T):
                    g = gate(f"cgc_layers.{l}.gates_specific.{t}", ins[t], ns + nh)
                    gates[f"levels.{l}.task_gates.{t}"] = g
                    sel = spec[t] + shared
                    if _MUTATION == "task_gate_order_reversed":
                        sel = sel[::-1]
                    outs.append(sum(g[:, [i]] * sel[i] for i in range(len(sel))))
                if l < L - 1:
                    g = gate(f"cgc_layers.{l}.gate_shared", ins[T], T * ns + nh)
                    gates[f"levels.{l}.shared_gate"] = g
                    sel = [e for es in spec for e in es] + shared
                    outs.append(sum(g[:, [i]] * sel[i] for i in range(len(sel))))
                ins = outs
        ys = []
        for t in range(T):
            tp = config["tower_params_list"][t]
            y = mlp(f"towers.{t}", outs[t], tp["dims"], tp["activation"], True)
            ys.append(_sigmoid(y) if config["task_types"][t] == "classification" else y)
        return np.concatenate(ys, 1), gates

    # DeepCTR-Torch
    act = config.get("dnn_activation", "relu")
    use_bn = config.get("dnn_use_bn", False)
    sparse, varlen, dense = [], [], []
    for f in config["dnn_feature_columns"]:
        if f["type"] == "DenseFeat":
            (sparse if list_order else dense).append(data["features." + f["name"]].astype(np.float64))
        elif f["type"] == "SparseFeat":
            table = W[f"embedding_dict.{f.get('embedding_name') or f['name']}.weight"]
            sparse.append(table[data["features." + f["name"]]])
        else:
            s = f["sparsefeat"]
            table = W[f"embedding_dict.{s.get('embedding_name') or s['name']}.weight"]
            ids = data["features." + s["name"]]
            (sparse if list_order else varlen).append(
                _pool(table, ids, ids != 0, f.get("combiner", "mean"), 1e-8))
    x0 = np.concatenate(sparse + varlen + dense, 1)

    def dnn(prefix, x, units):
        for i in range(len(units)):
            x = _linear(x, W, f"{prefix}.linears.{i}")
            if use_bn:
                x = _bn(x, W, f"{prefix}.bn.{i}")
            x = _act(act, x, W, f"{prefix}.activation_layers.{i}")
        return x

    eu = config.get("expert_dnn_hidden_units", [256, 128])
    gu = config.get("gate_dnn_hidden_units", [64])
    tu = config.get("tower_dnn_hidden_units", [64])

    def gate(dnn_prefix, final, x):
        if gu:
            x = dnn(dnn_prefix, x, gu)
        return _softmax(_linear(x, W, final, bias=False))

    if config["model"] == "MMOE":
        E = [dnn(f"expert_dnn.{i}", x0, eu) for i in range(config["num_experts"])]
        outs = []
        for t in range(T):
            g = gate(f"gate_dnn.{t}", f"gate_dnn_final_layer.{t}", x0)
            gates[f"levels.0.task_gates.{t}"] = g
            sel = E[::-1] if _MUTATION == "task_gate_order_reversed" else E
            outs.append(sum(g[:, [i]] * sel[i] for i in range(len(sel))))
    else:
        ns, nh, L = config["specific_expert_num"], config["shared_expert_num"], config["num_levels"]
        ins = [x0] * (T + 1)
        for l in range(L):
            spec = [[dnn(f"specific_experts.{l}.{t}.{j}", ins[t], eu) for j in range(ns)]
                    for t in range(T)]
            first = ns - nh if _MUTATION == "last_built_shared_experts_used" else 0
            shared = [dnn(f"shared_experts.{l}.0.{first + j}", ins[T], eu) for j in range(nh)]
            outs = []
            for t in range(T):
                g = gate(f"specific_gate_dnn.{l}.{t}.0", f"specific_gate_dnn_final_layer.{l}.{t}",
                         ins[t])
                gates[f"levels.{l}.task_gates.{t}"] = g
                sel = spec[t] + shared
                if _MUTATION == "task_gate_order_reversed":
                    sel = sel[::-1]
                outs.append(sum(g[:, [i]] * sel[i] for i in range(len(sel))))
            if l < L - 1:
                g = gate(f"shared_gate_dnn.{l}", f"shared_gate_dnn_final_layer.{l}", ins[T])
                gates[f"levels.{l}.shared_gate"] = g
                sel = [e for es in spec for e in es] + shared
                outs.append(sum(g[:, [i]] * sel[i] for i in range(len(sel))))
            ins = outs
    ys = []
    for t in range(T):
        x = dnn(f"tower_dnn.{t}", outs[t], tu) if tu else outs[t]
        y = _linear(x, W, f"tower_dnn_final_layer.{t}", bias=False) + W[f"out.{t}.bias"]
        ys.append(_sigmoid(y) if config["task_types"][t] == "binary" else y)
    return np.concatenate(ys, 1), gates


# --------------------------------------------------------------------------------------------
# One bundle
# --------------------------------------------------------------------------------------------

def _json_bytes(obj):
    return (json.dumps(obj, indent=2) + "\n").encode("utf-8")


def _binary_tasks(config):
    return [t for t, kind in enumerate(config["task_types"]) if kind in ("classification", "binary")]


def _margin(got32, ref64):
    return float(np.max(np.abs(got32 - ref64) / np.maximum(ATOL, RTOL * np.abs(ref64))))


def _bn_stats(state):
    means, logvars = [], []
    for k, v in state.items():
        if k.endswith(".running_mean"):
            means.append(v.abs().flatten())
            logvars.append(state[k[:-len("running_mean")] + "running_var"].log().abs().flatten())
    if not means:
        return None
    m, lv = torch.cat(means), torch.cat(logvars)
    moved = ((m > 0.1) | (lv > np.log(1.5))).float().mean().item()
    return {"layers": len(means), "max_abs_running_mean": m.max().item(),
            "median_abs_running_mean": m.median().item(),
            "moved_fraction": moved,
            "var_min": min(float(state[k].min()) for k in state if k.endswith("running_var")),
            "var_max": max(float(state[k].max()) for k in state if k.endswith("running_var"))}


def train(model, config, world, spec):
    rng = np.random.default_rng(spec["seed"])
    data = draw_rows(world, rng, TRAIN_REQUESTS, TRAIN_CANDIDATES,
                     train_lengths=spec["train_lengths"])
    world.signals(data)  # fixes the normalisation on the training set
    labels = torch.from_numpy(world.labels(data, rng))
    rows = len(labels)
    x_all = data
    binary = _binary_tasks(config)
    if config["framework"] == "deepctr-torch":
        # DeepCTR-Torch initialises every DNN Linear weight N(0, init_std = 1e-4) and has no BN
        # unless dnn_use_bn: a few hundred steps then leave the binary towers barely trained.
        # Re-draw those weights with PyTorch's default Linear initialisation (the gate and tower
        # final layers already have it); the architecture and the arguments are unchanged.
        g = torch.Generator().manual_seed(spec["seed"] + 1)
        with torch.no_grad():
            for mname, module in model.named_modules():
                if isinstance(module, torch.nn.Linear) and ".linears." in mname + ".":
                    bound = 1.0 / np.sqrt(module.in_features)
                    module.weight.copy_(torch.rand(module.weight.shape, generator=g) * 2 * bound - bound)
    # Start regression outputs at the targets' mean (the head's bias), so the first steps'
    # large squared errors do not swamp the binary tasks (dead ReLUs in their towers).
    with torch.no_grad():
        for t, kind in enumerate(config["task_types"]):
            if kind == "regression":
                bias = (model.towers[t].mlp[-1].bias if config["framework"] == "torch-rechub"
                        else model.out[t].bias)
                bias.fill_(float(labels[:, t].mean()))
    recorder = GateRecorder(model, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    generator = torch.Generator().manual_seed(spec["seed"])
    model.train()
    order = torch.randperm(rows, generator=generator)
    position = 0
    history = []
    for step in range(spec["steps"]):
        if position + BATCH > rows:
            order, position = torch.randperm(rows, generator=generator), 0
        idx = order[position:position + BATCH].numpy()
        position += BATCH
        batch = {k: v[idx] for k, v in x_all.items()}
        y = labels[idx]
        out = model(model_inputs(model, config, batch, torch.float32))
        loss = 0.0
        for t in range(out.shape[1]):
            if t in binary:
                loss = loss + torch.nn.functional.binary_cross_entropy(
                    out[:, t].clamp(1e-6, 1 - 1e-6), y[:, t])
            else:
                loss = loss + torch.nn.functional.mse_loss(out[:, t], y[:, t])
        entropy = sum(-(g.clamp_min(1e-12).log() * g).sum(1).mean()
                      for g in recorder.records.values()) / len(recorder.records)
        total = loss + spec["entropy"] * entropy
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        if step % 100 == 0 or step == spec["steps"] - 1:
            history.append((step, round(float(loss), 4), round(float(entropy), 4)))
    recorder.remove()
    model.eval()
    return history


def make_bundle(fw, spec, commits, out_dir):
    name, config = spec["name"], spec["config"]
    framework = config["framework"]
    torch.manual_seed(spec["seed"])
    np_rng = np.random.default_rng(spec["seed"] + 7)
    world = World(config, np_rng)

    # 1-2. Build from config.json (as written) and train.
    config_bytes = _json_bytes(config)
    parsed = json.loads(config_bytes)
    model = build_model(fw, parsed)
    torch.manual_seed(spec["seed"])
    history = train(model, parsed, world, spec)

    # 3. Export the state_dict unchanged, through torch.save and tools/pt_to_safetensors.py.
    state = model.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    entries = pt_to_safetensors.load_state_dict(buffer)
    weights_bytes = pt_to_safetensors.serialize(entries)
    loaded, _ = safetensors_io.deserialize(weights_bytes)
    assert list(loaded) != [] and set(loaded) == set(state)
    for k, v in state.items():
        assert loaded[k].dtype == v.numpy().dtype and loaded[k].shape == tuple(v.shape), k
        assert np.array_equal(loaded[k], v.numpy()), k
    assert all(v.dtype in (torch.float32, torch.int64) for v in state.values())

    # Held-out request.
    holdout = draw_rows(world, np.random.default_rng(spec["seed"] + 99), 1, spec["rows"],
                        request_lengths=spec["request"], shared_zero_row=True)
    views = feature_view(parsed)
    for f in views:
        if f["scope"] == "request":
            assert (holdout[f["name"]] == holdout[f["name"]][:1]).all(), f["name"]

    # 4. Fresh model from config.json + weights.safetensors, float64, eval.
    fresh = build_model(fw, parsed)
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in loaded.items()}, strict=True)
    fresh = to_float64(fresh, parsed).eval()
    recorder = GateRecorder(fresh, parsed)
    with torch.no_grad():
        out64 = fresh(model_inputs(fresh, parsed, holdout, torch.float64))
    gates64 = {k: recorder.records[k].numpy().copy() for k in recorder.order}
    recorder.remove()
    assert out64.dtype == torch.float64 and all(g.dtype == np.float64 for g in gates64.values())
    out64 = out64.numpy().copy()
    T = len(parsed["task_types"])
    assert out64.shape == (spec["rows"], T), out64.shape

    # The trained model itself in float64 gives the very same numbers.
    trained64 = to_float64(copy.deepcopy(model), parsed).eval()
    with torch.no_grad():
        again = trained64(model_inputs(trained64, parsed, holdout, torch.float64)).numpy()
    assert np.array_equal(again, out64)

    # (a) float32 noise margin: the framework model in float32 on the same inputs.
    model32 = copy.deepcopy(model).float().eval()
    recorder32 = GateRecorder(model32, parsed)
    with torch.no_grad():
        out32 = model32(model_inputs(model32, parsed, holdout, torch.float32)).double().numpy()
    margin_out = _margin(out32, out64)
    margin_gates = max(_margin(recorder32.records[k].double().numpy(), gates64[k]) for k in gates64)
    recorder32.remove()
    assert margin_out <= FLOAT32_MARGIN and margin_gates <= FLOAT32_MARGIN, (margin_out, margin_gates)

    # (b) binary outputs spread.
    spread = {}
    for t in _binary_tasks(parsed):
        p = out64[:, t]
        inside = float(((p >= 0.03) & (p <= 0.97)).mean())
        spread[parsed["task_names"][t]] = {"min": float(p.min()), "max": float(p.max()),
                                           "std": float(p.std()), "inside_0.03_0.97": inside}
        assert inside >= 0.9 and p.std() >= 0.05, (name, t, spread)
    regression = {parsed["task_names"][t]: [float(out64[:, t].min()), float(out64[:, t].max())]
                  for t in range(T) if t not in _binary_tasks(parsed)}
    for lo, hi in regression.values():
        assert lo > 0.5, regression  # away from zero: rtol, not atol, governs

    # (c) gates far from uniform.
    gate_stats = {}
    for k, g in gates64.items():
        n = g.shape[1]
        mean_max = float(g.max(1).mean())
        gate_stats[k] = {"n": n, "mean_max": round(mean_max, 4),
                         "row_std": round(float(g.std(0).mean()), 4)}
        assert mean_max >= 1.0 / n + 0.2, (name, k, gate_stats[k])

    bn = _bn_stats(state)
    if bn is not None:
        assert bn["moved_fraction"] >= 0.5, bn

    # data.safetensors
    tensors = {}
    for f in views:
        v = holdout[f["name"]]
        tensors["features." + f["name"]] = (v.astype(np.float32).reshape(len(v), -1)
                                            if f["kind"] == "dense" else v.astype(np.int64))
    tensors["expected.outputs"] = out64
    for k in recorder.order:
        tensors["expected." + k] = gates64[k]
    data_bytes = safetensors_io.serialize(tensors)

    # Independent forward from docs/importing.md, on the files as written.
    data_back, _ = safetensors_io.deserialize(data_bytes)
    weights_back, _ = safetensors_io.deserialize(weights_bytes)
    docs_out, docs_gates = docs_forward(json.loads(config_bytes), weights_back, data_back)
    docs_diff = float(np.max(np.abs(docs_out - out64) / np.maximum(1.0, np.abs(out64))))
    assert docs_diff <= 1e-12, (name, docs_diff)
    assert set(docs_gates) == set(gates64), (sorted(docs_gates), sorted(gates64))
    for k in gates64:
        assert np.max(np.abs(docs_gates[k] - gates64[k])) <= 1e-12, (name, k)

    # Mistakes an importer could make must fail this bundle's tolerance check.
    global _MUTATION
    caught = []
    for mutation in MUTATIONS:
        _MUTATION = mutation
        try:
            got, _ = docs_forward(json.loads(config_bytes), weights_back, data_back)
        finally:
            _MUTATION = None
        if np.any(np.abs(got - out64) > np.maximum(ATOL, RTOL * np.abs(out64))):
            caught.append(mutation)
    applies = mutations_that_apply(parsed, data_back)
    assert set(applies) <= set(caught), (name, sorted(set(applies) - set(caught)))

    repo_name, commit = commits[framework]
    bundle = {
        "format_version": 1,
        "name": name,
        "description": spec["description"],
        "importer": framework,
        "config": "config.json",
        "weights": "weights.safetensors",
        "data": "data.safetensors",
        "tolerance": {"rtol": RTOL, "atol": ATOL},
        "generator": f"{SCRIPT} ({repo_name}@{commit}, torch {torch.__version__}, "
                     f"framework forward in float64)",
    }
    files = {"bundle.json": _json_bytes(bundle), "config.json": config_bytes,
             "weights.safetensors": weights_bytes, "data.safetensors": data_bytes}
    directory = os.path.join(out_dir, name)
    os.makedirs(directory, exist_ok=True)
    for fname, blob in files.items():
        with open(os.path.join(directory, fname), "wb") as fh:
            fh.write(blob)
    extra = set(os.listdir(directory)) - set(files)
    assert not extra, f"{directory}: unexpected files {sorted(extra)}"
    size = sum(len(b) for b in files.values())
    assert size <= BUNDLE_MAX_BYTES, (name, size)

    return {
        "name": name, "bytes": size, "files": {k: len(v) for k, v in files.items()},
        "sha256": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()},
        "mutations_caught": caught, "mutations_applying": applies,
        "margin_outputs": margin_out, "margin_gates": margin_gates, "docs_forward_diff": docs_diff,
        "spread": spread, "regression_range": regression, "gates": gate_stats, "bn": bn,
        "train": history, "state_keys": [(k, list(v.shape), str(v.dtype).replace("torch.", ""))
                                         for k, v in state.items()],
        "modules": named_modules_of(model),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rechub-src", required=True,
                        help="extracted torch-rechub repository (holds torch_rechub/)")
    parser.add_argument("--deepctr-src", required=True,
                        help="extracted DeepCTR-Torch repository (holds deepctr_torch/)")
    parser.add_argument("--rechub-git", help="git directory --rechub-src was extracted from")
    parser.add_argument("--deepctr-git", help="git directory --deepctr-src was extracted from")
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "bundles"))
    parser.add_argument("--only", nargs="*", help="bundle names (default: all)")
    parser.add_argument("--report", help="write a JSON report (keys, stats) to this path")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    commits = {
        "torch-rechub": ("datawhalechina/torch-rechub",
                         _framework_commit(args.rechub_src, args.rechub_git, "torch_rechub")),
        "deepctr-torch": ("shenweichen/DeepCTR-Torch",
                          _framework_commit(args.deepctr_src, args.deepctr_git, "deepctr_torch")),
    }
    fw = _import_frameworks(args.rechub_src, args.deepctr_src)

    specs = [s for s in BUNDLES if not args.only or s["name"] in args.only]
    unknown = set(args.only or []) - {s["name"] for s in BUNDLES}
    if unknown:
        sys.exit(f"error: unknown bundles {sorted(unknown)}")
    reports = []
    for spec in specs:
        r = make_bundle(fw, spec, commits, args.out)
        reports.append(r)
        gates = ", ".join(f"{k} {v['mean_max']:.3f}/{v['n']}" for k, v in r["gates"].items())
        print(f"{r['name']}: {r['bytes']} bytes; float32 margin outputs {r['margin_outputs']:.3f} "
              f"gates {r['margin_gates']:.3f}; docs forward diff {r['docs_forward_diff']:.1e}")
        print(f"  gates mean max weight / n: {gates}")
        print(f"  mistakes caught: {', '.join(r['mutations_caught'])}")
        print(f"  binary: " + "; ".join(f"{t} [{s['min']:.3f}, {s['max']:.3f}] std {s['std']:.3f} "
                                        f"inside {s['inside_0.03_0.97']:.2f}"
                                        for t, s in r["spread"].items())
              + "; regression: " + "; ".join(f"{t} [{lo:.3f}, {hi:.3f}]"
                                            for t, (lo, hi) in r["regression_range"].items()))
        if r["bn"]:
            print(f"  BN: {r['bn']['layers']} layers, |running_mean| max {r['bn']['max_abs_running_mean']:.3f} "
                  f"median {r['bn']['median_abs_running_mean']:.3f}, running_var "
                  f"[{r['bn']['var_min']:.4f}, {r['bn']['var_max']:.3f}], moved {r['bn']['moved_fraction']:.2f}")
        print(f"  train (step, task loss, gate entropy): {r['train']}")
    total = sum(r["bytes"] for r in reports)
    if not args.only:
        assert total <= TOTAL_MAX_BYTES, total
    lines = sorted(f"{r['name']}/{f} {h}" for r in reports for f, h in r["sha256"].items())
    tree = hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()
    for line in lines:
        print(line)
    print(f"total {total} bytes; tree sha256 {tree}")
    if args.report:
        with open(args.report, "w") as fh:
            json.dump({"commits": commits, "torch": torch.__version__, "tree": tree,
                       "bundles": reports}, fh, indent=1)


if __name__ == "__main__":
    main()
