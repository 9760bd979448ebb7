"""RFC 8785 JSON Canonicalization Scheme (JCS): the exact bytes that are hashed and signed.

``canonicalize(value)`` returns the UTF-8 bytes RFC 8785 defines for a JSON value (``dict``
with ``str`` keys, ``list``/``tuple``, ``str``, ``int``, ``float``, ``bool``, ``None``):
no whitespace, object members sorted by their names' UTF-16 code units, strings with only
the escapes RFC 8785 allows, numbers as ECMAScript prints them.

Most values take a fast path: msgspec's key-sorted encoding is byte-for-byte JCS when the
value holds no float, no integer beyond ±(2**53 - 1) and no pair of keys whose UTF-16 order
differs from their code-point order (checked conservatively on the encoded bytes). Floats
and large integers are replaced by their RFC 8785 text first (``rfc8785`` formats the ones
where Python's shortest repr and ECMAScript's differ); a value that might sort differently
in UTF-16 is written member by member. The test suite checks every path against ``rfc8785``.

NaN and infinities are not JSON; values decoded from JSON text never hold them.

Integers beyond ±(2**53 - 1) are canonicalised as the IEEE-754 double they denote, as
RFC 8785 §3.2.2.3 prescribes for I-JSON (a JavaScript ``JSON.parse`` would do the same).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec
import rfc8785

__all__ = ["CanonicalizationError", "canonicalize", "format_time", "sha256_hex"]

_MAX_SAFE_INTEGER = 2**53 - 1
_encode_sorted = msgspec.json.Encoder(order="sorted").encode
_encode_string = msgspec.json.Encoder().encode
# One pass classifies the encoded bytes: "A" starts a non-BMP character, "B" one in U+E000..U+FFFF
# (together, UTF-16 and code-point order may differ), "0" is a digit (16 in a row may be an integer
# beyond 2**53, or just digits inside a string: then the careful path, which is still exact).
_CLASSES = bytes(
    0x41 if 0xF0 <= b <= 0xF4 else 0x42 if b in (0xEE, 0xEF) else 0x30 if 0x30 <= b <= 0x39 else 0x20
    for b in range(256)
)
_SIXTEEN_DIGITS = b"0" * 16


class CanonicalizationError(ValueError):
    """The value is not JSON data RFC 8785 can canonicalise (NaN, lone surrogate, non-string key…)."""


class _FloatSeen(Exception):
    pass


def _float_seen(_: str) -> float:
    raise _FloatSeen


_float_probe = msgspec.json.Decoder(float_hook=_float_seen)


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical form of ``value`` as UTF-8 bytes."""
    try:
        data = _encode_sorted(value)
    except (TypeError, ValueError, UnicodeEncodeError, OverflowError) as exc:
        raise CanonicalizationError(f"not canonicalisable JSON data: {exc}") from exc
    classes = data.translate(_CLASSES)
    if not data.isascii() and b"A" in classes and b"B" in classes:
        return _slow(value)
    if _SIXTEEN_DIGITS in classes:
        return _encode_sorted(_numbers_as_raw(value))
    try:
        _float_probe.decode(data)
    except _FloatSeen:
        return _encode_sorted(_numbers_as_raw(value))
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def format_time(moment: datetime) -> str:
    """The one time format that is hashed and signed: UTC, microseconds, ``Z`` (``2025-06-01T12:00:00.123456Z``)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def _slow(value: Any) -> bytes:
    out: list[bytes] = []
    _write(value, out)
    return b"".join(out)


def _numbers_as_raw(value: Any) -> Any:
    """A copy with every float and unsafe integer replaced by its RFC 8785 text (kept verbatim by msgspec)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {k: _numbers_as_raw(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_numbers_as_raw(v) for v in value]
    if kind is float:
        return msgspec.Raw(_number(value))
    if kind is int:
        return value if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER else msgspec.Raw(_number(float(value)))
    if isinstance(value, dict):
        return _numbers_as_raw(dict(value))
    if isinstance(value, (list, tuple)):
        return _numbers_as_raw(list(value))
    if isinstance(value, float):
        return _numbers_as_raw(float(value))
    if isinstance(value, int):
        return _numbers_as_raw(int(value))
    return value


def _utf16_order(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: Any, out: list[bytes]) -> None:
    if value is None:
        out.append(b"null")
    elif value is True:
        out.append(b"true")
    elif value is False:
        out.append(b"false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
            out.append(str(value).encode())
        else:
            out.append(_number(float(value)))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, dict):
        out.append(b"{")
        first = True
        for key in sorted(value, key=_key_order):
            if not first:
                out.append(b",")
            first = False
            out.append(_string(key))
            out.append(b":")
            _write(value[key], out)
        out.append(b"}")
    elif isinstance(value, (list, tuple)):
        out.append(b"[")
        for i, item in enumerate(value):
            if i:
                out.append(b",")
            _write(item, out)
        out.append(b"]")
    else:
        raise CanonicalizationError(f"not JSON data: {type(value).__name__}")


def _key_order(key: Any) -> bytes:
    if not isinstance(key, str):
        raise CanonicalizationError(f"object member names must be strings, not {type(key).__name__}")
    return _utf16_order(key)


def _string(value: str) -> bytes:
    try:
        return _encode_string(value)
    except UnicodeEncodeError as exc:
        raise CanonicalizationError("a string holds a lone surrogate") from exc


def _number(value: float) -> bytes:
    """ECMAScript Number-to-String: Python's shortest repr where the two agree, else ``rfc8785``."""
    if value == 0:
        return b"0"
    if 1e-4 <= abs(value) < 1e16:
        text = repr(value)
        return (text.removesuffix(".0")).encode()
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"number not representable in JSON: {value!r}") from exc
