"""Training jobs: launch through a runner, follow their progress file, finish, cancel, survive restarts.

A job's folder ``<root>/jobs/<job id>/`` holds ``spec.json``, ``train.log``, ``progress.jsonl``,
``metrics.json`` and ``adapter/``. The database row mirrors what the folder says each time
:meth:`JobService.refresh` runs (the console's polling and a background watcher both call it).
A job whose process is gone without a ``done`` line is marked failed, its log kept; on start-up
:meth:`JobService.recover` re-attaches to jobs that still run and settles the others.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import select

from gateway.storage.database import Database
from gateway.storage.models import utcnow
from training.artifact import ArtifactError, validate_adapter
from training.models import FINISHED_STATES, TrainingDataset, TrainingJob
from training.progress import read_progress
from training.runners.base import Runner, RunnerError
from training.spec import JobSpec, validate

log = logging.getLogger("training.jobs")


class JobError(ValueError):
    """A launch or action the service refuses; ``errors`` maps form fields to messages."""

    def __init__(self, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


Registrar = Callable[[TrainingJob, Path, dict[str, Any]], str | None]
"""Registers a validated adapter folder as an adapter version; returns its name (or None)."""


class JobService:
    def __init__(
        self, db: Database, root: Path, runners: Mapping[str, Runner], registrar: Registrar | None = None
    ) -> None:
        self.db = db
        self.root = root
        self.runners = dict(runners)
        self.registrar = registrar

    # -- launching ------------------------------------------------------------------------------------

    def build_spec(self, fields: dict[str, Any]) -> JobSpec:
        """A spec from form fields plus the dataset's path and hash; :class:`JobError` lists bad fields."""
        with self.db.session() as session:
            dataset = session.get(TrainingDataset, fields.get("dataset_id") or 0)
        if dataset is None or dataset.tenant_id != fields.get("tenant_id"):
            raise JobError("check the highlighted fields", {"dataset_id": "choose one of this tenant's datasets"})
        try:
            spec = JobSpec.from_dict({**fields, "dataset_path": dataset.path, "dataset_sha256": dataset.sha256})
        except Exception as exc:
            raise JobError(str(exc)) from exc
        errors = validate(spec)
        if spec.runner not in self.runners:
            errors["runner"] = f"the {spec.runner} runner is not available here"
        if errors:
            raise JobError("check the highlighted fields", errors)
        return spec

    def launch(self, spec: JobSpec, created_by: str = "") -> TrainingJob:
        job_id = uuid.uuid4().hex[:12]
        work_dir = self.root / "jobs" / job_id
        work_dir.mkdir(parents=True, exist_ok=True)
        spec = JobSpec.from_dict({**spec.as_dict(), "job_id": job_id, "output_dir": str(work_dir)})
        (work_dir / "spec.json").write_bytes(spec.to_json())
        job = TrainingJob(
            id=job_id,
            tenant_id=spec.tenant_id,
            dataset_id=spec.dataset_id,
            spec=spec.as_dict(),
            runner=spec.runner,
            state="queued",
            work_dir=str(work_dir),
            created_by=created_by,
        )
        with self.db.session() as session:
            session.add(job)
        try:
            launched = self.runners[spec.runner].launch(spec, work_dir)
        except (RunnerError, OSError) as exc:
            return self._update(job_id, state="failed", error=str(exc), finished_at=utcnow())
        return self._update(job_id, state="running", pid=launched.pid, started_at=utcnow())

    # -- reading --------------------------------------------------------------------------------------

    def get(self, job_id: str) -> TrainingJob | None:
        with self.db.session() as session:
            return session.get(TrainingJob, job_id)

    def list(self, tenant_id: int | None = None) -> list[TrainingJob]:
        with self.db.session() as session:
            query = select(TrainingJob).order_by(TrainingJob.created_at.desc())
            if tenant_id is not None:
                query = query.where(TrainingJob.tenant_id == tenant_id)
            return list(session.exec(query))

    def log_tail(self, job: TrainingJob, lines: int = 40) -> str:
        path = Path(job.work_dir) / "train.log"
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- following ------------------------------------------------------------------------------------

    def refresh(self, job_id: str) -> TrainingJob | None:
        """Bring the row up to date with the job's folder and process; settle it when the process ended."""
        job = self.get(job_id)
        if job is None or job.state in FINISHED_STATES:
            return job
        progress = read_progress(Path(job.work_dir) / "progress.jsonl")
        changes: dict[str, Any] = {
            "step": progress.step,
            "total_steps": progress.total_steps,
            "losses": progress.losses,
            "eta_seconds": progress.eta_seconds,
        }
        runner = self.runners.get(job.runner)
        alive = runner is not None and runner.alive(job.id, job.pid)
        if alive:
            return self._update(job.id, **changes)
        changes["finished_at"] = utcnow()
        if progress.done is not None:
            return self._succeed(job, progress.done, changes)
        code = runner.exit_code(job.id) if runner is not None else None
        reason = progress.error or (
            f"the training process exited with status {code}" if code is not None else "the training process is gone"
        )
        return self._settle(job.id, state="failed", error=f"{reason} (see the log)", **changes)[0]

    def _succeed(self, job: TrainingJob, done: dict[str, Any], changes: dict[str, Any]) -> TrainingJob:
        folder = Path(done.get("adapter") or Path(job.work_dir) / "adapter")
        try:
            facts = validate_adapter(folder, job.spec.get("lora_r"))
        except ArtifactError as exc:
            return self._settle(job.id, state="failed", error=f"the adapter is not valid: {exc}", **changes)[0]
        metrics = {**(done.get("metrics") or {}), "artifact": facts}
        job, won = self._settle(job.id, state="succeeded", artifact_path=str(folder), metrics=metrics, **changes)
        if not won:
            return job  # another refresh (a thread or another replica) settled it first
        if self.registrar is not None:
            try:
                name = self.registrar(job, folder, metrics)
            except Exception as exc:
                log.exception("training job %s: registering the adapter failed", job.id)
                return self._update(job.id, error=f"trained, but registering the adapter failed: {exc}")
            if name:
                job = self._update(job.id, adapter=name)
        return job

    def refresh_running(self) -> list[TrainingJob]:
        with self.db.session() as session:
            ids = list(session.exec(select(TrainingJob.id).where(TrainingJob.state.in_(["queued", "running"]))))
        return [job for job in (self.refresh(job_id) for job_id in ids) if job is not None]

    recover = refresh_running
    """On start-up: re-attach to jobs whose process still runs, settle the others (same as a refresh)."""

    def cancel(self, job_id: str) -> TrainingJob:
        job = self.get(job_id)
        if job is None:
            raise JobError("no such job")
        if job.state in FINISHED_STATES:
            raise JobError(f"the job has already {job.state}")
        settled, won = self._settle(job.id, state="cancelled", finished_at=utcnow(), error="cancelled by an operator")
        if not won:
            raise JobError(f"the job has already {settled.state}")
        runner = self.runners.get(job.runner)
        if runner is not None:
            runner.cancel(job.id, job.pid)
        return settled

    def _settle(self, job_id: str, **changes: Any) -> tuple[TrainingJob, bool]:
        """Finish a job once: only the refresh whose conditional update hits a live row wins."""
        with self.db.session() as session:
            won = session.execute(
                update(TrainingJob)
                .where(TrainingJob.id == job_id, TrainingJob.state.in_(["queued", "running"]))
                .values(**changes)
            ).rowcount
        return self.get(job_id), bool(won)

    def _update(self, job_id: str, **changes: Any) -> TrainingJob:
        with self.db.session() as session:
            job = session.get(TrainingJob, job_id)
            for key, value in changes.items():
                setattr(job, key, value)
            session.add(job)
            return job
