"""Turning a benchmark run's results into the table, the goal check and the README's markdown."""

from __future__ import annotations

import statistics

CONCURRENCIES = (1, 16, 64)
LATENCY_AT = (1, 16)
TARGET_ORDER = ("direct", "bare", "gateway", "guarded", "litellm")
LABELS = {
    "direct": "direct",
    "bare": "bare proxy",
    "gateway": "gateway",
    "guarded": "gateway + guardrails",
    "litellm": "LiteLLM",
}


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def get(results: dict, target: str, *path: str):
    node = results.get(target)
    if not node or not node.get("available"):
        return None
    for part in path:
        if not isinstance(node, dict) or node.get(part) is None:
            return None
        node = node[part]
    return node


ROWS = [
    ("req/s, c=1", ("load", "1", "rps"), "rps"),
    ("req/s, c=16", ("load", "16", "rps"), "rps"),
    ("req/s, c=64", ("load", "64", "rps"), "rps"),
    ("p50 ms, c=1", ("load", "1", "p50_ms"), "ms"),
    ("p90 ms, c=1", ("load", "1", "p90_ms"), "ms"),
    ("p99 ms, c=1", ("load", "1", "p99_ms"), "ms"),
    ("p50 ms, c=16", ("load", "16", "p50_ms"), "ms"),
    ("p90 ms, c=16", ("load", "16", "p90_ms"), "ms"),
    ("p99 ms, c=16", ("load", "16", "p99_ms"), "ms"),
    ("p50 ms, c=64", ("load", "64", "p50_ms"), "ms"),
    ("stream TTFT p50 ms", ("stream", "ttft_p50_ms"), "ms"),
    ("stream TTFT p90 ms", ("stream", "ttft_p90_ms"), "ms"),
    ("stream total p50 ms", ("stream", "total_p50_ms"), "ms"),
    ("CPU ms/request, c=1", ("load", "1", "cpu_ms_per_request"), "ms"),
    ("CPU ms/request, c=64", ("load", "64", "cpu_ms_per_request"), "ms"),
    ("req/s per core (1000 ÷ CPU ms, c=64)", ("load", "64", "per_core_rps"), "rps"),
    ("RSS idle MB", ("rss_idle_mb",), "mb"),
    ("RSS under load MB", ("rss_load_mb",), "mb"),
]


def fmt(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "rps":
        return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    if kind == "mb":
        return f"{value:,.0f}"
    return f"{value:.3f}" if value < 10 else f"{value:,.1f}"


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return f"{r:.2f}×" if r < 100 else f"{r:,.0f}×"


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    targets = [t for t in TARGET_ORDER if t in results]
    header = ["metric", *[LABELS[t] for t in targets]]
    compare = [(t, f"gw/{LABELS[t].split()[0]}") for t in ("direct", "bare", "litellm") if t in results]
    if "gateway" in results:
        header += [c for _, c in compare]
    rows = []
    for label, path, kind in ROWS:
        row = [label, *[fmt(get(results, t, *path), kind) for t in targets]]
        if "gateway" in results:
            row += [ratio(get(results, "gateway", *path), get(results, t, *path)) for t, _ in compare]
        rows.append(row)
    return header, rows


def derive(results: dict) -> None:
    """Medians that are computed from the runs (also for JSON written by older versions)."""
    for res in results.values():
        for cell in (res.get("load") or {}).values():
            cpu = median_of(cell["runs"], "cpu_ms_per_request")
            cell["cpu_ms_per_request"] = cpu
            cell["per_core_rps"] = 1000.0 / cpu if cpu else None
            cell["foreign_cpu_pct"] = median_of(cell["runs"], "foreign_cpu_pct")


def goals(results: dict) -> list[dict]:
    def diff(target_path: tuple[str, ...]):
        g, d = get(results, "gateway", *target_path), get(results, "direct", *target_path)
        return None if g is None or d is None else g - d

    p50_added = diff(("load", "1", "p50_ms"))
    ttft_added = diff(("stream", "ttft_p50_ms"))
    gw64, bare64, lite64 = (get(results, t, "load", "64", "rps") for t in ("gateway", "bare", "litellm"))
    idle = get(results, "gateway", "rss_idle_mb")

    def verdict(ok):
        return None if ok is None else bool(ok)

    return [
        {"goal": "adds < 0.5 ms at p50 over direct, c=1",
         "figure": None if p50_added is None else f"+{p50_added:.3f} ms",
         "reached": verdict(None if p50_added is None else p50_added < 0.5)},
        {"goal": "≥ 20× LiteLLM's req/s at c=64",
         "figure": None if not (gw64 and lite64) else f"{gw64 / lite64:.1f}× ({gw64:,.0f} vs {lite64:,.0f})",
         "reached": verdict(None if not (gw64 and lite64) else gw64 >= 20 * lite64)},
        {"goal": "≥ 70% of the bare proxy's req/s at c=64",
         "figure": None if not (gw64 and bare64) else f"{100 * gw64 / bare64:.0f}% ({gw64:,.0f} vs {bare64:,.0f})",
         "reached": verdict(None if not (gw64 and bare64) else gw64 >= 0.7 * bare64)},
        {"goal": "adds < 1 ms to streaming TTFT (p50)",
         "figure": None if ttft_added is None else f"+{ttft_added:.3f} ms",
         "reached": verdict(None if ttft_added is None else ttft_added < 1.0)},
        {"goal": "< 150 MB resident when idle",
         "figure": None if idle is None else f"{idle:.0f} MB",
         "reached": verdict(None if idle is None else idle < 150)},
    ]


def added_lines(results: dict) -> list[str]:
    lines = []
    for target in ("bare", "gateway", "litellm"):
        p50 = get(results, target, "load", "1", "p50_ms")
        direct = get(results, "direct", "load", "1", "p50_ms")
        ttft, dttft = get(results, target, "stream", "ttft_p50_ms"), get(results, "direct", "stream", "ttft_p50_ms")
        total, dtotal = get(results, target, "stream", "total_p50_ms"), get(results, "direct", "stream", "total_p50_ms")
        if None in (p50, direct):
            continue
        text = f"{LABELS[target]}: +{p50 - direct:.3f} ms at p50 (c=1)"
        if None not in (ttft, dttft, total, dtotal):
            events = get(results, target, "stream", "runs")
            chunks = max(1, (events[0].get("content_events") if events else None) or results[target].get("chunks", 32))
            chunks = max(1, chunks - 1)
            per_chunk = ((total - ttft) - (dtotal - dttft)) / chunks
            text += (f", +{ttft - dttft:.3f} ms to TTFT, +{total - dtotal:.3f} ms to a whole stream "
                     f"(≈{per_chunk:.3f} ms per later chunk)")
        lines.append(text)
    return lines


def noise_lines(results: dict) -> list[str]:
    lines = []
    for name, res in results.items():
        runs = [r for c in (res.get("load") or {}).values() for r in c["runs"]] + list((res.get("stream") or {}).get("runs", []))
        worst = max((r.get("foreign_cpu_pct", 0.0) for r in runs), default=0.0)
        if worst > 10:
            noisy = sum(1 for r in runs if r.get("foreign_cpu_pct", 0.0) > 10)
            lines.append(f"{LABELS[name]}: other processes on the machine used up to {worst:.0f}% of a core during "
                         f"{noisy} of {len(runs)} runs; treat its figures with care")
    return lines


def render_text(results: dict, doc: dict) -> str:
    header, rows = table_rows(results)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    out = [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows), ""]
    out += ["added over direct: " + "; ".join(added_lines(results)) if added_lines(results) else ""]
    for g in doc["goals"]:
        mark = {True: "REACHED", False: "not reached", None: "not measured"}[g["reached"]]
        out.append(f"goal: {g['goal']:<42} {mark:<13} {g['figure'] or ''}")
    for name, res in results.items():
        if not res.get("available"):
            out.append(f"{LABELS[name]} skipped: {res.get('skipped')}")
    out += [f"noise: {line}" for line in noise_lines(results)]
    return "\n".join(out)


def render_markdown(results: dict, doc: dict) -> str:
    m = doc["machine"]
    s = doc["settings"]
    header, rows = table_rows(results)
    out = [
        f"Measured {doc['finished_at'][:16].replace('T', ' ')} UTC on {m['cpu']}, {m['cores']} cores, "
        f"Python {m['python']}, commit {m['git_commit']}{' (modified)' if m['gateway_tree_modified'] else ''}; "
        f"one worker each, {m['pinning']}; {s['duration']:g} s per cell, median of {s['repeats']}; "
        f"streams of {s['chunks']} content chunks, {s['stream_requests']} per repeat.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]
    for text in added_lines(results):
        out.append(f"- {text}")
    out.append("")
    out.append("| goal (issue 8) | figure | reached |")
    out.append("|---|---|---|")
    for g in doc["goals"]:
        mark = {True: "yes", False: "**no**", None: "not measured"}[g["reached"]]
        out.append(f"| {g['goal']} | {g['figure'] or '–'} | {mark} |")
    skipped = [f"- {LABELS[n]} skipped: {r.get('skipped')}" for n, r in results.items() if not r.get("available")]
    skipped += [f"- Noise: {line}" for line in noise_lines(results)]
    if skipped:
        out += ["", *skipped]
    versions = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v and k not in ("paramgate", "py-spy"))
    out += ["", f"Packages: {versions}; {m['wrk']}."]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def summary_text(summary: dict) -> str:
    lines = [f"gateway profile ({summary['samples']} on-CPU samples, non-stream, c=16): share of CPU by where it went"]
    for row in summary["buckets"][:16]:
        lines.append(f"  {row['share']:5.1f}%  {row['name']}")
    lines.append("  project functions, inclusive (self):")
    selfs = {row["name"]: row["share"] for row in summary["project_self"]}
    rows = [r for r in summary["project_functions"] if not r["name"].startswith(("gateway/cli.py", "gateway/__main__"))]
    for row in rows[:14]:
        lines.append(f"  {row['share']:5.1f}%  ({selfs.get(row['name'], 0.0):4.1f}%)  {row['name']}")
    return "\n".join(lines)
