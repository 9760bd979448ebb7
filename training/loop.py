"""The learning loop's services, built from the gateway's ``Services`` for the console (nothing heavy at build)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.export import DatasetExporter
from training.gateway_calls import GatewayCompleter
from training.jobs import JobService
from training.judge import Judge
from training.labeling import LabelingService
from training.registration import adapter_registrar, canary_starter
from training.runners.kubernetes import KubernetesRunner
from training.runners.local import LocalRunner
from training.runners.mlx import MlxRunner
from training.sources import PairSources

log = logging.getLogger("training.loop")
WATCH_SECONDS = 2.0


@dataclass
class LearningLoop:
    """Pairs, labels, judge, export and jobs; ``start`` re-attaches jobs and follows them in the background."""

    root: Path
    labeling: LabelingService
    sources: PairSources
    judge: Judge
    exporter: DatasetExporter
    jobs: JobService
    canary: Any = None
    """The adapters' canary rollout, when this gateway has one."""
    event_loop: asyncio.AbstractEventLoop | None = None
    """The app's loop (backends belong to it): other threads submit coroutines there."""
    _watcher: asyncio.Task | None = field(default=None, repr=False)

    @classmethod
    def build(cls, services: Any) -> LearningLoop:
        db = services.db
        root = Path(services.settings.data_dir) / "training"
        completer = GatewayCompleter(services)
        labeling = LabelingService(db)
        runners = {"local": LocalRunner(), "mlx": MlxRunner(), "kubernetes": KubernetesRunner()}
        return cls(
            root=root,
            labeling=labeling,
            sources=PairSources(db, labeling, completer),
            judge=Judge(db, completer),
            exporter=DatasetExporter(db, root / "datasets"),
            jobs=JobService(db, root, runners, adapter_registrar(services)),
            canary=canary_starter(services),
        )

    async def start(self) -> None:
        self.event_loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self.jobs.recover)
        except Exception:
            log.exception("training: recovering jobs failed")
        self._watcher = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                await asyncio.to_thread(self.jobs.refresh_running)
            except Exception:
                log.exception("training: following jobs failed")

    def send_to_canary(self, job: Any, alias: str, percent: float) -> str:
        """Start a canary of the job's registered adapter on the tenant's ``alias``."""
        if self.canary is None or not job.adapter:
            raise LookupError("this gateway has no adapter registry to roll out from")
        return self.canary(job, alias, percent)
