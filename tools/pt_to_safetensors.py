#!/usr/bin/python3
"""Converts a saved PyTorch state_dict (or a whole saved module) to a safetensors file.

    /usr/bin/python3 tools/pt_to_safetensors.py IN.pt OUT.safetensors [--key state_dict]

IN.pt is what `torch.save(model.state_dict(), path)` or `torch.save(model, path)` wrote (for a
whole module its state_dict() is taken; loading a whole module needs its class importable).
`--key` picks a nested state_dict out of a checkpoint dict, e.g. {"state_dict": ..., "epoch": 3}
(dots descend: `--key model.state_dict`).

Every tensor is written under its state_dict name, unchanged, with torch's own dtype and shape
(F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL; e.g. BatchNorm's `num_batches_tracked` stays
an I64 scalar of shape []). Nothing is renamed, dropped, transposed or converted.

File layout (https://github.com/huggingface/safetensors), written directly:
  8 bytes   little-endian uint64 H: length of the JSON header
  H bytes   JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
            padded with spaces so that 8 + H is a multiple of 8
  data      raw little-endian tensor bytes, tensors ordered by decreasing element size (so each
            is aligned to its element size), then in state_dict order
The output is a pure function of the input tensors: the same state_dict gives the same bytes.
"""

import argparse
import collections.abc
import json
import struct
import sys

def _fail(message):
    print(f"pt_to_safetensors: error: {message}", file=sys.stderr)
    sys.exit(1)


def _dtype_table(torch):
    # torch dtype -> (safetensors name, numpy little-endian dtype string used to get the bytes)
    return {
        torch.float64: ("F64", "<f8"),
        torch.float32: ("F32", "<f4"),
        torch.float16: ("F16", "<f2"),
        torch.bfloat16: ("BF16", None),  # no numpy type: raw 16-bit patterns, see _tensor_bytes
        torch.int64: ("I64", "<i8"),
        torch.int32: ("I32", "<i4"),
        torch.int16: ("I16", "<i2"),
        torch.int8: ("I8", "i1"),
        torch.uint8: ("U8", "u1"),
        torch.bool: ("BOOL", "?"),
    }


def _tensor_bytes(torch, tensor, numpy_dtype):
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        # Same bits reinterpreted as int16 (same element size): the bf16 patterns, host order.
        array = tensor.view(torch.int16).numpy().astype("<i2", copy=False)
    else:
        array = tensor.numpy().astype(numpy_dtype, copy=False)
    return array.tobytes(order="C")


def _select(obj, key):
    for part in key.split("."):
        if not isinstance(obj, collections.abc.Mapping) or part not in obj:
            have = ", ".join(repr(k) for k in list(obj)[:10]) if isinstance(obj, collections.abc.Mapping) else ""
            _fail(f"--key {key!r}: no entry {part!r} (entries: {have or type(obj).__name__})")
        obj = obj[part]
    return obj


def load_state_dict(path, key=None):
    """Returns an ordered list of (name, tensor) from a saved state_dict or module."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu")
    except FileNotFoundError:
        _fail(f"{path}: no such file")
    except (ModuleNotFoundError, AttributeError) as e:  # a pickled module whose class is missing
        _fail(f"{path}: cannot be loaded by torch.load: {type(e).__name__}: {e} (a whole saved "
              f"module needs its classes importable: put its package on PYTHONPATH, or save "
              f"model.state_dict() instead)")
    except Exception as e:  # pickle errors, not a torch file...
        _fail(f"{path}: cannot be loaded by torch.load: {type(e).__name__}: {e}")
    if key is not None:
        obj = _select(obj, key)
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, collections.abc.Mapping):
        _fail(f"{path}: holds an object of type {type(obj).__name__}, not a state_dict (a dict of tensors) "
              f"or an nn.Module")
    entries = []
    for name, value in obj.items():
        if not isinstance(name, str):
            _fail(f"{path}: state_dict key {name!r} has type {type(name).__name__}, not str")
        if not isinstance(value, torch.Tensor):
            hint = ""
            if isinstance(value, (collections.abc.Mapping, torch.nn.Module)):
                hint = f" (a checkpoint? pick the state_dict with --key {name})"
            _fail(f"{path}: entry {name!r} has type {type(value).__name__}, not a tensor{hint}")
        if value.is_sparse or getattr(value, "is_quantized", False) or value.layout != torch.strided:
            _fail(f"{path}: entry {name!r} is a sparse or quantized tensor ({value.layout}); "
                  f"only dense tensors can be written")
        entries.append((name, value))
    if any(name == "__metadata__" for name, _ in entries):
        _fail(f"{path}: a tensor named '__metadata__' is reserved by safetensors")
    return entries


def serialize(entries):
    import torch

    table = _dtype_table(torch)
    laid_out = []
    for order, (name, tensor) in enumerate(entries):
        if tensor.dtype not in table:
            _fail(f"entry {name!r} has dtype {tensor.dtype}, which safetensors cannot hold here "
                  f"(supported: {', '.join(v[0] for v in table.values())})")
        dtype_name, numpy_dtype = table[tensor.dtype]
        laid_out.append((-tensor.element_size(), order, name, dtype_name,
                         [int(d) for d in tensor.shape], _tensor_bytes(torch, tensor, numpy_dtype)))
    laid_out.sort(key=lambda e: (e[0], e[1]))

    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for _, _, name, dtype_name, shape, data in laid_out:
        header[name] = {"dtype": dtype_name, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    header_bytes += b" " * (-(8 + len(header_bytes)) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(e[5] for e in laid_out)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="pt_to_safetensors.py",
        description="Write a saved PyTorch state_dict (torch.save(model.state_dict())) or whole "
                    "module (torch.save(model)) as a safetensors file: names, dtypes and shapes "
                    "exactly as torch has them (num_batches_tracked stays I64).")
    parser.add_argument("input", metavar="IN.pt", help="file written by torch.save")
    parser.add_argument("output", metavar="OUT.safetensors", help="safetensors file to write")
    parser.add_argument("--key", help="take the state_dict from this entry of a checkpoint dict "
                                      "(dots descend, e.g. model.state_dict)")
    args = parser.parse_args(argv)

    entries = load_state_dict(args.input, args.key)
    if not entries:
        _fail(f"{args.input}: the state_dict is empty")
    blob = serialize(entries)
    try:
        with open(args.output, "wb") as f:
            f.write(blob)
    except OSError as e:
        _fail(f"{args.output}: cannot write: {e.strerror}")
    total = sum(t.numel() for _, t in entries)
    print(f"{args.output}: {len(entries)} tensors, {total} values, {len(blob)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
