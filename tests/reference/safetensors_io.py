"""Minimal safetensors writer and reader (no dependency but numpy).

File layout (https://github.com/huggingface/safetensors):
  8 bytes   little-endian uint64 H: length of the JSON header
  H bytes   JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]}, ...,
            optional "__metadata__": {str: str}}, padded with spaces so that 8 + H is a
            multiple of 8 (the data section starts 8-byte aligned)
  data      raw little-endian tensor bytes; offsets are relative to the start of this section

Contract of the writer: the output is a pure function of its arguments (same bytes on every
run). Tensors are laid out by decreasing element size, then in the caller's order, so every
tensor's data is aligned to its own element size (an F64 tensor never follows an odd-length
F32 one). The header lists tensors in that same layout order.

The reader is strict, like the reference implementation: offsets must tile the data section
exactly (no gaps, no overlap, nothing after the last tensor), byte counts must match
dtype x shape, and "__metadata__" must map strings to strings.
"""

import json
import struct

import numpy as np

# safetensors dtype name -> numpy little-endian dtype. BF16 has no numpy type: it is read as
# raw uint16 and widened to float32 by load_file.
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_BF16_STORAGE = np.dtype("<u2")

# A header larger than this is refused by the reference implementation too.
MAX_HEADER_BYTES = 100 * 1000 * 1000


def _to_numpy(value):
    """Accepts numpy arrays and torch tensors (without importing torch)."""
    if hasattr(value, "detach"):  # torch.Tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return array


def _dtype_name(array):
    for name, dtype in _DTYPES.items():
        if array.dtype == dtype:
            return name
    raise TypeError(f"unsupported dtype {array.dtype} (supported: {', '.join(_DTYPES)})")


def serialize(tensors, metadata=None):
    """Returns the bytes of a safetensors file holding `tensors` (name -> array)."""
    if metadata is not None:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("__metadata__ must map str to str")
    entries = []
    for order, (name, value) in enumerate(tensors.items()):
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        array = _to_numpy(value)
        if not array.flags["C_CONTIGUOUS"]:
            array = array.copy(order="C")  # np.ascontiguousarray would turn 0-d into 1-d
        entries.append((-array.dtype.itemsize, order, name, array))
    entries.sort(key=lambda e: (e[0], e[1]))

    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for _, _, name, array in entries:
        data = array.tobytes(order="C")
        header[name] = {
            "dtype": _dtype_name(array),
            "shape": [int(d) for d in array.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)

    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    header_bytes += b" " * (-len(header_bytes) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks)


def save_file(tensors, path, metadata=None):
    """Writes `tensors` (name -> numpy array or torch tensor) to `path`."""
    with open(path, "wb") as f:
        f.write(serialize(tensors, metadata))


def deserialize(buffer):
    """Parses safetensors bytes. Returns (tensors: dict name -> numpy array, metadata dict).

    Tensors come back in header order. BF16 tensors are widened to float32.
    """
    buffer = memoryview(buffer)
    if len(buffer) < 8:
        raise ValueError(f"file too short for a header length: {len(buffer)} bytes")
    (header_len,) = struct.unpack("<Q", buffer[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(buffer):
        raise ValueError(f"header length {header_len} does not fit a {len(buffer)}-byte file")
    try:
        header = json.loads(bytes(buffer[8:8 + header_len]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    data = buffer[8 + header_len:]

    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("__metadata__ must map str to str")

    tensors = {}
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"tensor '{name}': entry must have exactly dtype, shape, data_offsets")
        dtype_name = info["dtype"]
        if dtype_name == "BF16":
            dtype = _BF16_STORAGE
        elif dtype_name in _DTYPES:
            dtype = _DTYPES[dtype_name]
        else:
            raise ValueError(f"tensor '{name}': unsupported dtype {dtype_name}")
        shape = info["shape"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"tensor '{name}': bad shape {shape}")
        begin, end = info["data_offsets"]
        count = 1
        for d in shape:
            count *= d
        if not (0 <= begin <= end <= len(data)) or end - begin != count * dtype.itemsize:
            raise ValueError(
                f"tensor '{name}': data_offsets [{begin}, {end}] do not hold {dtype_name} "
                f"{shape} ({count * dtype.itemsize} bytes) inside a {len(data)}-byte data section")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
        if dtype_name == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array
        spans.append((begin, end, name))

    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            raise ValueError(f"tensor '{name}' starts at {begin}, expected {position} (gap or overlap)")
        position = end
    if position != len(data):
        raise ValueError(f"data section has {len(data) - position} trailing bytes")
    return tensors, metadata


def load_file(path):
    """Reads a safetensors file. Returns (tensors: dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        return deserialize(f.read())


def header_of(path):
    """The parsed JSON header of a safetensors file (names, dtypes, shapes, offsets)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(header_len).decode("utf-8"))


if __name__ == "__main__":
    # Self-test: round trip of mixed dtypes, alignment and strictness.
    rng = np.random.default_rng(0)
    original = {
        "a.f32": rng.standard_normal((3, 5)).astype(np.float32),  # odd byte count: 60
        "b.f64": rng.standard_normal((2, 7)),
        "c.i64": np.array(7, dtype=np.int64),
        "d.empty": np.zeros((0, 4), dtype=np.float32),
    }
    blob = serialize(original, {"k": "v"})
    assert len(blob) == len(serialize(original, {"k": "v"}))
    assert blob == serialize(original, {"k": "v"})
    (hlen,) = struct.unpack("<Q", blob[:8])
    assert (8 + hlen) % 8 == 0
    loaded, meta = deserialize(blob)
    assert meta == {"k": "v"}
    for key, value in original.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, key
        assert np.array_equal(loaded[key], value), key
    header = json.loads(blob[8:8 + hlen])
    for key, info in header.items():
        if key != "__metadata__":
            assert info["data_offsets"][0] % np.dtype(_DTYPES[info["dtype"]]).itemsize == 0, key
    try:
        deserialize(blob + b"\0")
    except ValueError:
        pass
    else:
        raise AssertionError("trailing bytes accepted")
    print("safetensors_io self-test passed")
