"""Trains the README's example model and writes examples/feed/.

    /usr/bin/python3 tests/reference/make_example.py --out examples/feed

A small video-feed ranker in the PLE paper's setting: three binary tasks on a funnel,
click -> share -> comment (share and comment are only observed on clicked impressions), a
feature layer with ids, a pooled watch history and dense values, and the ranking score
click^1 * share^0.5 * comment^0.5 * log1p(video_len) (the paper's Eq. 1). 2 PLE levels, 1
specific + 2 shared experts [32] per level, towers [16].

The data is synthetic with a known signal (class World): a user's taste over video categories,
a per-request session interest that the recent history reveals (history overlap), video
quality, video popularity, the hour of the day and the user's activity. As in the paper each
task's loss covers only its own sample space (share and comment: clicked impressions; other
impressions are masked out of their losses) and the loss weights change per epoch:
w_k(t) = w_k0 * gamma_k^t.

Writes config.json, weights.safetensors (F32, native naming), request.jsonl (one request line
and 10 candidate lines, docs/ple-run.md), heldout.jsonl (100 requests x 10 candidates with
labels, null outside a task's sample space), expected.json (the float64 reference's outputs
and scores for request.jsonl, read back from the file as float32 like the runtime does, and
its per-task AUC on heldout.jsonl, computed the way `ple-run --evaluate` does), calibration.jsonl and
evaluation.jsonl (30 and 40 requests x 50 candidates with labels: sets that can show a ranking
change; `--ranking-sets-only` writes just these, without training) and README.md.

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
USERS, VIDEOS, CATEGORIES, HOURS = 300, 500, 20, 24  # video 0 is the history's padding id
HISTORY = 20
CANDIDATES = 10
TRAIN_REQUESTS, LARGE_HELDOUT_REQUESTS, HELDOUT_REQUESTS = 20000, 3000, 100
EPOCHS, BATCH, LEARNING_RATE = 6, 256, 3e-3
LOSS_WEIGHTS = {"click": (1.0, 0.95), "share": (0.5, 1.1), "comment": (0.5, 1.1)}  # (w_k0, gamma_k)
MIN_AUC = 0.7

TASKS = ["click", "share", "comment"]
CONFIG = {
    "format_version": 1,
    "name": "feed-ranker",
    "description": "example video-feed ranker (PLE, 2 levels): click, share, comment (a funnel: share "
                   "and comment are observed on clicked impressions only); ranking score "
                   "click * share^0.5 * comment^0.5 * log1p(video_len); trained on synthetic data "
                   "by tests/reference/make_example.py",
    "source_framework": "pytorch",
    "tables": [
        {"name": "user", "vocabulary": USERS, "dim": 8},
        {"name": "video", "vocabulary": VIDEOS, "dim": 8},
        {"name": "hour", "vocabulary": HOURS, "dim": 4},
        {"name": "category", "vocabulary": CATEGORIES, "dim": 4},
    ],
    "features": [
        {"name": "user_id", "kind": "sparse", "scope": "request", "table": "user", "oov": "error"},
        {"name": "history", "kind": "sequence", "scope": "request", "table": "video",
         "max_length": HISTORY, "pooling": "mean", "padding_id": 0, "mean_eps": 0.0},
        {"name": "hour", "kind": "sparse", "scope": "request", "table": "hour", "oov": "error"},
        {"name": "user_activity", "kind": "dense", "scope": "request", "width": 1,
         "normalize": None},  # set from the training data
        {"name": "video_id", "kind": "sparse", "scope": "candidate", "table": "video", "oov": "hash"},
        {"name": "video_category", "kind": "sparse", "scope": "candidate", "table": "category",
         "oov": "error"},
        {"name": "video_quality", "kind": "dense", "scope": "candidate", "width": 2,
         "normalize": None},  # set from the training data
    ],
    "extras": [{"name": "video_len"}],
    "score": {"exponents": {"click": 1.0, "share": 0.5, "comment": 0.5},
              "transform": {"type": "log1p", "input": "video_len"},
              "regression_floor": 0.0},
    "tasks": [{"name": t, "type": "binary"} for t in TASKS],
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


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class World:
    """The synthetic world and its known label rule.

    click   logit = 1.2 taste(u, c) + 2.0 overlap + 2.0 (quality_0 - 0.5) + pop(v) + hour(h) - 1.2
    share   logit = 5.0 (quality_1 - 0.4) + 0.8 taste(u, c) + 1.0 overlap + 0.4 pop(v) - 1.0
    comment logit = 1.2 z(activity_u) + 2.0 overlap + 0.6 night(h) + 0.3 taste(u, c) - 1.6
    taste(u, c): the user's standardised taste for the video's category; overlap: the share of
    the request's history in the video's category (the history is drawn mostly from a session
    interest); share and comment are drawn only for clicked impressions.
    """

    def __init__(self, rng):
        self.taste = rng.standard_normal((USERS, CATEGORIES)) * 1.5
        self.activity = np.round(np.exp(rng.normal(1.0, 0.6, USERS)), 3)  # sessions per day
        log_activity = np.log(self.activity)
        self.activity_z = (log_activity - log_activity.mean()) / log_activity.std()
        self.category = rng.integers(0, CATEGORIES, VIDEOS)
        self.category[0] = 0  # video 0 is never shown (padding id)
        self.quality = np.round(np.stack([rng.beta(2, 2, VIDEOS), rng.beta(2, 3, VIDEOS)], axis=1), 3)
        self.length = np.round(np.clip(np.exp(rng.normal(4.0, 0.9, VIDEOS)), 5.0, 600.0), 1)
        self.popularity = rng.normal(0.0, 0.5, VIDEOS)
        self.by_category = [np.flatnonzero(self.category[1:] == c) + 1 for c in range(CATEGORIES)]
        hours = np.arange(HOURS)
        self.hour_effect = 0.5 * np.cos(2 * np.pi * (hours - 21) / HOURS)
        self.night = ((hours >= 22) | (hours <= 2)).astype(np.float64)
        hour_weights = 1.0 + 0.8 * np.cos(2 * np.pi * (hours - 20) / HOURS)
        self.hour_p = hour_weights / hour_weights.sum()

    def taste_p(self, u):
        p = np.exp(self.taste[u] - self.taste[u].max())
        return p / p.sum()

    def _videos(self, rng, categories):
        return np.array([rng.choice(self.by_category[c]) for c in categories], dtype=np.int64)

    def request(self, rng, candidates=CANDIDATES):
        """One request: its request-scope values and `candidates` candidates with their labels."""
        u = int(rng.integers(0, USERS))
        h = int(rng.choice(HOURS, p=self.hour_p))
        p = self.taste_p(u)
        interest = int(rng.choice(CATEGORIES, p=p))
        n_history = int(rng.integers(0, HISTORY + 1))
        cats = np.where(rng.random(n_history) < 0.6, interest, rng.choice(CATEGORIES, n_history, p=p))
        history = self._videos(rng, cats)
        # Candidates: half from the user's taste (a retrieval stage), half from anywhere.
        videos = []
        while len(videos) < candidates:
            if rng.random() < 0.5:
                v = int(rng.choice(self.by_category[int(rng.choice(CATEGORIES, p=p))]))
            else:
                v = int(rng.integers(1, VIDEOS))
            if v not in videos:
                videos.append(v)
        videos = np.array(videos, dtype=np.int64)
        c = self.category[videos]
        t = self.taste[u]
        taste = (t[c] - t.mean()) / t.std()
        overlap = np.array([np.mean(self.category[history] == ci) if n_history else 0.0 for ci in c])
        q = self.quality[videos]
        pop = self.popularity[videos]
        click_logit = 1.2 * taste + 2.0 * overlap + 2.0 * (q[:, 0] - 0.5) + pop + self.hour_effect[h] - 1.2
        share_logit = 5.0 * (q[:, 1] - 0.4) + 0.8 * taste + 1.0 * overlap + 0.4 * pop - 1.0
        comment_logit = 1.2 * self.activity_z[u] + 2.0 * overlap + 0.6 * self.night[h] + 0.3 * taste - 1.6
        click = (rng.random(candidates) < sigmoid(click_logit)).astype(np.float64)
        share = (rng.random(candidates) < sigmoid(share_logit)).astype(np.float64)
        comment = (rng.random(candidates) < sigmoid(comment_logit)).astype(np.float64)
        labels = np.stack([click, np.where(click > 0, share, np.nan),
                           np.where(click > 0, comment, np.nan)], axis=1)
        return {"user_id": u, "history": history, "hour": h, "user_activity": float(self.activity[u]),
                "video_id": videos, "video_category": c, "video_quality": q,
                "video_len": self.length[videos], "labels": labels}


def batch_arrays(requests):
    """Requests -> per-candidate arrays (request values repeated), history padded with 0."""
    n = len(requests) * CANDIDATES
    history = np.zeros((n, HISTORY), dtype=np.int64)
    for i, r in enumerate(requests):
        history[i * CANDIDATES:(i + 1) * CANDIDATES, :len(r["history"])] = r["history"]
    rep = lambda key: np.repeat(np.array([r[key] for r in requests]), CANDIDATES)  # noqa: E731
    cat = lambda key: np.concatenate([r[key] for r in requests])  # noqa: E731
    return {
        "user_id": rep("user_id").astype(np.int64),
        "history": history,
        "hour": rep("hour").astype(np.int64),
        "user_activity": rep("user_activity").astype(np.float32).reshape(n, 1),
        "video_id": cat("video_id"),
        "video_category": cat("video_category").astype(np.int64),
        "video_quality": cat("video_quality").astype(np.float32),
        "video_len": cat("video_len").astype(np.float32),
        "labels": cat("labels").astype(np.float32),
    }


def to_inputs(arrays, index=None, dtype=torch.float32):
    inputs = {}
    for key, value in arrays.items():
        if key == "labels":
            continue
        v = torch.from_numpy(value if index is None else value[index])
        inputs[key] = v if v.dtype == torch.int64 else v.to(dtype)
    return inputs


def task_logits(model, inputs):
    task_outputs, _ = model.forward_levels(inputs)
    return torch.stack([tower.logit(h) for tower, h in zip(model.towers, task_outputs)], dim=1)


def masked_losses(logits, labels):
    """Per task: BCE over the task's own sample space (labels not NaN), mean over it."""
    losses = []
    for k in range(labels.shape[1]):
        mask = ~torch.isnan(labels[:, k])
        target = torch.where(mask, labels[:, k], torch.zeros_like(labels[:, k]))
        bce = F.binary_cross_entropy_with_logits(logits[:, k], target, reduction="none")
        losses.append((bce * mask).sum() / mask.sum().clamp(min=1))
    return losses


def train(config, arrays):
    torch.manual_seed(SEED)
    model = ref.build_model(config, dtype=torch.float32)  # PyTorch's default initialisation
    with torch.no_grad():
        for name, table in model.embeddings.named_children():
            table.weight.normal_(0.0, 0.3)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    labels = torch.from_numpy(arrays["labels"])
    n = len(labels)
    order_rng = np.random.default_rng([SEED, 2])
    for epoch in range(EPOCHS):
        weights = [LOSS_WEIGHTS[t][0] * LOSS_WEIGHTS[t][1] ** epoch for t in TASKS]
        order = order_rng.permutation(n)
        totals = np.zeros(len(TASKS))
        steps = 0
        for start in range(0, n, BATCH):
            index = order[start:start + BATCH]
            losses = masked_losses(task_logits(model, to_inputs(arrays, index)), labels[index])
            loss = sum(w * l for w, l in zip(weights, losses))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals += [l.item() for l in losses]
            steps += 1
        print(f"epoch {epoch}  loss weights " + " ".join(f"{t} {w:.3f}" for t, w in zip(TASKS, weights))
              + "  mean losses " + " ".join(f"{t} {v:.4f}" for t, v in zip(TASKS, totals / steps)))
    model.eval()
    return model


def task_aucs(outputs, labels):
    report = {}
    for k, task in enumerate(TASKS):
        labelled = ~np.isnan(labels[:, k])
        report[task] = {"labelled": int(labelled.sum()), "positives": int((labels[labelled, k] > 0.5).sum()),
                        "auc": ref.auc(outputs[labelled, k], labels[labelled, k])}
    return report


def request_lines(request, with_labels, new_video=None):
    """A request in ple-run's JSON lines: the request line, then one line per candidate."""
    lines = [json.dumps({"request": {"user_id": request["user_id"],
                                     "history": request["history"].tolist(),
                                     "hour": request["hour"],
                                     "user_activity": request["user_activity"]}})]
    for c in range(len(request["video_id"])):
        video = int(request["video_id"][c])
        if new_video is not None and c == new_video[0]:
            video = new_video[1]  # an id past the vocabulary: the hash policy maps it to a row
        line = {"id": f"v{video}", "video_id": video,
                "video_category": int(request["video_category"][c]),
                "video_quality": [float(v) for v in request["video_quality"][c]],
                "video_len": float(request["video_len"][c])}
        if with_labels:
            line["labels"] = {t: None if np.isnan(v) else int(v)
                              for t, v in zip(TASKS, request["labels"][c])}
        lines.append(json.dumps(line))
    return lines


# Sets that can show a ranking change (docs/quantization.md): more candidates per request than
# any top-k measured, from the same world and candidate rule as training; calibration data for
# choices made at conversion, evaluation data to check them on.
# 120 calibration requests: with 30, `--precision auto:top5=0.995` planned on near-ties that a
# held-out set did not share (docs/quantization.md, "Precision chosen to a budget").
RANKING_SETS = {"calibration.jsonl": ([SEED, 6], 120), "evaluation.jsonl": ([SEED, 7], 40)}
# More held-out sets like evaluation.jsonl, for measurements only (--spare-evaluation-sets DIR).
SPARE_EVALUATION_SETS = {"evaluation-b.jsonl": ([SEED, 8], 40), "evaluation-c.jsonl": ([SEED, 9], 40)}
RANKING_CANDIDATES = 50


def write_ranking_sets(world, out, sets=None):
    for name, (seed, requests) in (sets or RANKING_SETS).items():
        rng = np.random.default_rng(seed)
        lines = []
        for _ in range(requests):
            lines += request_lines(world.request(rng, RANKING_CANDIDATES), with_labels=True)
        with open(os.path.join(out, name), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{name}: {requests} requests x {RANKING_CANDIDATES} candidates with labels")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train and write the example model.")
    parser.add_argument("--out", default="examples/feed")
    parser.add_argument("--ranking-sets-only", action="store_true",
                        help="write only calibration.jsonl and evaluation.jsonl (no training: the world alone)")
    parser.add_argument("--spare-evaluation-sets", metavar="DIR",
                        help="write only two more evaluation sets (other seeds) to DIR, for measurements")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    world = World(np.random.default_rng([SEED, 0]))
    if args.spare_evaluation_sets:
        os.makedirs(args.spare_evaluation_sets, exist_ok=True)
        write_ranking_sets(world, args.spare_evaluation_sets, SPARE_EVALUATION_SETS)
        return 0
    if args.ranking_sets_only:
        write_ranking_sets(world, args.out)
        return 0
    rng = np.random.default_rng([SEED, 1])
    train_requests = [world.request(rng) for _ in range(TRAIN_REQUESTS)]
    arrays = batch_arrays(train_requests)

    config = json.loads(json.dumps(CONFIG))
    features = {f["name"]: f for f in config["features"]}
    activity = np.array([r["user_activity"] for r in train_requests], dtype=np.float64)
    features["user_activity"]["normalize"] = {"mean": round(float(activity.mean()), 4),
                                              "std": round(float(activity.std()), 4)}
    quality = arrays["video_quality"].astype(np.float64)
    features["video_quality"]["normalize"] = {"mean": [round(float(v), 4) for v in quality.mean(axis=0)],
                                              "std": [round(float(v), 4) for v in quality.std(axis=0)]}
    rates = np.nanmean(arrays["labels"], axis=0)
    print(f"training: {len(arrays['labels'])} impressions, click rate {rates[0]:.3f}, share rate "
          f"{rates[1]:.3f} and comment rate {rates[2]:.3f} of clicks")

    model = train(config, arrays)
    weights = {name: t.detach().numpy().astype("<f4") for name, t in model.state_dict().items()}
    with open(os.path.join(args.out, "config.json"), "w") as f:
        f.write(dumps_json(config) + "\n")
    weights_path = os.path.join(args.out, "weights.safetensors")
    safetensors_io.save_file(weights, weights_path, {"format": "pt", "generator": GENERATOR})

    # The float64 reference, from the weights as written.
    stored, _ = safetensors_io.load_file(weights_path)
    model64 = ref.build_model(config, stored)

    large_rng = np.random.default_rng([SEED, 3])
    large = batch_arrays([world.request(large_rng) for _ in range(LARGE_HELDOUT_REQUESTS)])
    with torch.no_grad():
        large_outputs, _ = model64(to_inputs(large, dtype=torch.float64))
    large_report = task_aucs(large_outputs.numpy(), large["labels"].astype(np.float64))
    print(f"held-out ({LARGE_HELDOUT_REQUESTS} requests): " +
          ", ".join(f"{t} AUC {v['auc']:.4f} ({v['labelled']} labelled)" for t, v in large_report.items()))

    # heldout.jsonl: written, then read back the way ple-run reads it, then evaluated.
    heldout_rng = np.random.default_rng([SEED, 4])
    lines = []
    for _ in range(HELDOUT_REQUESTS):
        lines += request_lines(world.request(heldout_rng), with_labels=True)
    with open(os.path.join(args.out, "heldout.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "heldout.jsonl")) as f:
        heldout = ref.read_requests(config, f.read().split("\n"))
    heldout_report = ref.evaluate(model64, heldout)
    print("heldout.jsonl: " + ", ".join(f"{t} AUC {v['auc']:.4f} ({v['labelled']} labelled, "
                                        f"{v['positives']} positive)" for t, v in heldout_report.items()))
    for task in TASKS:
        assert large_report[task]["auc"] >= MIN_AUC and heldout_report[task]["auc"] >= MIN_AUC, \
            f"{task}: held-out AUC below {MIN_AUC}: the example model did not learn the signal"

    # request.jsonl: one request; candidate 3 is a video newer than the vocabulary.
    request = world.request(np.random.default_rng([SEED, 5]))
    new_video = (3, VIDEOS + 17)
    with open(os.path.join(args.out, "request.jsonl"), "w") as f:
        f.write("\n".join(request_lines(request, with_labels=False, new_video=new_video)) + "\n")
    with open(os.path.join(args.out, "request.jsonl")) as f:
        parsed = ref.read_requests(config, f.read().split("\n"))
    assert len(parsed) == 1
    [(outputs, scores)] = ref.score_requests(model64, parsed)
    ids = [c["id"] for c in parsed[0]["candidates"]]
    expected = {
        "model": config["name"],
        "generator": f"tests/reference/make_example.py (torch {torch.__version__}, float64 reference)",
        "request": "request.jsonl: one request line, then 10 candidate lines; candidate i is the i-th "
                   "candidate line; every number is read as float32 and computed in float64",
        "tasks": config["tasks"],
        "score": config["score"],
        "ids": ids,
        "outputs": [dict(zip(TASKS, row)) for row in outputs.tolist()],
        "scores": scores.tolist(),
        "ranking": [ids[i] for i in ref.ranking(scores.tolist())],
        "heldout": {
            "file": "heldout.jsonl",
            "requests": len(heldout),
            "candidates": sum(len(r["candidates"]) for r in heldout),
            "evaluate": "ple-run --evaluate: per task over every candidate with a non-null label of "
                        "every request, AUC of the task's output, ties count one half",
            "tasks": heldout_report,
        },
        "training": {
            "requests": TRAIN_REQUESTS, "candidates_per_request": CANDIDATES, "epochs": EPOCHS,
            "batch": BATCH, "optimizer": f"Adam lr {LEARNING_RATE}",
            "loss_weights": {t: {"w0": w0, "gamma": g} for t, (w0, g) in LOSS_WEIGHTS.items()},
            "large_heldout": {"requests": LARGE_HELDOUT_REQUESTS, "tasks": large_report},
        },
    }
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        f.write(dumps_json(expected, width=120) + "\n")
    for i in ref.ranking(scores.tolist()):
        print(f"{ids[i]:>5}: score {scores[i]:.6f}  " +
              "  ".join(f"{t} {v:.6f}" for t, v in zip(TASKS, outputs[i])))
    write_ranking_sets(world, args.out)
    write_readme(args.out, heldout_report)
    return 0


def write_readme(out, report):
    text = f"""# Example model: a small video-feed ranker

`config.json` + `weights.safetensors`: a 2-level PLE (1 specific + 2 shared experts [32] per level, towers [16]) with three binary tasks on a funnel, click -> share -> comment, and the ranking score click * share^0.5 * comment^0.5 * log1p(video_len). Features: request-scope `user_id`, `history` (the user's recent video ids, mean-pooled, padding id 0, sharing the video table), `hour`, `user_activity`; candidate-scope `video_id` (ids past the vocabulary are hashed), `video_category`, `video_quality`; extra `video_len` (seconds).

Trained on synthetic data with a known signal (user taste vs category, history overlap, quality, popularity, hour, activity): {TRAIN_REQUESTS} requests x {CANDIDATES} candidates, {EPOCHS} epochs of Adam in float32 on one thread. Share and comment are observed only on clicked impressions; each task's loss covers its own sample space (others masked) and the loss weights follow w_k(t) = w_k0 * gamma_k^t per epoch (click 1.0 * 0.95^t, share and comment 0.5 * 1.1^t).

`calibration.jsonl` and `evaluation.jsonl`: {RANKING_SETS["calibration.jsonl"][1]} and {RANKING_SETS["evaluation.jsonl"][1]} requests x {RANKING_CANDIDATES} candidates with labels from the same world, for choices made at conversion and for checking a quantized model's ranking (docs/quantization.md); `--ranking-sets-only` writes just these.

`request.jsonl`: one request and 10 candidates in `ple-run`'s JSON lines (docs/ple-run.md; candidate v{VIDEOS + 17} is past the vocabulary). `heldout.jsonl`: {HELDOUT_REQUESTS} requests x {CANDIDATES} candidates with labels (null outside a task's sample space); reference AUC click {report['click']['auc']:.3f}, share {report['share']['auc']:.3f}, comment {report['comment']['auc']:.3f}. `expected.json`: the float64 PyTorch reference's outputs, scores and ranking for `request.jsonl` and its AUCs on `heldout.jsonl`.

Regenerate (deterministic on one machine): `/usr/bin/python3 tests/reference/make_example.py --out examples/feed`.
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
