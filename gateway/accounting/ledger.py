"""The usage ledger: every request's record goes to the spool first, then to the database.

``record()`` runs on the response path and costs one ``write(2)``; a background task moves
closed spool segments into ``usage_record`` and the daily rollup ``usage_daily`` in one
transaction, skipping request ids already there, so replaying a segment twice changes nothing.
At start, segments left by dead processes are replayed first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.accounting.spool import Spool
from gateway.storage.database import Database
from gateway.storage.models import UsageDaily, UsageRecord

# Inserts go through the tables (Core), not the ORM classes: the ORM's bulk path handles every
# row as an entity first (bench/limits_ledger.py: 22 against 18 µs per record on SQLite).
_RECORDS = UsageRecord.__table__
_DAILY = UsageDaily.__table__

log = logging.getLogger("gateway.ledger")

_ROLLUP_COLUMNS = ("requests", "errors", "fallbacks", "prompt_tokens", "completion_tokens", "cost", "latency_ms_total")


class Ledger:
    """Records usage durably and flushes it to the database in the background."""

    def __init__(self, db: Database, spool: Spool, flush_interval: float = 0.5) -> None:
        self.db = db
        self.spool = spool
        self.flush_interval = flush_interval
        self._task: asyncio.Task | None = None
        self._flush_lock = asyncio.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        """Append one request's usage (a ``UsageRecord`` as a dict); durable when this returns."""
        self.spool.append(entry)

    async def start(self) -> None:
        self.spool.open()
        await asyncio.to_thread(self.replay_orphans)
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()
        self.spool.close()

    async def flush(self) -> None:
        """Move every closed segment into the database now."""
        async with self._flush_lock:
            segments = self.spool.rotate()
            if segments:
                await asyncio.to_thread(self._flush_segments, segments)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except Exception:
                log.warning("ledger: flush to the database failed; the spool keeps the records", exc_info=True)

    def _flush_segments(self, segments: list[Path]) -> None:
        records = [r for segment in segments for r in Spool.read(segment)]
        if records:
            self.write(records)
        for segment in segments:
            segment.unlink(missing_ok=True)

    def replay_orphans(self) -> int:
        """Write what dead processes left in the spool; returns how many records were new."""
        written = 0
        for folder in self.spool.orphans():
            segments = sorted(folder.glob("*.jsonl"))
            records = [r for segment in segments for r in Spool.read(segment)]
            if records:
                written += self.write(records)
                log.info("ledger: replayed a dead process's spool", extra={"records": len(records)})
            self.spool.remove_orphan(folder)
        return written

    def write(self, records: list[dict[str, Any]]) -> int:
        """Insert records not yet in the ledger and add them to the daily rollup; returns how many were new."""
        by_id = {r["request_id"]: r for r in records}
        with self.db.session() as session:
            existing = set(
                session.execute(select(UsageRecord.request_id).where(UsageRecord.request_id.in_(list(by_id)))).scalars()
            )
            new = [r for request_id, r in by_id.items() if request_id not in existing]
            if not new:
                return 0
            rows = [_row(r) for r in new]
            session.execute(self._insert(_RECORDS).on_conflict_do_nothing(), rows)
            for values in _rollup(rows):
                statement = self._insert(_DAILY).values(**values)
                increments = {c: _DAILY.c[c] + statement.excluded[c] for c in _ROLLUP_COLUMNS}
                session.execute(
                    statement.on_conflict_do_update(index_elements=["tenant_id", "day", "model"], set_=increments)
                )
        return len(new)

    def spent_since(self, tenant_id: int, first_day: date) -> float:
        """What the tenant's requests cost from ``first_day`` (UTC) on, from the daily rollup."""
        with self.db.session() as session:
            total = session.execute(
                select(func.sum(UsageDaily.cost)).where(UsageDaily.tenant_id == tenant_id, UsageDaily.day >= first_day)
            ).scalar_one()
        return float(total or 0.0)

    def _insert(self, table):
        return (sqlite.insert if self.db.is_sqlite else postgresql.insert)(table)


def _row(record: dict[str, Any]) -> dict[str, Any]:
    # Every column in every row (a Core executemany takes its columns from the first row): a
    # record spooled before a column existed gets NULL there (policy_version, for one).
    row = {name: record.get(name) for name in _RECORDS.c.keys()}
    created = row.get("created_at")
    row["created_at"] = datetime.fromtimestamp(created, timezone.utc) if isinstance(created, (int, float)) else created
    return row


def _rollup(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    totals: dict[tuple, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(_ROLLUP_COLUMNS, 0))
    for row in rows:
        key = (row["tenant_id"], row["created_at"].date(), row["model"])
        total = totals[key]
        total["requests"] += 1
        total["errors"] += 1 if row["status"] >= 400 else 0
        total["fallbacks"] += 1 if row["fallback"] else 0
        total["prompt_tokens"] += row["prompt_tokens"]
        total["completion_tokens"] += row["completion_tokens"]
        total["cost"] += row["cost"]
        total["latency_ms_total"] += row["latency_ms"]
    return [{"tenant_id": t, "day": d, "model": m, **values} for (t, d, m), values in totals.items()]
