#!/usr/bin/python3
"""ONNX exports of the frameworks' OWN multi-task models, with ONNX Runtime's outputs: the part of
the ONNX import corpus (tests/onnx_corpus, docs/importing.md "ONNX") that has a feature layer.

Each model is the framework's class built from a committed conformance bundle (tests/bundles/
<name>: config.json, the trained weights.safetensors), exported the way its users export it:
torch-rechub through its own exporter (torch_rechub.utils.onnx_export.ONNXExporter, which falls
back to torch.onnx.export's TorchScript exporter on Debian's torch 1.13: no dynamo there),
DeepCTR-Torch through torch.onnx.export of the model on its one float input matrix (DeepCTR-Torch
has no exporter). ONNX Runtime (npm onnxruntime-node, bench/peers/setup.sh) then runs the file on
the bundle's held-out candidates; its float32 outputs are committed, so the tests need neither
torch nor ONNX Runtime.

Extract the frameworks OUTSIDE this repository, as for make_framework_bundles.py, then:

    /usr/bin/python3 tests/reference/frameworks/make_framework_onnx.py \
        --rechub-src /tmp/frameworks/torch-rechub --rechub-git $R \
        --deepctr-src /tmp/frameworks/DeepCTR-Torch --deepctr-git $D

Writes tests/onnx_corpus/<bundle>_onnx/{model.onnx, sidecar.json, expected.json}. The sidecar is
what a user writes beside the file (docs/importing.md): task names, request-scope features, a
sequence's max_length where the graph leaves it symbolic, and DeepCTR-Torch's column ranges
(its model.feature_index) as feature names. ONNX Runtime's outputs are checked against the
bundle's float64 framework outputs (1e-4), so an export that changed the model is caught here.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_framework_bundles as frameworks  # noqa: E402
import make_onnx_corpus  # noqa: E402  (tests/reference, on the path after the import above)
import safetensors_io  # noqa: E402

REPO = frameworks.REPO
CORPUS = os.path.join(REPO, "tests", "onnx_corpus")
NODE_PATH = make_onnx_corpus.NODE_PATH

# bundle -> opset: the frameworks' own default (torch-rechub 14) and the ends of the range read.
MODELS = {
    "rechub_ple": 14,
    "rechub_mmoe": 11,
    "deepctr_ple": 13,
    "deepctr_ple_bn": 17,
    "deepctr_mmoe": 11,
}


def load_bundle(name):
    directory = os.path.join(REPO, "tests", "bundles", name)
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    weights = safetensors_io.load_file(os.path.join(directory, "weights.safetensors"))[0]
    data = safetensors_io.load_file(os.path.join(directory, "data.safetensors"))[0]
    features = {k.split(".", 1)[1]: v for k, v in data.items() if k.startswith("features.")}
    return config, weights, features, data["expected.outputs"]


def sidecar_of(config, model):
    """What the graph cannot say, as docs/importing.md's ONNX sidecar."""
    sidecar = {"name": None, "tasks": config["task_names"], "features": {}}
    for f in frameworks.feature_view(config):
        entry = {}
        if f["scope"] == "request":
            entry["scope"] = "request"
        if f["kind"] == "sequence" and config["framework"] == "torch-rechub":
            entry["max_length"] = f["L"]  # the exported sequence length is symbolic
        if entry:
            sidecar["features"][f["name"]] = entry
    if config["framework"] == "deepctr-torch":
        sidecar["columns"] = {"x": {name: [int(b), int(e)] for name, (b, e) in model.feature_index.items()}}
    return sidecar


def export(fw, name, opset, out_dir):
    config, weights, features, want = load_bundle(name)
    model = frameworks.build_model(fw, config)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()}, strict=True)
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    if config["framework"] == "torch-rechub":
        from torch_rechub.utils.onnx_export import ONNXExporter
        ONNXExporter(model).export(path, opset_version=opset)
        given = {}
        for f in frameworks.feature_view(config):
            v = np.ascontiguousarray(features[f["name"]])
            dtype = "float32" if f["kind"] == "dense" else "int64"
            given[f["name"]] = {"shape": list(v.shape), "dtype": dtype, "values": v.ravel().tolist()}
        producer = f"torch-rechub ONNXExporter, torch {torch.__version__}, opset {opset}"
    else:
        x = frameworks.model_inputs(model, config, features, torch.float32)
        torch.onnx.export(model, (x[:5],), path, input_names=["x"], output_names=["y"], opset_version=opset,
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        given = {"x": {"shape": list(x.shape), "dtype": "float32", "values": x.numpy().ravel().tolist()}}
        producer = f"DeepCTR-Torch model, torch.onnx.export, torch {torch.__version__}, opset {opset}"
    onnx.checker.check_model(onnx.load(path))
    outputs = make_onnx_corpus.run_onnx_runtime(path, given)
    (got,) = outputs.values()
    got = np.array(got["values"]).reshape(want.shape)
    worst = np.max(np.abs(got - want) / (1e-4 + 1e-4 * np.abs(want)))
    assert worst <= 1.0, f"{name}: ONNX Runtime differs from the framework's float64 outputs ({worst:.2f} x 1e-4)"
    sidecar = sidecar_of(config, model)
    sidecar["name"] = name + "_onnx"
    with open(os.path.join(out_dir, "sidecar.json"), "w") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump({"producer": producer, "source": f"tests/bundles/{name} (config.json, weights.safetensors, "
                   "the held-out candidates of data.safetensors)",
                   "outputs_from": "ONNX Runtime (onnxruntime-node), float32",
                   "opset": opset, "inputs": given, "outputs": outputs}, f)
        f.write("\n")
    print(f"make_framework_onnx: {name}_onnx: opset {opset}, {os.path.getsize(path)} bytes, "
          f"ONNX Runtime vs framework float64 within {worst:.3f} x 1e-4")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rechub-src", required=True)
    parser.add_argument("--deepctr-src", required=True)
    parser.add_argument("--rechub-git")
    parser.add_argument("--deepctr-git")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    if not os.path.isdir(NODE_PATH):
        sys.exit("make_framework_onnx: run bench/peers/setup.sh first (onnxruntime-node)")
    torch.set_num_threads(1)
    frameworks._framework_commit(args.rechub_src, args.rechub_git, "torch_rechub")
    frameworks._framework_commit(args.deepctr_src, args.deepctr_git, "deepctr_torch")
    fw = frameworks._import_frameworks(args.rechub_src, args.deepctr_src)
    for name, opset in MODELS.items():
        if not args.only or name in args.only:
            export(fw, name, opset, os.path.join(CORPUS, name + "_onnx"))


if __name__ == "__main__":
    main()
