"""SQL over the usage ledger (``usage_record``, ``usage_daily``) for the dashboard, usage, backends and request log.

Every query is one statement that works on SQLite and PostgreSQL alike; percentiles are the
nearest-rank kind, computed with window functions (``row_number`` over the bucket's latencies).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, cast, func, literal
from sqlalchemy.orm import Session
from sqlmodel import select

from admin.pagination import Page, offset
from gateway.storage.database import Database
from gateway.storage.models import Tenant, UsageDaily, UsageRecord

RANGES: dict[str, tuple[int, int]] = {
    # name: (bucket seconds, buckets)
    "1h": (300, 12),
    "24h": (3600, 24),
    "7d": (6 * 3600, 28),
    "30d": (86400, 30),
}
TOP_TENANTS = 6
OTHER = "other"


@dataclass(slots=True)
class Series:
    name: str
    values: list[float | None]


@dataclass(slots=True)
class Dashboard:
    range: str
    starts: list[datetime]
    bucket_seconds: int
    charts: dict[str, list[Series]]
    totals: dict[str, float | None]
    tenants: list[str]
    recent: list[dict[str, Any]] = field(default_factory=list)


def _bucket(session: Session, column, size: int):
    """The start of ``column``'s bucket of ``size`` seconds, as Unix seconds."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer) / size * size
    return cast(func.floor(func.extract("epoch", column) / size), BigInteger) * size


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _is_error():
    return case((UsageRecord.status >= 400, 1), else_=0)


def _percentiles(session: Session, keys: list, where, quantiles=(0.5, 0.99)) -> list[tuple]:
    """Rows of ``(*keys, p50, p99)`` over the successful requests matching ``where``."""
    partition = keys or [literal(1)]
    ranked = (
        select(
            *[k.label(f"k{i}") for i, k in enumerate(keys)],
            UsageRecord.latency_ms.label("latency"),
            func.row_number().over(partition_by=partition, order_by=UsageRecord.latency_ms).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(where, UsageRecord.status < 400)
        .subquery()
    )
    key_columns = [ranked.c[f"k{i}"] for i in range(len(keys))]
    statement = select(
        *key_columns,
        *[func.min(case((ranked.c.rn >= ranked.c.n * q, ranked.c.latency))) for q in quantiles],
    )
    if key_columns:
        statement = statement.group_by(*key_columns)
    return list(session.execute(statement).all())


class LedgerQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    # dashboard

    def dashboard(self, range_name: str, tenant: str | None, now: datetime | None = None) -> Dashboard:
        size, count = RANGES.get(range_name, RANGES["24h"])
        now = now or datetime.now(UTC)
        end_epoch = (int(now.timestamp()) // size + 1) * size
        start_epoch = end_epoch - size * count
        start = datetime.fromtimestamp(start_epoch, UTC)
        starts = [datetime.fromtimestamp(start_epoch + i * size, UTC) for i in range(count)]
        with self.db.session() as session:
            names = {t.id: t.name for t in session.exec(select(Tenant))}
            where = UsageRecord.created_at >= start
            if tenant:
                ids = [i for i, n in names.items() if n == tenant]
                where = and_(where, UsageRecord.tenant_id == (ids[0] if ids else -1))
            bucket = _bucket(session, UsageRecord.created_at, size)
            rows = session.execute(
                select(
                    bucket.label("bucket"),
                    UsageRecord.tenant_id,
                    func.count(),
                    func.sum(UsageRecord.prompt_tokens + UsageRecord.completion_tokens),
                    func.sum(UsageRecord.cost),
                    func.sum(_is_error()),
                    func.sum(case((UsageRecord.fallback, 1), else_=0)),
                )
                .where(where)
                .group_by(bucket, UsageRecord.tenant_id)
            ).all()
            latency = _percentiles(session, [bucket, UsageRecord.tenant_id], where)
            overall = _percentiles(session, [], where)
            recent = self._recent(session, where, names)

        per_tenant: dict[str, float] = defaultdict(float)
        for _, tenant_id, requests, *_ in rows:
            per_tenant[names.get(tenant_id, str(tenant_id))] += requests
        top = [n for n, _ in sorted(per_tenant.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TENANTS]]
        shown = top + ([OTHER] if len(per_tenant) > len(top) else [])

        def index(epoch: int) -> int | None:
            i = (int(epoch) - start_epoch) // size
            return i if 0 <= i < count else None

        metrics = ("requests", "tokens", "cost", "errors", "fallbacks")
        grids = {m: {n: [0.0] * count for n in shown} for m in metrics}
        totals: dict[str, float | None] = {m: 0.0 for m in metrics}
        for epoch, tenant_id, *values in rows:
            i = index(epoch)
            if i is None:
                continue
            name = names.get(tenant_id, str(tenant_id))
            name = name if name in top else OTHER
            for metric, value in zip(metrics, values, strict=True):
                grids[metric][name][i] += float(value or 0)
                totals[metric] += float(value or 0)
        p50 = {n: [None] * count for n in top}
        p99 = {n: [None] * count for n in top}
        for epoch, tenant_id, q50, q99 in latency:
            i, name = index(epoch), names.get(tenant_id, str(tenant_id))
            if i is not None and name in p50:
                p50[name][i], p99[name][i] = q50, q99
        charts = {m: [Series(n, grids[m][n]) for n in shown] for m in metrics}
        charts["latency"] = [Series(f"{n} p50", p50[n]) for n in top] + [Series(f"{n} p99", p99[n]) for n in top]
        totals["p50"], totals["p99"] = (overall[0][0], overall[0][1]) if overall else (None, None)
        return Dashboard(range_name, starts, size, charts, totals, shown, recent)

    def _recent(self, session: Session, where, names: dict[int, str], limit: int = 10) -> list[dict[str, Any]]:
        records = session.exec(select(UsageRecord).where(where).order_by(UsageRecord.created_at.desc()).limit(limit))
        return [_record_view(r, names) for r in records]

    # usage and quotas

    def usage(self, start: date, end: date, tenant: str | None, model: str | None, number: int, size: int) -> Page:
        """Per tenant and upstream model over ``start``..``end`` (UTC days, inclusive), from the daily rollups."""
        with self.db.session() as session:
            names = {t.id: t.name for t in session.exec(select(Tenant))}
            conditions = [UsageDaily.day >= start, UsageDaily.day <= end]
            if tenant:
                conditions.append(UsageDaily.tenant_id.in_([i for i, n in names.items() if n == tenant] or [-1]))
            if model:
                conditions.append(UsageDaily.model.contains(model, autoescape=True))
            grouped = (
                select(
                    UsageDaily.tenant_id,
                    UsageDaily.model,
                    func.sum(UsageDaily.requests).label("requests"),
                    func.sum(UsageDaily.errors).label("errors"),
                    func.sum(UsageDaily.fallbacks).label("fallbacks"),
                    func.sum(UsageDaily.prompt_tokens).label("prompt_tokens"),
                    func.sum(UsageDaily.completion_tokens).label("completion_tokens"),
                    func.sum(UsageDaily.cost).label("cost"),
                    func.sum(UsageDaily.latency_ms_total).label("latency_total"),
                )
                .join(Tenant, Tenant.id == UsageDaily.tenant_id)
                .where(*conditions)
                .group_by(UsageDaily.tenant_id, Tenant.name, UsageDaily.model)
            )
            total = session.execute(select(func.count()).select_from(grouped.subquery())).scalar_one()
            statement = grouped.order_by(Tenant.name, UsageDaily.model).offset(offset(number, size)).limit(size)
            rows = [
                {
                    "tenant": names.get(r.tenant_id, str(r.tenant_id)),
                    "model": r.model,
                    "requests": int(r.requests or 0),
                    "errors": int(r.errors or 0),
                    "fallbacks": int(r.fallbacks or 0),
                    "prompt_tokens": int(r.prompt_tokens or 0),
                    "completion_tokens": int(r.completion_tokens or 0),
                    "cost": float(r.cost or 0),
                    "latency_ms_avg": (float(r.latency_total or 0) / r.requests) if r.requests else None,
                }
                for r in session.execute(statement).all()
            ]
        return Page(rows, number, size, total)

    def quota_use(self, since: datetime, number: int, size: int, tenant: str | None = None) -> Page:
        """Tenants with a daily token quota and what they used since ``since``, fullest first."""
        with self.db.session() as session:
            used = (
                select(
                    UsageRecord.tenant_id.label("tenant_id"),
                    func.sum(UsageRecord.prompt_tokens + UsageRecord.completion_tokens).label("used"),
                )
                .where(UsageRecord.created_at >= since)
                .group_by(UsageRecord.tenant_id)
                .subquery()
            )
            used_tokens = func.coalesce(used.c.used, 0)
            statement = (
                select(Tenant.name, Tenant.daily_tokens, Tenant.enabled, used_tokens.label("used"))
                .outerjoin(used, used.c.tenant_id == Tenant.id)
                .where(Tenant.daily_tokens.is_not(None))
            )
            ratio = cast(used_tokens, BigInteger) * 1.0 / func.nullif(Tenant.daily_tokens, 0)
            found, total = _fullest_first(session, statement, func.coalesce(ratio, 0), tenant, number, size)
            rows = [
                {"tenant": name, "limit": limit, "used": int(used or 0), "enabled": enabled}
                for name, limit, enabled, used in found
            ]
        return Page(rows, number, size, total)

    def budget_use(self, first_day: date, number: int, size: int, tenant: str | None = None) -> Page:
        """Tenants with a monthly budget and what they spent from ``first_day`` on (daily rollups), fullest first."""
        with self.db.session() as session:
            spent = (
                select(UsageDaily.tenant_id.label("tenant_id"), func.sum(UsageDaily.cost).label("spent"))
                .where(UsageDaily.day >= first_day)
                .group_by(UsageDaily.tenant_id)
                .subquery()
            )
            spent_cost = func.coalesce(spent.c.spent, 0.0)
            statement = (
                select(Tenant.name, Tenant.monthly_budget, Tenant.enabled, spent_cost.label("spent"))
                .outerjoin(spent, spent.c.tenant_id == Tenant.id)
                .where(Tenant.monthly_budget.is_not(None))
            )
            ratio = spent_cost / func.nullif(Tenant.monthly_budget, 0.0)
            found, total = _fullest_first(session, statement, func.coalesce(ratio, 1.0), tenant, number, size)
            rows = [
                {"tenant": name, "budget": float(budget), "spent": float(used or 0), "enabled": enabled}
                for name, budget, enabled, used in found
            ]
        return Page(rows, number, size, total)

    # backends

    def backend_stats(self, since: datetime) -> dict[str, dict[str, Any]]:
        """Per backend since ``since``: requests, errors, p50 and p99 latency."""
        with self.db.session() as session:
            where = and_(UsageRecord.created_at >= since, UsageRecord.backend != "")
            counts = session.execute(
                select(UsageRecord.backend, func.count(), func.sum(_is_error()))
                .where(where)
                .group_by(UsageRecord.backend)
            ).all()
            latency = {b: (q50, q99) for b, q50, q99 in _percentiles(session, [UsageRecord.backend], where)}
        return {
            backend: {
                "requests": n,
                "errors": int(e or 0),
                "p50": latency.get(backend, (None, None))[0],
                "p99": latency.get(backend, (None, None))[1],
            }
            for backend, n, e in counts
        }

    # request log

    def requests(
        self,
        number: int,
        size: int,
        tenant: str | None = None,
        status: str | None = None,
        request_id: str | None = None,
        backend: str | None = None,
    ) -> Page:
        with self.db.session() as session:
            names = {t.id: t.name for t in session.exec(select(Tenant))}
            conditions = []
            if tenant:
                conditions.append(UsageRecord.tenant_id.in_([i for i, n in names.items() if n == tenant] or [-1]))
            if status == "ok":
                conditions.append(UsageRecord.status < 400)
            elif status == "error":
                conditions.append(UsageRecord.status >= 400)
            elif status == "fallback":
                conditions.append(UsageRecord.fallback)
            if request_id:
                conditions.append(UsageRecord.request_id.startswith(request_id, autoescape=True))
            if backend:
                conditions.append(UsageRecord.backend == backend)
            total = session.execute(select(func.count()).select_from(UsageRecord).where(*conditions)).scalar_one()
            records = session.exec(
                select(UsageRecord)
                .where(*conditions)
                .order_by(UsageRecord.created_at.desc(), UsageRecord.request_id)
                .offset(offset(number, size))
                .limit(size)
            )
            rows = [_record_view(r, names) for r in records]
        return Page(rows, number, size, total)

    def request(self, request_id: str) -> dict[str, Any] | None:
        with self.db.session() as session:
            record = session.get(UsageRecord, request_id)
            if record is None:
                return None
            tenant = session.get(Tenant, record.tenant_id)
            return _record_view(record, {record.tenant_id: tenant.name if tenant else str(record.tenant_id)})


def _record_view(record: UsageRecord, names: dict[int, str]) -> dict[str, Any]:
    return {
        "request_id": record.request_id,
        "tenant": names.get(record.tenant_id, str(record.tenant_id)),
        "tenant_id": record.tenant_id,
        "key_id": record.key_id,
        "endpoint": record.endpoint,
        "route": record.route,
        "backend": record.backend,
        "model": record.model,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "cost": record.cost,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.ttft_ms,
        "status": record.status,
        "fallback": record.fallback,
        "policy_version": record.policy_version,
        "created_at": _as_utc(record.created_at),
    }


def month_first_day(now: datetime) -> date:
    """The first day (UTC) of ``now``'s calendar month, when monthly budgets start over."""
    return now.astimezone(UTC).date().replace(day=1)


def quota_day_start(now: datetime, reset_hour: int) -> datetime:
    """When the current quota day began (daily quotas restart at ``limits.daily_reset_hour_utc``)."""
    start = now.astimezone(UTC).replace(hour=reset_hour, minute=0, second=0, microsecond=0)
    return start if start <= now else start - timedelta(days=1)


def _fullest_first(session: Any, statement: Any, ratio: Any, tenant: str | None, number: int, size: int):
    """One page of ``statement``'s tenants (or just ``tenant``), highest ``ratio`` first, and their count."""
    if tenant:
        statement = statement.where(Tenant.name == tenant)
    total = session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    page = statement.order_by(ratio.desc(), Tenant.name).offset(offset(number, size)).limit(size)
    return session.execute(page).all(), total
