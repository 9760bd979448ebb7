"""The runner interface every job runner implements."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from training.spec import JobSpec


class RunnerError(RuntimeError):
    """The runner could not start or reach the job."""


@dataclass(slots=True)
class Launched:
    """What a runner hands back: a process id (local runners) and/or an external reference."""

    pid: int | None = None
    reference: str | None = None


class Runner(Protocol):
    name: str

    def launch(self, spec: JobSpec, work_dir: Path) -> Launched:
        """Start the job; ``work_dir`` holds ``spec.json`` and receives ``train.log`` and ``progress.jsonl``."""

    def alive(self, job_id: str, pid: int | None) -> bool:
        """Whether the job's process still runs (also for jobs launched before a restart)."""

    def exit_code(self, job_id: str) -> int | None:
        """The exit status when this runner saw the process end (``None`` if unknown or still running)."""

    def cancel(self, job_id: str, pid: int | None) -> None:
        """Stop the job (terminate, then kill)."""
