"""The safetensors file format, read and written with torch alone (no pickle, no extra dependency).

A file is an 8-byte little-endian header length, a JSON header mapping each tensor's name to its dtype,
shape and byte range (plus ``__metadata__``: strings), then the raw little-endian bytes. Files written
here load with the ``safetensors`` package and the other way round.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import torch

from minrnn.files import atomic_path
from minrnn.reader import open_file, parse_json

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
MAX_FILE = 2**40  # a regular file of at most 1 TiB; each tensor's range is checked inside it
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


def read_header(path: str | Path) -> tuple[dict, dict[str, str], int]:
    """(tensor specs, metadata, offset of the data) of a safetensors file, checked before anything is
    allocated: a regular file, a bounded header, known dtypes, shapes whose byte size equals their range,
    ranges inside the file and not overlapping. A file that fails is a ValueError naming it and why."""
    path = Path(path)
    try:
        with open_file(Path(path).resolve(), MAX_FILE) as f:  # links: checked by the caller (pretrained)
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise ValueError(f"{size} bytes: shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER or 8 + n > size:
                raise ValueError(f"header length {n} out of range for a file of {size} bytes")
            header = parse_json(path, f.read(n))  # bounded above; depth-limited
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ValueError("__metadata__ must map names to strings")
        body, ranges = size - 8 - n, []
        for name, spec in header.items():
            if not isinstance(spec, dict) or spec.get("dtype") not in DTYPES:
                raise ValueError(f"{name}: unknown dtype {spec.get('dtype') if isinstance(spec, dict) else spec!r}")
            shape, offsets = spec.get("shape"), spec.get("data_offsets")
            if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
                raise ValueError(f"{name}: shape {shape!r} is not a list of sizes")
            if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
                raise ValueError(f"{name}: data_offsets {offsets!r} is not [start, end]")
            start, end = offsets
            if not 0 <= start <= end <= body:
                raise ValueError(f"{name}: bytes [{start}, {end}) lie outside the {body} bytes of data")
            want = math.prod(shape) * DTYPES[spec["dtype"]].itemsize
            if end - start != want:
                raise ValueError(f"{name}: shape {shape} needs {want} bytes, its range holds {end - start}")
            ranges.append((start, end, name))
        ranges.sort()
        for (_, end, a), (start, _, b) in zip(ranges, ranges[1:], strict=False):
            if start < end:
                raise ValueError(f"{a} and {b} overlap")
    except (OSError, ValueError, RecursionError, struct.error) as e:
        why = getattr(e, "reason", e)  # an UnreadableFile names the file already
        raise ValueError(f"{path} is not a safetensors file minrnn can read ({why})") from None
    return header, metadata, 8 + n


def load_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) from a safetensors file; a file that is not one is a ValueError naming it.
    The header is checked first (read_header); each tensor is then read straight into its own memory."""
    header, metadata, data = read_header(path)
    tensors = {}
    try:
        with open_file(Path(path).resolve(), MAX_FILE) as f:  # links: checked by the caller (pretrained)
            for name, spec in header.items():
                start, end = spec["data_offsets"]
                t = torch.empty(spec["shape"], dtype=DTYPES[spec["dtype"]])
                f.seek(data + start)
                if end > start and f.readinto(t.view(-1).view(torch.uint8).numpy()) != end - start:
                    raise ValueError(f"{name}: the file ended early")
                tensors[name] = t
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not a safetensors file minrnn can read ({e})") from None
    return tensors, metadata
