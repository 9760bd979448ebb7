"""The router's decision log: buffered in memory, written to ``intent_decision`` in batches."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from gateway.knowledge.models import IntentDecision
from gateway.storage.database import Database
from gateway.storage.models import utcnow

log = logging.getLogger("gateway.knowledge")

_MAX_BUFFERED = 10_000


@dataclass(frozen=True, slots=True)
class Decision:
    tenant_id: int
    request_id: str
    intent: str | None
    target: str
    confidence: float
    fell_back: bool
    created_at: datetime = field(default_factory=utcnow)


class DecisionLog:
    """``record`` is cheap (no I/O); a background task flushes every ``interval`` seconds and at stop."""

    def __init__(self, db: Database, interval: float = 1.0) -> None:
        self.db = db
        self.interval = interval
        self._pending: list[Decision] = []
        self._task: asyncio.Task | None = None

    def record(self, decision: Decision) -> None:
        if len(self._pending) < _MAX_BUFFERED:
            self._pending.append(decision)

    def flush(self) -> int:
        """Write what is buffered (blocking); returns how many rows were written."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        try:
            with self.db.session() as session:
                session.add_all(
                    IntentDecision(
                        tenant_id=d.tenant_id,
                        request_id=d.request_id[:64],
                        intent=d.intent,
                        target=d.target[:128],
                        confidence=d.confidence,
                        fell_back=d.fell_back,
                        created_at=d.created_at,
                    )
                    for d in pending
                )
        except Exception:
            log.warning("knowledge: could not write %d router decisions; will retry", len(pending))
            self._pending = pending + self._pending
            return 0
        return len(pending)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self._pending:
                await asyncio.to_thread(self.flush)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await asyncio.to_thread(self.flush)


@dataclass(frozen=True, slots=True)
class DecisionSummary:
    """How often each target was chosen since a moment, and the confidence histogram (10 bins of 0.1)."""

    total: int
    by_target: list[tuple[str, int, int]]
    histogram: list[int]
    fell_back: int


def summarise(db: Database, since: datetime, tenant_id: int | None = None) -> DecisionSummary:
    """Counts for the dashboard (one grouped query; the histogram is computed from binned counts)."""
    from sqlalchemy import func
    from sqlmodel import select

    bin_index = func.floor(IntentDecision.confidence * 10)
    query = select(
        IntentDecision.target,
        IntentDecision.fell_back,
        bin_index,
        func.count(),
    ).where(IntentDecision.created_at >= since)
    if tenant_id is not None:
        query = query.where(IntentDecision.tenant_id == tenant_id)
    query = query.group_by(IntentDecision.target, IntentDecision.fell_back, bin_index)
    by_target: dict[str, list[int]] = {}
    histogram = [0] * 10
    total = fell_back = 0
    with db.session() as session:
        for target, fallback, bucket, count in session.exec(query):
            counts = by_target.setdefault(target, [0, 0])
            counts[0] += count
            if fallback:
                counts[1] += count
                fell_back += count
            histogram[min(9, max(0, int(bucket or 0)))] += count
            total += count
    rows = sorted(((t, c[0], c[1]) for t, c in by_target.items()), key=lambda r: -r[1])
    return DecisionSummary(total, rows, histogram, fell_back)
