"""Trains the README's example model and writes examples/feed/.

    /usr/bin/python3 tests/reference/make_example.py --out examples/feed

A 4-task video-feed ranker like the PLE paper's (VTR binary, VCR regression, SHR and CMR
binary), 2 PLE levels, trained for a few hundred Adam steps on synthetic data drawn from a
hidden rule. As in the paper, each task's loss only covers its own sample space: share and
comment exist only for viewed samples (vtr label 1), so their losses are masked to those.

Writes config.json, weights.safetensors (F32, native naming), request.jsonl (10 candidates of
one request, one JSON object per line: input name -> numbers) and expected.json (the float64
reference's outputs for those candidates, the inputs read as float32).

Deterministic on one machine: fixed seeds, one thread, deterministic algorithms. (float32
training on another CPU or torch build may round differently and so give other weights.)
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ple_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402
from make_bundles import dumps_json  # noqa: E402

GENERATOR = f"tests/reference/make_example.py (torch {torch.__version__})"
SEED = 20200922  # RecSys 2020
STEPS, BATCH, LEARNING_RATE = 400, 512, 3e-3
USERS, ITEMS, TRAIN_SAMPLES, TEST_SAMPLES = 400, 1500, 60000, 20000

CONFIG = {
    "format_version": 1,
    "name": "feed-ranker",
    "description": "example video-feed ranker (PLE, 2 levels): view-through (vtr), view completion "
                   "ratio (vcr), share (shr), comment (cmr); trained on synthetic data by "
                   "tests/reference/make_example.py",
    "source_framework": "pytorch",
    "inputs": [
        {"name": "user", "width": 8, "scope": "request"},
        {"name": "context", "width": 4, "scope": "request"},
        {"name": "item", "width": 12, "scope": "candidate"},
    ],
    "tasks": [
        {"name": "vtr", "type": "binary"},
        {"name": "vcr", "type": "regression"},
        {"name": "shr", "type": "binary"},
        {"name": "cmr", "type": "binary"},
    ],
    "batch_norm_eps": 1e-5,
    "expert": {"units": [32], "activation": "relu", "batch_norm": False},
    "gate": {"hidden_units": [], "bias": True, "batch_norm": False},
    "tower": {"units": [16], "activation": "relu", "batch_norm": False,
              "head_bias": True, "output_bias": False},
    "levels": [
        {"specific_experts": 1, "shared_experts": 2},
        {"specific_experts": 1, "shared_experts": 2},
    ],
    "last_level_shared_gate": "absent",
}


class HiddenRule:
    """The synthetic world: user, context and item vectors, and the label probabilities."""

    def __init__(self, rng):
        self.user_pool = rng.standard_normal((USERS, 8))
        self.item_pool = rng.standard_normal((ITEMS, 12))
        self.user_proj = rng.standard_normal((8, 4)) / np.sqrt(8)
        self.item_proj = rng.standard_normal((12, 4)) / np.sqrt(12)
        self.context_w = rng.standard_normal(4) * 0.5
        self.item_pop = rng.standard_normal(12) / np.sqrt(12)
        self.share_proj = rng.standard_normal((12, 4)) / np.sqrt(12)
        self.comment_user = rng.standard_normal(8) / np.sqrt(8)
        self.length_w = rng.standard_normal(12) / np.sqrt(12)

    def sample(self, rng, n):
        users = self.user_pool[rng.integers(0, USERS, n)]
        context = rng.standard_normal((n, 4))
        items = self.item_pool[rng.integers(0, ITEMS, n)]
        return users, context, items

    def labels(self, rng, users, context, items):
        interest = np.sum((users @ self.user_proj) * (items @ self.item_proj), axis=1)
        affinity = 1.5 * interest + context @ self.context_w + items @ self.item_pop
        p_view = 1.0 / (1.0 + np.exp(-(affinity - 0.3)))
        vtr = (rng.random(len(users)) < p_view).astype(np.float64)
        length = items @ self.length_w  # long videos are watched less completely
        vcr = 1.0 / (1.0 + np.exp(-(0.8 * affinity - 0.7 * length + 0.3 * rng.standard_normal(len(users)))))
        share_interest = np.sum((users @ self.user_proj) * (items @ self.share_proj), axis=1)
        p_share = 1.0 / (1.0 + np.exp(-(1.2 * share_interest + 0.5 * affinity - 1.5)))
        shr = vtr * (rng.random(len(users)) < p_share)
        p_comment = 1.0 / (1.0 + np.exp(-(1.5 * (users @ self.comment_user) + 0.7 * interest - 2.0)))
        cmr = vtr * (rng.random(len(users)) < p_comment)
        return np.stack([vtr, vcr, shr, cmr], axis=1)


def auc(scores, labels):
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels > 0.5
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def task_logits(model, x):
    """Per-task pre-sigmoid values [N, T] (regression: the output itself)."""
    task_outputs, _ = model.forward_levels(x)
    return torch.stack([tower.logit(h) for tower, h in zip(model.towers, task_outputs)], dim=1)


def loss_fn(logits, labels):
    vtr, vcr, shr, cmr = (labels[:, i] for i in range(4))
    viewed = vtr
    loss_vtr = F.binary_cross_entropy_with_logits(logits[:, 0], vtr)
    loss_vcr = F.mse_loss(logits[:, 1], vcr)
    # Share and comment only exist for viewed samples: mask the rest out of their losses.
    denominator = viewed.sum().clamp(min=1.0)
    loss_shr = (F.binary_cross_entropy_with_logits(logits[:, 2], shr, reduction="none") * viewed).sum() / denominator
    loss_cmr = (F.binary_cross_entropy_with_logits(logits[:, 3], cmr, reduction="none") * viewed).sum() / denominator
    return loss_vtr + loss_vcr + loss_shr + loss_cmr


def train(rule):
    rng = np.random.default_rng([SEED, 1])
    users, context, items = rule.sample(rng, TRAIN_SAMPLES)
    x_train = torch.from_numpy(np.concatenate([users, context, items], axis=1).astype(np.float32))
    y_train = torch.from_numpy(rule.labels(rng, users, context, items).astype(np.float32))

    torch.manual_seed(SEED)
    model = ref.build_model(CONFIG, dtype=torch.float32)  # PyTorch's default initialisation
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    batches = np.random.default_rng([SEED, 2])
    for step in range(STEPS):
        index = torch.from_numpy(batches.integers(0, TRAIN_SAMPLES, BATCH))
        loss = loss_fn(task_logits(model, x_train[index]), y_train[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == STEPS - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    model.eval()
    return model


def evaluate(model64, rule):
    rng = np.random.default_rng([SEED, 3])
    users, context, items = rule.sample(rng, TEST_SAMPLES)
    labels = rule.labels(rng, users, context, items)
    x = np.concatenate([users, context, items], axis=1).astype(np.float32).astype(np.float64)
    with torch.no_grad():
        outputs, _ = model64(torch.from_numpy(x))
    outputs = outputs.numpy()
    viewed = labels[:, 0] > 0.5
    report = {
        "vtr AUC": auc(outputs[:, 0], labels[:, 0]),
        "vcr MSE": float(np.mean((outputs[:, 1] - labels[:, 1]) ** 2)),
        "vcr MSE of the mean": float(np.var(labels[:, 1])),
        "shr AUC (viewed)": auc(outputs[viewed, 2], labels[viewed, 2]),
        "cmr AUC (viewed)": auc(outputs[viewed, 3], labels[viewed, 3]),
    }
    print("held-out: " + ", ".join(f"{k} {v:.4f}" for k, v in report.items()))
    assert report["vtr AUC"] > 0.7 and report["shr AUC (viewed)"] > 0.65 \
        and report["cmr AUC (viewed)"] > 0.65 and report["vcr MSE"] < report["vcr MSE of the mean"], \
        "the example model did not learn the hidden rule"


def make_request(rule):
    """10 candidates of one request; numbers rounded to 4 decimals so the file reads well."""
    rng = np.random.default_rng([SEED, 4])
    user = np.round(rule.user_pool[rng.integers(0, USERS)], 4)
    context = np.round(rng.standard_normal(4), 4)
    items = np.round(rule.item_pool[rng.choice(ITEMS, 10, replace=False)], 4)
    return [{"user": user.tolist(), "context": context.tolist(), "item": item.tolist()}
            for item in items]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train and write the example model.")
    parser.add_argument("--out", default="examples/feed")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    rule = HiddenRule(np.random.default_rng([SEED, 0]))
    model = train(rule)
    weights = {name: t.detach().numpy().astype("<f4") for name, t in model.state_dict().items()}

    with open(os.path.join(args.out, "config.json"), "w") as f:
        f.write(dumps_json(CONFIG) + "\n")
    weights_path = os.path.join(args.out, "weights.safetensors")
    safetensors_io.save_file(weights, weights_path, {"format": "pt", "generator": GENERATOR})

    # The float64 reference, from the weights as written.
    stored, _ = safetensors_io.load_file(weights_path)
    model64 = ref.build_model(CONFIG, stored)
    evaluate(model64, rule)

    rows = make_request(rule)
    with open(os.path.join(args.out, "request.jsonl"), "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    with torch.no_grad():
        outputs, _ = model64(ref.inputs_from_rows(CONFIG, rows))
    names = [t["name"] for t in CONFIG["tasks"]]
    expected = {
        "model": CONFIG["name"],
        "generator": f"tests/reference/make_example.py (torch {torch.__version__}, float64 reference)",
        "inputs": "request.jsonl: line i is candidate i; every number is read as float32",
        "tasks": CONFIG["tasks"],
        "outputs": [dict(zip(names, row)) for row in outputs.tolist()],
    }
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        f.write(dumps_json(expected, width=120) + "\n")
    for i, row in enumerate(outputs.tolist()):
        print(f"candidate {i}: " + "  ".join(f"{n} {v:.6f}" for n, v in zip(names, row)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
