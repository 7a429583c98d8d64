#!/usr/bin/python3
"""Exports one bench model for the peers, and one fixed input set that every runtime scores.

    /usr/bin/python3 bench/peers/export.py --config bench/models/bench-m.json \
        --weights build/bench/models/bench-m.safetensors --out build/peers/bench-m \
        [--candidates 1000] [--seed 1] [--int8-weights per-tensor|per-column]
    /usr/bin/python3 bench/peers/export.py --identity build/peers/identity.onnx

The model is tests/reference/ple_reference.py's PLE (imported, not copied) built in float32
from the same safetensors the converter reads. OUT receives:
  model-f32.onnx   torch.onnx.export, opset 13, dynamic batch axis. Input configs (bench-s,
                   bench-m-dense, bench-l) take one float input `x` [N, width]. bench-m's
                   feature layer is in the graph: Gather per table, masked mean of the history;
                   request-level ids and values are given on every row (ONNX Runtime has no
                   request context), packed per scope and kind (see `graph_inputs`).
  model-int8.onnx  ONNX Runtime's dynamic int8 quantization of that graph, written here by hand
                   with python3-onnx because ORT's python quantize_dynamic is not installable:
                   the graph quantize_dynamic writes in its default QOperator form, see
                   `quantize_dynamic_int8`. The embedding tables stay float32.
  model.pt         TorchScript (torch.jit.trace) of the same float32 module.
  inputs.npz       the arrays each peer feeds (graph input names -> [N, ...]), N candidates of
                   one request; plus `extra.<name>` arrays ple-run needs for the ranking score.
  request.jsonl    the same values in ple-run's JSON lines (docs/ple-run.md): one request line
                   with the request-scope features, then N candidate lines.
  reference.npz    `outputs` [N, T] float64: tests/reference's float64 forward on these inputs
                   (through the reference's own feature layer, not this graph's).
  meta.json        model name, tasks, input names / dtypes / shapes, file sizes, the check
                   below, the seed.

Values: dense ~ N(0, 1) as float32; sparse ids uniform in [0, vocabulary); history ids uniform
in [1, vocabulary) (0 is the padding id, skipped by every runtime) with a length uniform in
1..max_length, padded with the padding id to max_length; extras (video_len) uniform in
[1, 600). Request-level values are drawn once and repeated on every row.

Before writing, ONNX Runtime is not available to python here: the f32 graph is checked against
the float64 reference by accuracy.py (through node). This script checks the TorchScript module
and the float32 torch module against the reference (printed, and stored in meta.json).
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

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))
import ple_reference  # noqa: E402  (the project's float64 reference: imported, never copied)
import safetensors_io  # noqa: E402

OPSET = 13


# ----------------------------------------------------------------------------------------
# The module that is exported: the reference's levels and towers, fed either x or bench-m's
# features through a tensor-only feature layer (the reference's own feature layer checks
# values in python, which a trace cannot keep).
# ----------------------------------------------------------------------------------------

def graph_inputs(model):
    """The graph's inputs for a model built from `features`, in order:
    [(input name, kind, [(feature, column or None)])]. Sparse ids and dense values are packed
    per scope (`request_ids` [N, S], `request_dense` [N, W], `candidate_ids`,
    `candidate_dense`); every sequence is its own input [N, max_length] named after it."""
    groups = {}
    order = []
    for f in model.features:
        if f["kind"] == "sequence":
            key = f["name"]
        else:
            key = f"{f['scope']}_{'ids' if f['kind'] == 'sparse' else 'dense'}"
        if key not in groups:
            groups[key] = (f["kind"], [])
            order.append(key)
        groups[key][1].append(f)
    return [(key, groups[key][0], groups[key][1]) for key in order]


class FeatureGraph(nn.Module):
    """bench-m's feature layer as tensor ops, then the reference's levels and towers.

    Contract (what the inputs must satisfy, because nothing is checked in the graph): sparse
    ids are inside the vocabulary (so the config's `hash` oov policy is the identity), sequence
    ids are in range or the padding id, which ends the sequence and is skipped (mean over the
    other ids; 0 ids -> zeros, as the reference), dense values are finite and not normalized
    (bench-m has no `normalize`)."""

    def __init__(self, reference):
        super().__init__()
        self.reference = reference
        self.inputs = graph_inputs(reference)
        for f in reference.features:
            if f["kind"] == "dense" and f["normalize"] is not None:
                raise SystemExit(f"export.py: feature {f['name']}: normalize is not exported")
            if f["kind"] == "sequence" and f["padding_id"] is None:
                raise SystemExit(f"export.py: feature {f['name']}: a sequence without padding_id "
                                 "needs lengths, not exported")
            if f["kind"] != "dense" and reference.table_dtype[f["table"]] != "f32":
                raise SystemExit(f"export.py: table {f['table']}: only f32 tables are exported")
        self.input_names = [name for name, _, _ in self.inputs]

    def forward(self, *tensors):
        by_feature = {}
        for (name, kind, feats), t in zip(self.inputs, tensors):
            offset = 0
            for column, f in enumerate(feats):
                if kind == "dense":
                    by_feature[f["name"]] = t[:, offset:offset + f["width"]]
                    offset += f["width"]
                    continue
                table = self.reference.embeddings[f["table"]].weight
                if kind == "sparse":
                    by_feature[f["name"]] = F.embedding(t[:, column], table)
                else:
                    mask = (t != f["padding_id"]).to(table.dtype)          # [N, L]
                    pooled = (F.embedding(t, table) * mask[:, :, None]).sum(dim=1)
                    if f["pooling"] == "mean":
                        count = mask.sum(dim=1, keepdim=True)
                        pooled = pooled / torch.where(count > 0, count + f["mean_eps"],
                                                      torch.ones_like(count))
                    by_feature[f["name"]] = pooled
        x = torch.cat([by_feature[f["name"]] for f in self.reference.features], dim=1)
        return self.reference(x)[0]


class InputGraph(nn.Module):
    """An `inputs` config: x [N, width] -> outputs [N, T]."""

    def __init__(self, reference):
        super().__init__()
        self.reference = reference
        self.input_names = ["x"]

    def forward(self, x):
        return self.reference(x)[0]


# ----------------------------------------------------------------------------------------
# The input set.
# ----------------------------------------------------------------------------------------

def draw_inputs(model, n, seed):
    """Returns (graph arrays {input name: array [n, ...]}, request values {feature: value},
    candidate values [{feature or extra: value}], reference dict or tensor)."""
    rng = np.random.default_rng(seed)
    request, candidates = {}, [dict() for _ in range(n)]
    columns = {}  # feature name -> [n, ...] array as the graph / reference sees it
    for f in model.features:
        if f["kind"] == "dense":
            rows = 1 if f["scope"] == "request" else n
            v = rng.standard_normal((rows, f["width"])).astype(np.float32)
            columns[f["name"]] = np.repeat(v, n, axis=0) if rows == 1 else v
            values = [r.tolist() if f["width"] > 1 else float(r[0]) for r in v]
        elif f["kind"] == "sparse":
            rows = 1 if f["scope"] == "request" else n
            v = rng.integers(0, f["vocabulary"], size=rows, dtype=np.int64)
            columns[f["name"]] = np.repeat(v, n) if rows == 1 else v
            values = [int(i) for i in v]
        else:
            if f["scope"] != "request":
                raise SystemExit("export.py: candidate-scope sequences are not drawn")
            length = int(rng.integers(1, f["max_length"] + 1))
            low = 1 if f["padding_id"] == 0 else 0
            ids = rng.integers(low, f["vocabulary"], size=length, dtype=np.int64)
            if f["padding_id"] is not None:
                ids[ids == f["padding_id"]] = (f["padding_id"] + 1) % f["vocabulary"]
            padded = np.full((1, f["max_length"]), f["padding_id"], dtype=np.int64)
            padded[0, :length] = ids
            columns[f["name"]] = np.repeat(padded, n, axis=0)
            columns[f["name"] + ".lengths"] = np.full(n, length, dtype=np.int64)
            values = [[int(i) for i in ids]]
        if f["scope"] == "request":
            request[f["name"]] = values[0]
        else:
            for c in range(n):
                candidates[c][f["name"]] = values[c]
    extras = {}
    for e in model.extras:
        v = rng.uniform(1.0, 600.0, size=n).astype(np.float32)
        extras[e] = v
        for c in range(n):
            candidates[c][e] = float(v[c])
    return columns, extras, request, candidates


def graph_arrays(model, columns):
    if not model.resolved["inputs"]:
        arrays = {}
        for name, kind, feats in graph_inputs(model):
            if kind == "sparse":
                arrays[name] = np.stack([columns[f["name"]] for f in feats], axis=1)
            elif kind == "dense":
                arrays[name] = np.concatenate([columns[f["name"]] for f in feats], axis=1)
            else:
                arrays[name] = columns[feats[0]["name"]]
        return arrays
    return {"x": np.concatenate([columns[f["name"]] for f in model.features], axis=1)}


def input_scope(model, name):
    """"request", "candidate" or "mixed": which features a graph input holds."""
    if model.resolved["inputs"]:
        feats = model.features
    else:
        feats = next(f for key, _, f in graph_inputs(model) if key == name)
    scopes = {f["scope"] for f in feats}
    return scopes.pop() if len(scopes) == 1 else "mixed"


def reference_input(model, columns, extras):
    if model.resolved["inputs"]:
        x = np.concatenate([columns[f["name"]] for f in model.features], axis=1)
        return torch.from_numpy(x.astype(np.float64))
    feed = {}
    for name, value in columns.items():
        feed[name] = torch.from_numpy(value.astype(np.float64) if value.dtype == np.float32 else value)
    for name, value in extras.items():
        feed[name] = torch.from_numpy(value.astype(np.float64))
    return feed


def write_request(path, request, candidates):
    """ple-run JSON lines. float32 values are written as the exact double they equal, so a
    reader parsing to double then float32 gets the same bits."""
    with open(path, "w") as out:
        if request:
            out.write(json.dumps({"request": request}, separators=(",", ":")) + "\n")
        for c, cand in enumerate(candidates):
            out.write(json.dumps(dict({"id": c}, **cand), separators=(",", ":")) + "\n")


# ----------------------------------------------------------------------------------------
# int8: ONNX Runtime's dynamic quantization, by hand.
# ----------------------------------------------------------------------------------------

def quantize_dynamic_int8(f32_path, int8_path, per_column):
    """Writes the graph ORT's `quantize_dynamic(weight_type=QInt8)` writes in its default
    QOperator form (IntegerOps), built here node by node:
        every Gemm (transA=0, alpha=beta=1) or MatMul whose weight is an initializer becomes
          DynamicQuantizeLinear(A) -> A_q uint8, A_scale, A_zero   (one per activation tensor,
                                                                   shared by its consumers)
          MatMulInteger(A_q, W_q int8 [K, N], A_zero, W_zero = 0)  -> int32
          Cast(float) ; Mul(that, Mul(A_scale, W_scale))           (one scale Mul per weight)
          Add(that, bias)                                          (Gemm with a bias)
        W_q = round(W / W_scale) in [-127, 127], W_scale = max|W| / 127 per tensor (ORT's
        symmetric int8 default), or per output column with per_column=True (ORT's
        per_channel=True).
    ORT's optimizer (graphOptimizationLevel 'all') fuses MatMulInteger+Cast+Mul(+Add) into the
    com.microsoft MatMulIntegerToFloat contrib op, and into DynamicQuantizeMatMul where a
    DynamicQuantizeLinear feeds a single MatMulInteger; ort_bench.js --optimized-out shows it.
    The activation scale is one per DynamicQuantizeLinear call, i.e. per batch: scores depend
    on the batch (accuracy.py measures it). Embedding Gathers stay float32.
    Returns {"quantized": count, "kept_float": [op types of matmuls left float]}."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    model = onnx.load(f32_path)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    new_nodes, new_inits = [], []
    dql_of = {}          # activation tensor name -> (A_q, A_scale, A_zero)
    used = {}            # initializer name -> consumers left in the new graph
    quantized, kept = 0, []

    def fresh(base):
        fresh.count += 1
        return f"{base}_q{fresh.count}"
    fresh.count = 0

    def attr(node, name, default):
        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    for node in graph.node:
        weight_name = node.input[1] if len(node.input) > 1 else None
        is_gemm = node.op_type == "Gemm"
        if node.op_type not in ("Gemm", "MatMul") or weight_name not in inits:
            if node.op_type in ("Gemm", "MatMul"):
                kept.append(node.op_type)
            new_nodes.append(node)
            continue
        if is_gemm and (attr(node, "transA", 0) != 0 or attr(node, "alpha", 1.0) != 1.0
                        or attr(node, "beta", 1.0) != 1.0):
            kept.append("Gemm")
            new_nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[weight_name]).astype(np.float32)
        if w.ndim != 2:
            kept.append(node.op_type)
            new_nodes.append(node)
            continue
        if is_gemm and attr(node, "transB", 0):
            w = w.T                                    # [K, N] as MatMulInteger reads it
        w = np.ascontiguousarray(w)
        if per_column:
            absmax = np.abs(w).max(axis=0)
        else:
            absmax = np.array(np.abs(w).max(), dtype=np.float32)
        scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
        w_q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        zero = np.zeros(scale.shape, dtype=np.int8)
        base = node.name or node.output[0]
        wq_name, ws_name, wz_name = fresh(base + "_W"), fresh(base + "_W_scale"), fresh(base + "_W_zero")
        new_inits += [numpy_helper.from_array(w_q, wq_name),
                      numpy_helper.from_array(scale, ws_name),
                      numpy_helper.from_array(zero, wz_name)]
        a = node.input[0]
        if a not in dql_of:
            outs = (fresh(a + "_quantized"), fresh(a + "_scale"), fresh(a + "_zero_point"))
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [a], list(outs),
                                              name=fresh(a + "_DynamicQuantizeLinear")))
            dql_of[a] = outs
        a_q, a_scale, a_zero = dql_of[a]
        mm, cast, scales, scaled = (fresh(base + s) for s in ("_MatMulInteger", "_Cast",
                                                              "_scales", "_scaled"))
        new_nodes.append(helper.make_node("MatMulInteger", [a_q, wq_name, a_zero, wz_name],
                                          [mm + "_out"], name=mm))
        new_nodes.append(helper.make_node("Cast", [mm + "_out"], [cast + "_out"], name=cast,
                                          to=TensorProto.FLOAT))
        new_nodes.append(helper.make_node("Mul", [a_scale, ws_name], [scales + "_out"], name=scales))
        has_bias = is_gemm and len(node.input) > 2 and node.input[2]
        scaled_out = fresh(base + "_nobias") if has_bias else node.output[0]
        new_nodes.append(helper.make_node("Mul", [cast + "_out", scales + "_out"], [scaled_out],
                                          name=scaled))
        if has_bias:
            bias = node.input[2]
            new_nodes.append(helper.make_node("Add", [scaled_out, bias], [node.output[0]],
                                              name=fresh(base + "_bias")))
        quantized += 1

    # Drop float weights no node reads any more.
    read = {i for n in new_nodes for i in n.input}
    kept_inits = [i for i in graph.initializer if i.name in read]
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept_inits + new_inits)
    onnx.checker.check_model(model)
    onnx.save(model, int8_path)
    return {"quantized": quantized, "kept_float": kept,
            "weights": "per-column" if per_column else "per-tensor"}


def write_identity(path):
    """A 1-float Identity graph: ort_bench.js --overhead times session.run on it."""
    import onnx
    from onnx import helper, TensorProto
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    onnx.save(model, path)


# ----------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config")
    parser.add_argument("--weights")
    parser.add_argument("--out")
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--int8-weights", choices=("per-tensor", "per-column"), default="per-tensor",
                        help="weight scales of the int8 graph (ORT's default: per-tensor)")
    parser.add_argument("--identity", help="write the 1-float Identity graph here and stop")
    args = parser.parse_args(argv)
    if args.identity:
        write_identity(args.identity)
        print(f"export.py: wrote {args.identity}")
        return 0
    if not (args.config and args.weights and args.out):
        parser.error("give --config, --weights and --out (or --identity)")
    torch.manual_seed(args.seed)
    with open(args.config) as f:
        config = json.load(f)
    weights, _ = safetensors_io.load_file(args.weights)
    model32 = ple_reference.build_model(config, weights, dtype=torch.float32)
    model64 = ple_reference.build_model(config, weights, dtype=torch.float64)
    graph = InputGraph(model32) if model32.resolved["inputs"] else FeatureGraph(model32)
    graph.eval()
    os.makedirs(args.out, exist_ok=True)

    n = args.candidates
    columns, extras, request, candidates = draw_inputs(model32, n, args.seed)
    arrays = graph_arrays(model32, columns)
    feed = tuple(torch.from_numpy(arrays[name]) for name in graph.input_names)

    with torch.no_grad():
        reference = model64(reference_input(model64, columns, extras))[0].numpy()
        mine = graph(*feed).double().numpy()

    # ONNX, float32.
    onnx_path = os.path.join(args.out, "model-f32.onnx")
    with torch.no_grad():
        torch.onnx.export(graph, feed, onnx_path, input_names=graph.input_names,
                          output_names=["outputs"], opset_version=OPSET, do_constant_folding=True,
                          dynamic_axes=dict({name: {0: "batch"} for name in graph.input_names},
                                            outputs={0: "batch"}))
    int8_path = os.path.join(args.out, "model-int8.onnx")
    quant = quantize_dynamic_int8(onnx_path, int8_path, args.int8_weights == "per-column")

    # TorchScript, float32.
    pt_path = os.path.join(args.out, "model.pt")
    with torch.no_grad():
        traced = torch.jit.trace(graph, feed, check_trace=False)
    traced.save(pt_path)
    with torch.no_grad():
        scripted = torch.jit.load(pt_path)(*feed).double().numpy()

    np.savez(os.path.join(args.out, "inputs.npz"), **arrays,
             **{f"extra.{k}": v for k, v in extras.items()})
    np.savez(os.path.join(args.out, "reference.npz"), outputs=reference)
    write_request(os.path.join(args.out, "request.jsonl"), request, candidates)

    def rel_err(got):
        return float(np.max(np.abs(got - reference) / np.maximum(np.abs(reference), 1e-3)))

    meta = {
        "model": model32.config.get("name", os.path.basename(args.config)),
        "config": os.path.abspath(args.config), "weights": os.path.abspath(args.weights),
        "candidates": n, "seed": args.seed, "opset": OPSET,
        "tasks": model32.task_names, "binary": model32.binary,
        "inputs": [{"name": name, "dtype": str(arrays[name].dtype), "shape": list(arrays[name].shape),
                    "scope": input_scope(model32, name)} for name in graph.input_names],
        "int8": quant,
        "files": {name: os.path.getsize(os.path.join(args.out, name))
                  for name in ("model-f32.onnx", "model-int8.onnx", "model.pt")},
        # max |a - ref| / max(|ref|, 1e-3) over every output: float32 torch graph and TorchScript
        "check": {"torch_f32_vs_reference_rel": rel_err(mine),
                  "torchscript_vs_reference_rel": rel_err(scripted)},
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
    }
    import onnx
    meta["versions"]["onnx"] = onnx.__version__
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"export.py: {meta['model']}: {n} candidates, inputs "
          + ", ".join(f"{i['name']} {i['dtype']} {i['shape']}" for i in meta["inputs"])
          + f"; int8: {quant['quantized']} matmuls quantized ({quant['weights']}), "
          f"{len(quant['kept_float'])} kept float; torch f32 vs float64 reference: "
          f"{meta['check']['torch_f32_vs_reference_rel']:.2e} relative, TorchScript "
          f"{meta['check']['torchscript_vs_reference_rel']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
