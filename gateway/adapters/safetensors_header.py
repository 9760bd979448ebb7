"""A strict reader of a safetensors file's header: tensor names, dtypes and shapes, no weights loaded.

The format: an 8-byte little-endian header length, a JSON object of
``name → {"dtype", "shape", "data_offsets": [begin, end]}`` (plus an optional
``__metadata__`` of strings), then the tensor bytes. Every rule the format states is
checked, so a crafted file cannot point outside itself or overlap tensors.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import InvalidRequest

MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})


@dataclass(frozen=True, slots=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]


def read_header(path: Path, param: str = "file") -> dict[str, TensorInfo]:
    """The tensors declared in ``path``; ``InvalidRequest`` naming the first problem otherwise."""
    name = path.name
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise InvalidRequest(f"{name}: not a safetensors file (shorter than 8 bytes)", param=param)
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES or 8 + length > size:
            raise InvalidRequest(f"{name}: safetensors header length {length} is impossible", param=param)
        raw = handle.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRequest(f"{name}: safetensors header is not JSON", param=param) from None
    if not isinstance(header, dict):
        raise InvalidRequest(f"{name}: safetensors header is not a JSON object", param=param)
    header.pop("__metadata__", None)
    data_size = size - 8 - length
    tensors: dict[str, TensorInfo] = {}
    spans: list[tuple[int, int, str]] = []
    for tensor, entry in header.items():
        info, span = _entry(name, tensor, entry, param)
        tensors[tensor] = info
        spans.append((*span, tensor))
    expected = 0
    for begin, end, tensor in sorted(spans):
        if begin != expected:
            raise InvalidRequest(f"{name}: tensor {tensor!r} overlaps another or leaves a gap", param=param)
        expected = end
    if expected != data_size:
        raise InvalidRequest(
            f"{name}: tensor data ({expected} bytes) does not fill the file ({data_size})", param=param
        )
    return tensors


def _entry(name: str, tensor: str, entry: object, param: str) -> tuple[TensorInfo, tuple[int, int]]:
    if not isinstance(entry, dict):
        raise InvalidRequest(f"{name}: entry {tensor!r} is not an object", param=param)
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_SIZES:
        raise InvalidRequest(f"{name}: tensor {tensor!r} has unknown dtype {dtype!r}", param=param)
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InvalidRequest(f"{name}: tensor {tensor!r} has an invalid shape", param=param)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise InvalidRequest(f"{name}: tensor {tensor!r} has invalid data_offsets", param=param)
    begin, end = offsets
    if not 0 <= begin <= end or end - begin != math.prod(shape) * DTYPE_SIZES[dtype]:
        raise InvalidRequest(f"{name}: tensor {tensor!r}: data_offsets do not match its shape and dtype", param=param)
    return TensorInfo(dtype, tuple(shape)), (begin, end)
