"""Line charts as inline SVG, rendered on the server: no chart library, no script, CSP-friendly.

Colours come from the stylesheet (``.s0`` … ``.s7``); every point carries a ``<title>`` tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime

from markupsafe import Markup, escape

from admin.ledger_queries import Series

WIDTH, HEIGHT = 560, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 10, 24
COLOURS = 8


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value * 0.999999:
            return float(candidate)
    return float(10 ** (exponent + 1))


def compact(value: float) -> str:
    """1234 → 1.2k, 2500000 → 2.5M; small fractions keep their digits."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    if magnitude == 0 or magnitude >= 1:
        return f"{value:.4g}"
    return f"{value:.2g}"


def time_label(moment: datetime, bucket_seconds: int) -> str:
    if bucket_seconds >= 86400:
        return moment.strftime("%b %d")
    if bucket_seconds >= 6 * 3600:
        return moment.strftime("%d %Hh")
    return moment.strftime("%H:%M")


def colour_class(index: int) -> str:
    return f"s{index % COLOURS}"


def line_chart(
    series: Sequence[Series],
    starts: Sequence[datetime],
    bucket_seconds: int,
    *,
    label: str,
    fmt: Callable[[float], str] = compact,
    dashed: Callable[[Series], bool] = lambda s: False,
    colour_of: Callable[[int, Series], int] = lambda i, s: i,
) -> Markup:
    count = len(starts)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    top = nice_ceiling(peak)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / count if count else 0)

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * (v / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
    ]
    for step in range(5):
        value = top * step / 4
        py = y(value)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py:.1f}" y2="{py:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{py + 3:.1f}" text-anchor="end">{escape(fmt(value))}</text>'
        )
    ticks = max(1, math.ceil(count / 6))
    for i in range(0, count, ticks):
        parts.append(
            f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
            f"{escape(time_label(starts[i], bucket_seconds))}</text>"
        )
    for index, one in enumerate(series):
        css = f"line {colour_class(colour_of(index, one))}" + (" dash" if dashed(one) else "")
        path, pen_down = [], False
        for i, value in enumerate(one.values):
            if value is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{x(i):.1f},{y(value):.1f}")
            pen_down = True
        if path:
            parts.append(f'<path class="{css}" d="{" ".join(path)}"/>')
        for i, value in enumerate(one.values):
            if value is None or value == 0:
                continue
            when = starts[i].strftime("%Y-%m-%d %H:%M")
            dot = colour_class(colour_of(index, one))
            parts.append(
                f'<circle class="dot {dot}" cx="{x(i):.1f}" cy="{y(value):.1f}" r="2.2">'
                f"<title>{escape(one.name)} · {when} UTC · {escape(fmt(value))}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
