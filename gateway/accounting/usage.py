"""Reading the ledger back: daily rollups and single requests per tenant and date range, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

import msgspec
from sqlmodel import select

from gateway.errors import InvalidRequest
from gateway.storage.database import Database
from gateway.storage.models import Tenant, UsageDaily, UsageRecord
from gateway.tenants import find_tenant

DAILY_COLUMNS = (
    "tenant",
    "day",
    "model",
    "requests",
    "errors",
    "fallbacks",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "latency_ms_avg",
)
REQUEST_COLUMNS = (
    "request_id",
    "tenant",
    "key_id",
    "endpoint",
    "route",
    "backend",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "latency_ms",
    "ttft_ms",
    "status",
    "fallback",
    "created_at",
)
MAX_REQUEST_ROWS = 100_000


class UsageQuery(msgspec.Struct, forbid_unknown_fields=True):
    """Query parameters of ``GET /admin/api/usage``."""

    start: date
    end: date
    tenant: str | None = None
    group: Literal["daily", "requests"] = "daily"
    format: Literal["json", "csv"] = "json"


class UsageService:
    """Usage per tenant and date range (both ends inclusive, UTC days)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def rows(self, query: UsageQuery) -> list[dict]:
        if query.end < query.start:
            raise InvalidRequest("end must not be before start", param="end")
        with self.db.session() as session:
            tenant_filter = find_tenant(session, query.tenant).id if query.tenant else None
            names = {t.id: t.name for t in session.exec(select(Tenant))}
            if query.group == "daily":
                return self._daily(session, query, tenant_filter, names)
            return self._requests(session, query, tenant_filter, names)

    def _daily(self, session, query: UsageQuery, tenant_id: int | None, names: dict[int, str]) -> list[dict]:
        statement = select(UsageDaily).where(UsageDaily.day >= query.start, UsageDaily.day <= query.end)
        if tenant_id is not None:
            statement = statement.where(UsageDaily.tenant_id == tenant_id)
        rows = []
        for row in session.exec(statement.order_by(UsageDaily.day, UsageDaily.tenant_id, UsageDaily.model)):
            rows.append(
                {
                    "tenant": names.get(row.tenant_id, str(row.tenant_id)),
                    "day": row.day.isoformat(),
                    "model": row.model,
                    "requests": row.requests,
                    "errors": row.errors,
                    "fallbacks": row.fallbacks,
                    "prompt_tokens": row.prompt_tokens,
                    "completion_tokens": row.completion_tokens,
                    "cost": round(row.cost, 8),
                    "latency_ms_avg": round(row.latency_ms_total / row.requests, 3) if row.requests else 0.0,
                }
            )
        return rows

    def _requests(self, session, query: UsageQuery, tenant_id: int | None, names: dict[int, str]) -> list[dict]:
        start = datetime.combine(query.start, time.min, timezone.utc)
        end = datetime.combine(query.end + timedelta(days=1), time.min, timezone.utc)
        statement = select(UsageRecord).where(UsageRecord.created_at >= start, UsageRecord.created_at < end)
        if tenant_id is not None:
            statement = statement.where(UsageRecord.tenant_id == tenant_id)
        statement = statement.order_by(UsageRecord.created_at).limit(MAX_REQUEST_ROWS)
        rows = []
        for row in session.exec(statement):
            record = {column: getattr(row, column, None) for column in REQUEST_COLUMNS if column != "tenant"}
            record["tenant"] = names.get(row.tenant_id, str(row.tenant_id))
            record["created_at"] = row.created_at.isoformat()
            rows.append({column: record[column] for column in REQUEST_COLUMNS})
        return rows


def to_csv(rows: list[dict], group: str) -> str:
    """The rows as CSV with a header line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=DAILY_COLUMNS if group == "daily" else REQUEST_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
