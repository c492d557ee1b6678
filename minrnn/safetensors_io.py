"""The safetensors file format, read and written with torch alone (no pickle, no extra dependency).

A file is an 8-byte little-endian header length, a JSON header mapping each tensor's name to its dtype,
shape and byte range (plus ``__metadata__``: strings), then the raw little-endian bytes. Files written
here load with the ``safetensors`` package and the other way round.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

from minrnn.files import atomic_path

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 100 * 2**20


def save_file(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    header, chunks, offset = {}, [], 0
    for name, t in sorted(tensors.items()):
        if t.dtype not in NAMES:
            raise ValueError(f"save_file: {name} has dtype {t.dtype}, which safetensors cannot hold")
        data = t.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format aligns the data to 8 bytes
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for c in chunks:
            f.write(c)


def load_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) from a safetensors file; a file that is not one is a ValueError naming it."""
    data = Path(path).read_bytes()
    try:
        (n,) = struct.unpack("<Q", data[:8])
        if n > MAX_HEADER or 8 + n > len(data):
            raise ValueError("header length out of range")
        header = json.loads(data[8 : 8 + n])
        metadata = header.pop("__metadata__", {}) or {}
        body, tensors = memoryview(data)[8 + n :], {}
        for name, spec in header.items():
            start, end = spec["data_offsets"]
            dtype = DTYPES[spec["dtype"]]
            if not 0 <= start <= end <= len(body):
                raise ValueError(f"{name}: byte range out of the file")
            if start == end:  # an empty tensor: frombuffer refuses zero bytes
                tensors[name] = torch.empty(spec["shape"], dtype=dtype)
                continue
            flat = torch.frombuffer(bytearray(body[start:end]), dtype=torch.uint8)
            tensors[name] = flat.view(dtype).reshape(spec["shape"]).clone()
    except (ValueError, KeyError, TypeError, struct.error, RuntimeError) as e:
        raise ValueError(f"{path} is not a safetensors file minrnn can read ({e})") from None
    return tensors, metadata
