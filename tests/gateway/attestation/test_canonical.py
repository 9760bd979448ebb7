"""The canonical form is RFC 8785 byte for byte: every path checked against the ``rfc8785`` package."""

from __future__ import annotations

import math
import random
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785

from gateway.attestation.canonical import CanonicalizationError, canonicalize, format_time


def random_json(rng: random.Random, depth: int = 0):
    kinds = ["str", "int", "float", "bool", "null", "bigint", "digits"] + (["list", "dict"] * 2 if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        alphabet = [
            "a",
            "Z",
            "ş",
            "İ",
            "\n",
            "\x00",
            "\x1f",
            '"',
            "\\",
            "/",
            "\u2028",
            "\ue000",
            "\uffff",
            "😀",
            "\x7f",
            "€",
        ]
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
    if kind == "int":
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind == "bigint":
        return rng.choice([1, -1]) * rng.randint(2**53, 2**70)
    if kind == "digits":
        return str(rng.randint(10**15, 10**20))
    if kind == "float":
        if rng.random() < 0.5:
            while True:
                value = struct.unpack("d", rng.getrandbits(64).to_bytes(8, "little"))[0]
                if math.isfinite(value):
                    return value
        return rng.choice([0.7, 1.0, -0.0, 1e21, 1e-7, 0.1 + 0.2, 123.0, 2.5e-5, 1e16])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["a", "b", "B", "é", "\ue000", "\uff01", "😀", "𝄞", "", "10", "1"]
    return {rng.choice(keys) + rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def reference(value) -> bytes:
    """rfc8785 with integers beyond 2**53 given as the doubles they denote (as the module documents)."""

    def doubles(v):
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, int):
            return float(v) if abs(v) > 2**53 - 1 else v
        if isinstance(v, dict):
            return {k: doubles(x) for k, x in v.items()}
        if isinstance(v, list):
            return [doubles(x) for x in v]
        return v

    return rfc8785.dumps(doubles(value))


def test_random_documents_match_rfc8785():
    rng = random.Random(8785)
    for _ in range(3000):
        value = random_json(rng)
        assert canonicalize(value) == reference(value), value


def test_every_code_point_is_escaped_as_rfc8785_says():
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert canonicalize({"s": text}) == rfc8785.dumps({"s": text})


def test_members_sort_by_utf16_code_units_not_code_points():
    value = {"\uff01": 1, "😀": 2, "a": 3}
    assert canonicalize(value) == rfc8785.dumps(value)
    assert canonicalize(value).index("😀".encode()) < canonicalize(value).index("\uff01".encode())


def test_rfc8785_appendix_example():
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    assert canonicalize(value) == (
        b'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        b'"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


@pytest.mark.parametrize("bad", ["\ud800", {1: "x"}, object()])
def test_non_json_is_refused(bad):
    with pytest.raises(CanonicalizationError):
        canonicalize({"k": bad} if not isinstance(bad, dict) else bad)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC), "2025-06-01T12:00:00.123456Z"),
        (datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC), "2025-06-01T12:00:00.000000Z"),
        (datetime(2025, 6, 1, 15, 0, 0, 5, tzinfo=timezone(timedelta(hours=3))), "2025-06-01T12:00:00.000005Z"),
        (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2025-12-31T23:30:00.000000Z"),
    ],
)
def test_the_signed_time_is_utc_with_microseconds_and_z(moment, text):
    assert format_time(moment) == text
