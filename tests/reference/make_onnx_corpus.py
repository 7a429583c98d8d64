#!/usr/bin/python3
"""The ONNX import corpus (docs/importing.md, "ONNX"): models exported the way users export
them, with ONNX Runtime's outputs on random inputs. Writes tests/onnx_corpus/<name>/model.onnx
and expected.json ({"producer", "opset", "inputs": {name: {shape, values}}, "outputs": ...});
both are committed, so the tests need neither torch nor ONNX Runtime.

  /usr/bin/python3 tests/reference/make_onnx_corpus.py      # Debian's python3-torch, python3-onnx
  (ONNX Runtime: bench/peers/setup.sh installs onnxruntime-node into build/peers/node_modules)

The plain PyTorch models are written as a user would write a PLE/MMoE, in three styles of the
gates' weighted sum: stack + softmax + sum, bmm, einsum; and one with BatchNorm1d after the
experts' Linear layers (small running variances, so that its epsilon matters).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "onnx_corpus")
NODE_PATH = os.path.join(ROOT, "build", "peers", "node_modules")


def mlp(sizes, batch_norm=False, activation=nn.ReLU):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b)] + ([nn.BatchNorm1d(b)] if batch_norm else []) + [activation()]
    return nn.Sequential(*layers)


def trained_batch_norms(model, rng):
    """Running statistics as training leaves them: small variances, so that the epsilon
    matters (an importer that dropped it would be caught)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.copy_(torch.tensor(rng.normal(0, 0.3, m.num_features), dtype=torch.float32))
            m.running_var.copy_(torch.tensor(rng.uniform(2e-5, 1e-3, m.num_features), dtype=torch.float32))
            m.weight.data.copy_(torch.tensor(rng.uniform(0.5, 1.5, m.num_features), dtype=torch.float32))
            m.bias.data.copy_(torch.tensor(rng.normal(0, 0.1, m.num_features), dtype=torch.float32))


def weighted_sum(style, gate, experts):
    """gate [B, E] (softmax weights), experts: list of [B, D] -> [B, D]."""
    stacked = torch.stack(experts, dim=1)  # [B, E, D]
    if style == "stack":
        return (gate.unsqueeze(-1) * stacked).sum(dim=1)
    if style == "bmm":
        return torch.bmm(gate.unsqueeze(1), stacked).squeeze(1)
    if style == "einsum":
        return torch.einsum("be,bed->bd", gate, stacked)
    raise ValueError(style)


class PlainMMoE(nn.Module):
    """MMoE: shared experts, one softmax gate per task, towers with a sigmoid head."""

    def __init__(self, style, inputs=12, experts=3, expert_sizes=(16, 8), tasks=2, tower=(6,), batch_norm=False,
                 activation=nn.ReLU):
        super().__init__()
        self.style = style
        self.experts = nn.ModuleList(mlp((inputs,) + expert_sizes, batch_norm, activation) for _ in range(experts))
        self.gates = nn.ModuleList(nn.Linear(inputs, experts) for _ in range(tasks))
        self.towers = nn.ModuleList(nn.Sequential(mlp((expert_sizes[-1],) + tower), nn.Linear(tower[-1], 1))
                                    for _ in range(tasks))

    def forward(self, x):
        outs = [e(x) for e in self.experts]
        results = []
        for gate, tower in zip(self.gates, self.towers):
            mixed = weighted_sum(self.style, torch.softmax(gate(x), dim=1), outs)
            results.append(torch.sigmoid(tower(mixed)))
        return tuple(results)


class PlainPLE(nn.Module):
    """Two CGC levels (per task: specific experts and a gate over them and the shared ones; a
    shared gate at the first level), then towers: the task 0 head is binary, task 1 regression."""

    def __init__(self, style, inputs=10, width=8, tasks=2, specific=1, shared=2):
        super().__init__()
        self.style, self.tasks, self.specific, self.shared = style, tasks, specific, shared
        self.levels = nn.ModuleList()
        for level in range(2):
            d_in = inputs if level == 0 else width
            m = nn.Module()
            m.specific = nn.ModuleList(nn.ModuleList(mlp((d_in, width)) for _ in range(specific)) for _ in range(tasks))
            m.shared = nn.ModuleList(mlp((d_in, width)) for _ in range(shared))
            m.gates = nn.ModuleList(nn.Linear(d_in, specific + shared) for _ in range(tasks))
            m.shared_gate = nn.Linear(d_in, tasks * specific + shared) if level == 0 else None
            self.levels.append(m)
        self.towers = nn.ModuleList(nn.Sequential(mlp((width, 4)), nn.Linear(4, 1)) for _ in range(tasks))

    def forward(self, x):
        streams = [x] * (self.tasks + 1)
        for m in self.levels:
            specific = [[e(streams[t]) for e in m.specific[t]] for t in range(self.tasks)]
            shared = [e(streams[self.tasks]) for e in m.shared]
            nxt = []
            for t in range(self.tasks):
                gate = torch.softmax(m.gates[t](streams[t]), dim=1)
                nxt.append(weighted_sum(self.style, gate, specific[t] + shared))
            if m.shared_gate is not None:
                gate = torch.softmax(m.shared_gate(streams[self.tasks]), dim=1)
                nxt.append(weighted_sum(self.style, gate, [o for s in specific for o in s] + shared))
            streams = nxt + [None] if m.shared_gate is None else nxt
        return torch.sigmoid(self.towers[0](streams[0])), self.towers[1](streams[1])


class PlainFeaturesPLE(nn.Module):
    """A user's own PLE with its feature layer, inputs as separate tensors: nn.Embedding lookups
    of a user id and an item id, a padded history of item ids (padding 0) mean-pooled by hand
    with a mask and clamp(min=1) (exported as Equal, Not, Cast, ReduceSum, Clip, Div), a tag list
    sum-pooled without a mask (its padding row is zero), dense floats. `masked_fill`: the history
    masked by masked_fill (exported as Where) instead of a multiplication, and the dense floats
    through a BatchNorm1d (trained statistics, one negative scale) before the concatenation."""

    def __init__(self, style="einsum", masked_fill=False):
        super().__init__()
        self.masked_fill = masked_fill
        self.dense_bn = nn.BatchNorm1d(3) if masked_fill else None
        self.user = nn.Embedding(50, 6)
        self.item = nn.Embedding(80, 6)
        self.tag = nn.Embedding(20, 4, padding_idx=0)
        self.net = PlainPLE(style, inputs=6 + 6 + 6 + 4 + 3)

    def forward(self, user_id, history, item_id, tags, dense):
        if self.masked_fill:
            valid = history != 0
            pooled = self.item(history).masked_fill(~valid.unsqueeze(-1), 0.0).sum(dim=1)
            pooled = pooled / valid.sum(dim=1, keepdim=True).clamp(min=1)
        else:
            mask = (history != 0).float()  # [B, L]
            pooled = (self.item(history) * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)
        if self.dense_bn is not None:
            dense = self.dense_bn(dense)
        x = torch.cat([self.user(user_id), pooled, self.item(item_id), self.tag(tags).sum(dim=1), dense], dim=1)
        return self.net(x)


FEATURE_INPUTS = {  # name: (shape after the batch, vocabulary; 0: float)
    "user_id": ((), 50), "history": ((10,), 80), "item_id": ((), 80), "tags": ((5,), 20), "dense": ((3,), 0),
}


def feature_batch(rng, rows, requests=2):
    """Rows of `requests` requests: user_id and history equal within a request; histories and
    tags padded with 0 after a random number of ids (a history may be empty)."""
    batch = {}
    for name, (shape, vocabulary) in FEATURE_INPUTS.items():
        if vocabulary == 0:
            batch[name] = rng.standard_normal((rows,) + shape).astype(np.float32)
        else:
            v = rng.integers(1, vocabulary, (rows,) + shape).astype(np.int64)
            if shape:
                for r in range(rows):
                    v[r, rng.integers(0, shape[0] + 1):] = 0
            batch[name] = v
    for name in ("user_id", "history"):
        for r in range(rows):
            batch[name][r] = batch[name][r - r % (rows // requests)]
    return batch


def export_features(name, model, opset, output_names, sidecar):
    torch.manual_seed(0)
    directory = os.path.join(CORPUS, name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "model.onnx")
    model.eval()
    rng = np.random.default_rng(len(name))
    example = feature_batch(rng, 4)
    names = list(FEATURE_INPUTS)
    torch.onnx.export(model, tuple(torch.from_numpy(example[n]) for n in names), path, input_names=names,
                      output_names=output_names, opset_version=opset,
                      dynamic_axes={**{n: {0: "batch"} for n in names}, **{o: {0: "batch"} for o in output_names}})
    batch = feature_batch(rng, 12)
    given = {n: {"shape": list(v.shape), "dtype": "float32" if v.dtype == np.float32 else "int64",
                 "values": v.ravel().tolist()} for n, v in batch.items()}
    write_expected(directory, path, given, f"torch {torch.__version__}, torch.onnx.export opset {opset}", opset)
    with open(os.path.join(directory, "sidecar.json"), "w") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")
    print(f"make_onnx_corpus: {name}: opset {opset}, {os.path.getsize(path)} bytes")


def keras_style_mmoe(path, inputs=8, width=6, experts=3, tasks=("click", "like"), opset=13):
    """An MMoE graph as tf2onnx writes a Keras model: MatMul by [in, out] kernels then Add,
    Identity nodes on the weights, ExpandDims as Unsqueeze, Softmax on the last axis, tensor
    names with ':0'. Built with python3-onnx (tf2onnx itself is not in Debian)."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(5)
    nodes, inits = [], []

    def dense(x, n_in, n_out, name, activation=None):
        kernel = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        bias = (0.1 * rng.standard_normal(n_out)).astype(np.float32)
        inits.extend([numpy_helper.from_array(kernel, f"{name}/kernel:0"), numpy_helper.from_array(bias, f"{name}/bias:0")])
        nodes.append(helper.make_node("Identity", [f"{name}/kernel:0"], [f"{name}/MatMul/ReadVariableOp:0"]))
        nodes.append(helper.make_node("MatMul", [x, f"{name}/MatMul/ReadVariableOp:0"], [f"{name}/MatMul:0"]))
        nodes.append(helper.make_node("Add", [f"{name}/MatMul:0", f"{name}/bias:0"], [f"{name}/BiasAdd:0"]))
        if activation is None:
            return f"{name}/BiasAdd:0"
        nodes.append(helper.make_node(activation, [f"{name}/BiasAdd:0"], [f"{name}/{activation}:0"]))
        return f"{name}/{activation}:0"

    axis = numpy_helper.from_array(np.array([1], dtype=np.int64), "const_axes_1:0")
    last = numpy_helper.from_array(np.array([-1], dtype=np.int64), "const_axes_last:0")
    inits.extend([axis, last])
    expert_outs = [dense("input_1:0", inputs, width, f"expert_{e}", "Relu") for e in range(experts)]
    for e, out in enumerate(expert_outs):
        nodes.append(helper.make_node("Unsqueeze", [out, "const_axes_1:0"], [f"expand_{e}:0"]))
    nodes.append(helper.make_node("Concat", [f"expand_{e}:0" for e in range(experts)], ["stack:0"], axis=1))
    outputs = []
    for t, task in enumerate(tasks):
        logits = dense("input_1:0", inputs, experts, f"gate_{t}")
        nodes.append(helper.make_node("Softmax", [logits], [f"gate_{t}/Softmax:0"], axis=-1))
        nodes.append(helper.make_node("Unsqueeze", [f"gate_{t}/Softmax:0", "const_axes_last:0"], [f"gate_{t}/ExpandDims:0"]))
        nodes.append(helper.make_node("Mul", ["stack:0", f"gate_{t}/ExpandDims:0"], [f"mix_{t}/mul:0"]))
        nodes.append(helper.make_node("ReduceSum", [f"mix_{t}/mul:0", "const_axes_1:0"], [f"mix_{t}/Sum:0"], keepdims=0))
        hidden = dense(f"mix_{t}/Sum:0", width, 4, f"tower_{t}", "Relu")
        logit = dense(hidden, 4, 1, f"head_{t}")
        nodes.append(helper.make_node("Sigmoid", [logit], [f"{task}/Sigmoid:0"]))
        outputs.append(helper.make_tensor_value_info(f"{task}/Sigmoid:0", TensorProto.FLOAT, ["unk__0", 1]))
    graph = helper.make_graph(nodes, "tf2onnx", [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT,
                                                                               ["unk__0", inputs])], outputs, inits)
    model = helper.make_model(graph, producer_name="tf2onnx-style (python3-onnx)", opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


class Refused(nn.Module):
    """Models outside the family, each refused naming a node: `kind` says which."""

    def __init__(self, kind, inputs=8, width=6, experts=3):
        super().__init__()
        self.kind = kind
        self.experts = nn.ModuleList(mlp((inputs, width)) for _ in range(experts))
        self.gate = nn.Linear(inputs, experts)
        self.one_logit_gate = nn.Linear(inputs, 1)
        self.query, self.key = nn.Linear(width, width), nn.Linear(width, width)
        self.tower = nn.Linear(width, 1)

    def forward(self, x):
        outs = [e(x) for e in self.experts]
        stacked = torch.stack(outs, dim=1)  # [B, E, D]
        logits = self.gate(x)
        if self.kind == "attention":  # experts attending to each other
            q, k = self.query(stacked), self.key(stacked)
            mixed = torch.softmax(q @ k.transpose(1, 2), dim=-1) @ stacked
            mixed = mixed.sum(dim=1)
        elif self.kind == "sigmoid_gate":  # a gate without softmax
            mixed = (torch.sigmoid(logits).unsqueeze(-1) * stacked).sum(dim=1)
        elif self.kind == "where_on_data":
            weights = torch.softmax(logits, dim=1)
            mixed = (weights.unsqueeze(-1) * stacked).sum(dim=1)
            mixed = torch.where(mixed > 0.5, mixed, 0.5 * mixed)
        elif self.kind == "top1_gate":  # a dynamic choice of experts
            weights = torch.softmax(logits, dim=1)
            top = torch.topk(weights, 1, dim=1)
            mixed = (torch.zeros_like(weights).scatter(1, top.indices, top.values).unsqueeze(-1) * stacked).sum(dim=1)
        elif self.kind == "max_pooling":  # experts pooled by max, not by a gate
            mixed = stacked.max(dim=1).values
        elif self.kind == "sliced_experts":  # a gate of 3 weights over 2 of the 3 experts
            weights = torch.softmax(logits, dim=1)
            mixed = (weights[:, :2].unsqueeze(-1) * stacked[:, :2]).sum(dim=1)
        elif self.kind == "dynamic_expert_count":  # as many experts as the data says
            n = torch.clamp((x[:, 0] > 0).sum(), 1, 3)
            weights = torch.softmax(logits[:, :n], dim=1)
            mixed = (weights.unsqueeze(-1) * stacked[:, :n]).sum(dim=1)
        elif self.kind == "mismatched_shape":  # one gate weight broadcast over 3 experts
            weights = torch.softmax(self.one_logit_gate(x), dim=1)
            mixed = (weights.unsqueeze(-1) * stacked).sum(dim=1)
        else:
            raise ValueError(self.kind)
        return torch.sigmoid(self.tower(mixed))


class RefusedFeatures(nn.Module):
    """Feature layers outside the family: `kind` says which. Inputs: ids [B, 6] padded with 0,
    their count [B], dense [B, 4]."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.table = nn.Embedding(30, 4)
        self.experts = nn.ModuleList(mlp((8, 6)) for _ in range(2))
        self.gate = nn.Linear(8, 2)
        self.tower = nn.Linear(6, 1)

    def forward(self, ids, length, dense):
        emb = self.table(ids)  # [B, 6, 4]
        if self.kind == "sequence_max_pooling":
            pooled = emb.max(dim=1).values
        elif self.kind == "length_mask":  # positions below a length input, not ids unequal to a padding id
            mask = (torch.arange(6).unsqueeze(0) < length.unsqueeze(1)).float()
            pooled = (emb * mask.unsqueeze(-1)).sum(dim=1)
        elif self.kind == "hashed_ids":  # ids taken modulo the vocabulary before the lookup
            pooled = self.table(ids % 30).sum(dim=1)
        elif self.kind == "where_on_dense":
            pooled = emb.sum(dim=1)
            dense = torch.where(dense > 0, dense, torch.zeros_like(dense))
        else:
            raise ValueError(self.kind)
        x = torch.cat([pooled, dense], dim=1)
        stacked = torch.stack([e(x) for e in self.experts], dim=1)
        mixed = (torch.softmax(self.gate(x), dim=1).unsqueeze(-1) * stacked).sum(dim=1)
        return torch.sigmoid(self.tower(mixed))


REFUSALS = {  # kind -> what the refusal says: the node's op and what was expected there
    "attention": "(MatMul): expected a Linear",
    "sigmoid_gate": "(Unsqueeze): expected a gate's weights here, which must be a Softmax",
    "where_on_data": "(Greater): op Greater on the model's values is outside the PLE family",
    "top1_gate": "(TopK): op TopK on the model's values is outside the PLE family",
    "max_pooling": "(ReduceMax): op ReduceMax on the model's values is outside the PLE family",
    "sliced_experts": "(Slice): op Slice on the model's values is outside the PLE family",
    "dynamic_expert_count": "(Greater): op Greater on the float values of input 'features' [0:1]",
    "mismatched_shape": "(ReduceSum): a gate of 1 logits weighs 3 experts",
}
FEATURE_REFUSALS = {
    "sequence_max_pooling": "(ReduceMax): pools a sequence by ReduceMax",
    "length_mask": "(Mul): masks input 'ids''s embeddings by input 'length'",
    "hashed_ids": "(Gather): looks up ids computed from input 'ids'",
    "where_on_dense": "(Greater): op Greater on the float values of input 'dense'",
}


def export_refused(kind):
    torch.manual_seed(4)
    directory = os.path.join(CORPUS, "refused", kind)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "model.onnx")
    if kind in REFUSALS:
        model, says = Refused(kind).eval(), REFUSALS[kind]
        example, names = (torch.randn(5, 8),), ["features"]
    else:
        model, says = RefusedFeatures(kind).eval(), FEATURE_REFUSALS[kind]
        example, names = (torch.randint(0, 30, (5, 6)), torch.randint(0, 7, (5,)), torch.randn(5, 4)), ["ids", "length", "dense"]
    torch.onnx.export(model, example, path, input_names=names, output_names=["click"], opset_version=13,
                      dynamic_axes={**{n: {0: "batch"} for n in names}, "click": {0: "batch"}})
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump({"producer": f"torch {torch.__version__}, torch.onnx.export opset 13", "refused": says}, f)
        f.write("\n")
    print(f"make_onnx_corpus: refused/{kind}: {os.path.getsize(path)} bytes")


def export(name, model, inputs, opset, output_names, input_name="features", producer=None):
    """`model`: a torch module exported here, or a function writing the ONNX file itself."""
    torch.manual_seed(0)
    directory = os.path.join(CORPUS, name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "model.onnx")
    if isinstance(model, nn.Module):
        model.eval()
        x = torch.randn(5, inputs)
        torch.onnx.export(model, (x,), path, input_names=[input_name], output_names=output_names, opset_version=opset,
                          dynamic_axes={input_name: {0: "batch"}, **{o: {0: "batch"} for o in output_names}})
        producer = f"torch {torch.__version__}, torch.onnx.export opset {opset}"
    else:
        model(path)
    rng = np.random.default_rng(len(name))
    batch = rng.standard_normal((7, inputs)).astype(np.float32)
    given = {input_name: {"shape": list(batch.shape), "values": [float(v) for v in batch.ravel()]}}
    write_expected(directory, path, given, producer, opset)
    print(f"make_onnx_corpus: {name}: opset {opset}, {os.path.getsize(path)} bytes")


def run_onnx_runtime(path, given):
    """ONNX Runtime's outputs ({name: {shape, values}}) for the inputs `given` (tests/reference/ort_run.js)."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "in.json"), "w") as f:
            json.dump(given, f)
        subprocess.run(["node", os.path.join(ROOT, "tests", "reference", "ort_run.js"), path,
                        os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")],
                       env=dict(os.environ, NODE_PATH=NODE_PATH), check=True)
        with open(os.path.join(tmp, "out.json")) as f:
            return json.load(f)


def write_expected(directory, path, given, producer, opset):
    """ONNX Runtime's outputs for `given` into expected.json."""
    outputs = run_onnx_runtime(path, given)
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump({"producer": producer,
                   "outputs_from": "ONNX Runtime (onnxruntime-node), float32",
                   "opset": opset, "inputs": given, "outputs": outputs}, f)
        f.write("\n")


def main():
    if not os.path.isdir(NODE_PATH):
        sys.exit("make_onnx_corpus: run bench/peers/setup.sh first (onnxruntime-node)")
    for style, opset in (("stack", 13), ("bmm", 11), ("einsum", 17)):
        torch.manual_seed(1)
        export(f"plain_mmoe_{style}", PlainMMoE(style), 12, opset, ["click", "like"])
        torch.manual_seed(2)
        export(f"plain_ple_{style}", PlainPLE(style), 10, opset, ["ctr", "watch_time"])
    torch.manual_seed(3)
    model = PlainMMoE("stack", batch_norm=True)
    with torch.no_grad():
        trained_batch_norms(model, np.random.default_rng(3))
    export("plain_mmoe_batchnorm", model, 12, 13, ["click", "like"])
    torch.manual_seed(6)
    export("plain_mmoe_silu", PlainMMoE("stack", activation=nn.SiLU), 12, 13, ["click", "like"])
    export("keras_style_mmoe", keras_style_mmoe, 8, 13, None, input_name="input_1:0",
           producer="tf2onnx-style graph built with python3-onnx, opset 13")
    torch.manual_seed(7)
    export_features("plain_ple_features", PlainFeaturesPLE(), 17, ["ctr", "watch_time"],
                    {"name": "plain_ple_features", "tasks": ["ctr", "watch_time"],
                     "features": {"user_id": {"scope": "request"}, "history": {"scope": "request"},
                                  "tags": {"oov": {"oov_row": 0}}}})
    torch.manual_seed(8)
    model = PlainFeaturesPLE("bmm", masked_fill=True)
    with torch.no_grad():
        trained_batch_norms(model.dense_bn, np.random.default_rng(8))
        model.dense_bn.weight[1] = -0.8
    export_features("plain_ple_features_masked_fill", model, 12,
                    ["ctr", "watch_time"], {"features": {"user_id": {"scope": "request"}, "history": {"scope": "request"}}})
    for kind in list(REFUSALS) + list(FEATURE_REFUSALS):
        export_refused(kind)


if __name__ == "__main__":
    main()
