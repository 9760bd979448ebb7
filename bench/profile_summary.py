"""Summarise a py-spy ``--format raw`` (collapsed stacks) profile of the gateway.

    python bench/profile_summary.py bench/profiles/gateway-nonstream-c16.txt

Every on-CPU sample is given to one bucket: walking its stack from the leaf towards the
root, the first frame that belongs to a known library or to the project decides (so a
``typing`` helper called by Litestar's DI counts as Litestar DI, and C code such as msgspec
or uvloop counts for the Python frame that called it). Also listed: the project's own
functions by inclusive and by self share.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# (bucket, predicate on the frame's file path), checked in order for each frame.
_BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("prometheus_client (metrics)", ("prometheus_client/",)),
    ("logging", ("/logging/", "logging/__init__.py")),
    ("secrets / uuid (ids)", ("/secrets.py", "/uuid.py")),
    ("Litestar DI + kwargs + signature model", ("litestar/_kwargs/", "litestar/_signature/", "litestar/di.py")),
    ("Litestar response building", ("litestar/response/", "litestar/datastructures/", "litestar/serialization/")),
    ("Litestar request / connection", ("litestar/connection/", "litestar/_parsers")),
    ("Litestar routing, ASGI app, middleware", ("litestar/",)),
    ("httpx (client, request/response models)", ("httpx/",)),
    ("httpcore (pool, HTTP/1.1)", ("httpcore/",)),
    ("h11 (HTTP/1.1 parser for httpcore)", ("h11/",)),
    ("anyio (httpcore's I/O)", ("anyio/",)),
    ("uvicorn (HTTP server, httptools protocol)", ("uvicorn/",)),
    ("asyncio (tasks, streams, event loop glue)", ("asyncio/",)),
    ("sqlalchemy / sqlmodel (database)", ("sqlalchemy/", "sqlmodel/")),
]


_PACKAGES = ("gateway", "backends", "admin", "training")


def _project_module(file: str) -> str | None:
    """``gateway/chat.py`` for a frame in the project's own packages (py-spy ``--full-filenames``)."""
    if not file.endswith(".py") or "site-packages" in file or "/lib/python" in file or "/.venv" in file:
        return None
    parts = file.replace("\\", "/").split("/")
    for index, part in enumerate(parts[:-1]):
        if part in _PACKAGES and (index == 0 or file.startswith("/")):
            return "/".join(parts[index:])
    return None


def _background(frames: list[tuple[str, str]]) -> str | None:
    """For a sample from a thread other than the event loop's: what that thread runs."""
    if not frames or not frames[0][1].endswith("threading.py"):
        return None
    for func, file in frames:
        if file.endswith(("threading.py", "concurrent/futures/thread.py")):
            continue
        module = _project_module(file)
        where = module or "/".join(file.split("/")[-2:])
        return f"background thread: {func} ({where})"
    return "background thread: idle bookkeeping"


def _parse(line: str) -> tuple[list[tuple[str, str]], int] | None:
    line = line.rstrip("\n")
    stack, _, count = line.rpartition(" ")
    if not stack or not count.isdigit():
        return None
    frames = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw)
        frames.append((match.group("func"), match.group("file")) if match else (raw, ""))
    return frames, int(count)


def _bucket(frames: list[tuple[str, str]]) -> str:
    background = _background(frames)
    if background is not None:
        return background
    for func, file in reversed(frames):
        module = _project_module(file)
        if module is not None:
            return f"project code, self time: {module}"
        for name, needles in _BUCKETS:
            if any(n in file for n in needles):
                return name
    return "other (interpreter, stdlib, event loop)"


def summarize(path: Path, root: Path | None = None) -> dict:
    buckets: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        parsed = _parse(line)
        if parsed is None:
            continue
        frames, count = parsed
        total += count
        buckets[_bucket(frames)] += count
        seen = set()
        leaf_project = None
        for func, file in frames:
            module = _project_module(file)
            if module is None:
                continue
            name = f"{module}:{func}"
            leaf_project = name
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
        if leaf_project is not None and _project_module(frames[-1][1]) is not None:
            self_time[leaf_project] += count

    def rows(counter: Counter[str], limit: int) -> list[dict]:
        return [
            {"name": name, "samples": n, "share": round(100 * n / total, 2)}
            for name, n in counter.most_common(limit)
        ]

    return {
        "profile": str(path if root is None else path.resolve().relative_to(root.resolve())),
        "samples": total,
        "buckets": rows(buckets, 40),
        "project_functions": rows(inclusive, 40),
        "project_self": rows(self_time, 25),
    }


def main() -> None:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    summary = summarize(Path(sys.argv[1]))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
