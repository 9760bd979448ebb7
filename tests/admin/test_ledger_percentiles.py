"""Dashboard latency percentiles come from the raw ledger rows of each bucket and tenant (never averaged);
monthly budget use per tenant. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from admin.ledger_queries import LedgerQueries, month_first_day
from gateway.storage.database import Database
from gateway.storage.models import Tenant, UsageDaily, UsageRecord

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def record(n: int, tenant_id: int, latency: float, at: datetime, status: int = 200) -> UsageRecord:
    return UsageRecord(
        request_id=f"req_{tenant_id}_{n:04d}",
        tenant_id=tenant_id,
        key_id="key_x",
        endpoint="chat",
        route="qwen",
        backend="gpu",
        model="qwen",
        latency_ms=latency,
        status=status,
        created_at=at,
    )


def test_each_bucket_s_percentiles_are_its_own_rows_nearest_rank(db: Database):
    with db.session() as session:
        acme, beta = Tenant(name="acme"), Tenant(name="beta")
        session.add_all([acme, beta])
        session.flush()
        early, late = NOW - timedelta(hours=3), NOW - timedelta(minutes=5)
        rows = [record(i, acme.id, 10.0, early) for i in range(98)]  # bucket 1: 98 × 10 ms, then 1000 and 2000
        rows += [record(98, acme.id, 1000.0, early), record(99, acme.id, 2000.0, early)]
        rows += [record(100 + i, acme.id, 500.0 + i, late) for i in range(4)]  # bucket 2: 500..503 ms
        rows += [record(200, acme.id, 9999.0, late, status=500)]  # failures do not count
        rows += [record(i, beta.id, 1.0, late) for i in range(3)]
        session.add_all(rows)
    data = LedgerQueries(db).dashboard("24h", None, now=NOW)
    latency = {s.name: s.values for s in data.charts["latency"]}
    index_early = next(i for i, start in enumerate(data.starts) if start <= early < start + timedelta(hours=1))
    index_late = len(data.starts) - 1
    # nearest rank over the 100 rows of the early bucket: p50 = rank 50 → 10, p99 = rank 99 → 1000
    assert (latency["acme p50"][index_early], latency["acme p99"][index_early]) == (10.0, 1000.0)
    # the late bucket: 4 rows → p50 = rank 2 → 501, p99 = rank 4 → 503 (the 500 status is left out)
    assert (latency["acme p50"][index_late], latency["acme p99"][index_late]) == (501.0, 503.0)
    assert (latency["beta p50"][index_late], latency["beta p99"][index_late]) == (1.0, 1.0)
    # overall: the 107 successful rows together, not an average of the buckets' percentiles
    assert data.totals["p50"] == 10.0 and data.totals["p99"] == 1000.0


def test_budget_use_lists_tenants_with_a_budget_fullest_first(db: Database):
    first = month_first_day(NOW)
    with db.session() as session:
        acme = Tenant(name="acme", monthly_budget=10.0)
        beta = Tenant(name="beta", monthly_budget=100.0)
        gamma = Tenant(name="gamma")
        session.add_all([acme, beta, gamma])
        session.flush()
        for tenant, day, cost in (
            (acme, first, 4.0),
            (acme, NOW.date(), 5.0),
            (acme, first - timedelta(days=1), 50.0),  # last month: not counted
            (beta, NOW.date(), 20.0),
            (gamma, NOW.date(), 99.0),
        ):
            session.add(UsageDaily(tenant_id=tenant.id, day=day, model="qwen", requests=1, cost=cost))
    page = LedgerQueries(db).budget_use(first, 1, 25)
    assert [(r["tenant"], r["spent"], r["budget"]) for r in page.rows] == [("acme", 9.0, 10.0), ("beta", 20.0, 100.0)]
    assert LedgerQueries(db).budget_use(first, 1, 25, "beta").total == 1
    assert first == date(2026, 11, 1)
