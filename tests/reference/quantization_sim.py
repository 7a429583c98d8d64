"""Independent numpy simulation of the runtime's quantization schemes (docs/quantization.md),
for the measured note on the accuracy bars: how far from the float64 reference a bundle's
outputs move when only the weights are rounded (float16, or int8 symmetric per output channel),
when only the activations are (uint8 asymmetric per row, per scope segment at the first level),
and when both are, without any of the runtime's code.

    /usr/bin/python3 tests/reference/quantization_sim.py [BUNDLE...]   (default: every dense bundle)

Prints, per bundle and scheme, the worst max and mean absolute error over its binary tasks.
Feature bundles (embedding tables) are skipped: the simulation covers the dense layers.
"""

import glob
import json
import os
import sys

import numpy as np

import numpy_forward as nf
from safetensors_io import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLES = os.path.join(HERE, "..", "bundles")

_linear = nf._linear
MODE = {}


def quantize_rows(x):
    """uint8 asymmetric per row, zero in range, round half to even (np.rint)."""
    lo = np.minimum(x.min(axis=1, keepdims=True), 0.0)
    hi = np.maximum(x.max(axis=1, keepdims=True), 0.0)
    scale = np.where(hi > lo, (hi - lo) / 255.0, 1.0)
    zero_point = np.clip(np.rint(-lo / scale), 0, 255)
    q = np.clip(np.rint(x / scale) + zero_point, 0, 255)
    return (q - zero_point) * scale


def simulated_linear(h, w, p):
    weight = w[p + ".weight"]
    if MODE.get("weights") == "f16":
        weight = weight.astype(np.float16).astype(np.float64)
    elif MODE.get("weights") == "int8":
        s = np.abs(weight).max(axis=1, keepdims=True) / 127.0
        s[s == 0] = 1.0
        weight = np.clip(np.rint(weight / s), -127, 127) * s
    if MODE.get("activations") == "int8":
        request = MODE.get("request_columns")
        if h is MODE.get("row") and request is not None and 0 < len(request) < h.shape[1]:
            # The input row of a first-level layer: request and candidate columns quantized apart.
            candidate = [c for c in range(h.shape[1]) if c not in set(request)]
            q = np.empty_like(h)
            q[:, request] = quantize_rows(h[:, request])
            q[:, candidate] = quantize_rows(h[:, candidate])
            h = q
        else:
            h = quantize_rows(h)
    out = h @ weight.T
    if p + ".bias" in w:
        out = out + w[p + ".bias"]
    return out


SCHEMES = [("f16 weights", {"weights": "f16"}), ("int8 weights", {"weights": "int8"}),
           ("int8 activations", {"activations": "int8"}),
           ("int8 weights + activations", {"weights": "int8", "activations": "int8"})]


def main(names):
    nf._linear = simulated_linear
    for name in names:
        directory = os.path.join(BUNDLES, name)
        config = json.load(open(os.path.join(directory, "config.json")))
        if "inputs" not in config:
            print(f"{name}: skipped (feature bundle)")
            continue
        weights = load_file(os.path.join(directory, "weights.safetensors"))[0]
        data = load_file(os.path.join(directory, "data.safetensors"))[0]
        x = data["inputs"].astype(np.float64)
        request_columns, start = [], 0
        for spec in config["inputs"]:
            if spec["scope"] == "request":
                request_columns += list(range(start, start + spec["width"]))
            start += spec["width"]
        binary = [t["type"] == "binary" for t in config["tasks"]]
        MODE.clear()
        reference, _ = nf.forward(config, weights, x)
        line = []
        for label, scheme in SCHEMES:
            MODE.clear()
            MODE.update(scheme, request_columns=request_columns, row=x)
            out, _ = nf.forward(config, weights, x)
            error = np.abs(out - reference)[:, binary]
            line.append(f"{label}: max {error.max():.1e} mean {error.mean():.1e}")
        print(f"{name}: " + "; ".join(line))


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main(sys.argv[1:] or sorted(os.path.basename(d) for d in glob.glob(os.path.join(BUNDLES, "*"))))
