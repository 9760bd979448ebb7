"""Jinja filters: numbers, money, durations and times the way the console shows them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from admin.charts import compact


def number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def limit(value: Any) -> str:
    return "∞" if value is None else f"{int(value):,}"


def money(value: Any) -> str:
    """Two decimals from 1 up; smaller amounts keep three significant digits (0.0000018), never an exponent."""
    if value is None:
        return "—"
    value = float(value)
    if value == 0 or abs(value) >= 1:
        return f"{value:,.2f}"
    decimals = max(4, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


def milliseconds(value: Any) -> str:
    if value is None:
        return "—"
    value = float(value)
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:,.0f} ms"


def utc(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            text = f"{int(seconds // size)} {unit}"
            break
    else:
        text = f"{int(seconds)} s"
    return f"in {text}" if future else f"{text} ago"


def percent(part: Any, whole: Any) -> str:
    if not whole:
        return "—"
    return f"{100 * float(part or 0) / float(whole):.1f}%"


FILTERS = {
    "number": number,
    "limit": limit,
    "money": money,
    "ms": milliseconds,
    "utc": utc,
    "ago": ago,
    "compact": compact,
    "percent": percent,
}
