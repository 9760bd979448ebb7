"""Decoding and validating request bodies into OpenAI-shaped 400s that name the field."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from gateway.errors import InvalidRequest

S = TypeVar("S", bound=msgspec.Struct)

_decode = msgspec.json.Decoder().decode
_AT_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")


def describe_validation_error(exc: msgspec.ValidationError) -> tuple[str | None, str]:
    """msgspec's error as ``(path of the offending field or None, message without the path)``.

    The path is written as msgspec does (``messages[0].role``); a missing field is appended to it.
    """
    message = str(exc)
    match = _AT_PATH.search(message)
    path = match.group("path").lstrip(".") if match else ""
    missing = _MISSING.search(message)
    if missing:
        path = f"{path}.{missing.group('field')}" if path else missing.group("field")
    return path or None, _AT_PATH.sub("", message)


def decode_object(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``, or a 400 explaining why there is none."""
    if not raw:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        data = _decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return data


def check(data: dict[str, Any], schema: type[S]) -> S:
    """``data`` converted to ``schema``, or a 400 naming the offending field."""
    try:
        return msgspec.convert(data, schema)
    except msgspec.ValidationError as exc:
        param, readable = describe_validation_error(exc)
        raise InvalidRequest(f"Invalid value for '{param}': {readable}" if param else readable, param=param) from None


def parse(raw: bytes, schema: type[S]) -> tuple[dict[str, Any], S]:
    """Both forms of a body: the plain dict (kept for pass-through) and the checked struct."""
    data = decode_object(raw)
    return data, check(data, schema)
