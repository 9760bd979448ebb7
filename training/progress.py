"""The progress file a training process appends to and the console reads: one JSON object per line.

{"event": "start", "total_steps": 20}
{"event": "step", "step": 3, "loss": 0.69, "eta_seconds": 4.2}
{"event": "done", "metrics": {...}, "adapter": "/path/to/adapter"}
{"event": "error", "message": "..."}
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ProgressWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "time": time.time(), **fields})
        with self.path.open("a") as handle:
            handle.write(line + "\n")
            handle.flush()


@dataclass(slots=True)
class Progress:
    step: int = 0
    total_steps: int | None = None
    losses: list[list[float]] = field(default_factory=list)
    eta_seconds: float | None = None
    done: dict[str, Any] | None = None
    error: str | None = None


def read_progress(path: Path) -> Progress:
    """Everything the file says so far (a half-written last line is ignored)."""
    progress = Progress()
    if not path.exists():
        return progress
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        event = entry.get("event")
        if event == "start":
            progress.total_steps = entry.get("total_steps")
        elif event == "step":
            progress.step = int(entry.get("step", progress.step))
            if entry.get("loss") is not None:
                progress.losses.append([progress.step, float(entry["loss"])])
            progress.eta_seconds = entry.get("eta_seconds")
        elif event == "done":
            progress.done = entry
            progress.eta_seconds = 0.0
        elif event == "error":
            progress.error = str(entry.get("message", "training failed"))
    return progress
