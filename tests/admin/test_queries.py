"""The console's SQL (ledger charts, percentiles, usage, quotas, lists) and its accounts, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from admin.accounts import AccountService
from admin.ledger_queries import LedgerQueries, quota_day_start
from admin.listings import Listings
from admin.models import ConsoleUser
from admin.sessions import SessionStore
from admin.throttle import LoginThrottle
from gateway.storage.database import Database
from gateway.storage.models import ApiKey, Tenant, UsageDaily, UsageRecord

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def ledger(db: Database) -> Database:
    with db.session() as session:
        acme, beta = Tenant(name="acme", daily_tokens=1000), Tenant(name="beta")
        session.add_all([acme, beta])
        session.flush()
        session.add(ApiKey(id="key_a", tenant_id=acme.id, prefix="pg-a", key_hash="a" * 64))
        session.add(ApiKey(id="key_b", tenant_id=acme.id, prefix="pg-b", key_hash="b" * 64, revoked_at=NOW))
        for i in range(100):  # acme: 100 requests in the last hour, latency 1..100 ms, every 10th an error
            session.add(
                UsageRecord(
                    request_id=f"req_a{i:03d}",
                    tenant_id=acme.id,
                    key_id="key_a",
                    endpoint="chat",
                    route="qwen",
                    backend="gpu-1",
                    model="qwen",
                    prompt_tokens=3,
                    completion_tokens=2,
                    cost=0.001,
                    latency_ms=i + 1,
                    status=500 if i % 10 == 9 else 200,
                    fallback=i % 25 == 0,
                    created_at=NOW - timedelta(minutes=59) + timedelta(seconds=30 * i),
                )
            )
        session.add(
            UsageRecord(
                request_id="req_b000",
                tenant_id=beta.id,
                key_id="key_x",
                endpoint="chat",
                route="claude",
                backend="claude",
                model="claude-sonnet-4-5",
                prompt_tokens=10,
                completion_tokens=5,
                cost=0.5,
                latency_ms=900,
                created_at=NOW - timedelta(hours=5),
            )
        )
        session.add(
            UsageDaily(
                tenant_id=acme.id,
                day=NOW.date(),
                model="qwen",
                requests=100,
                errors=10,
                fallbacks=4,
                prompt_tokens=300,
                completion_tokens=200,
                cost=0.1,
                latency_ms_total=5050,
            )
        )
        session.add(
            UsageDaily(
                tenant_id=beta.id,
                day=NOW.date() - timedelta(days=1),
                model="claude-sonnet-4-5",
                requests=1,
                prompt_tokens=10,
                completion_tokens=5,
                cost=0.5,
                latency_ms_total=900,
            )
        )
    return db


def test_dashboard_buckets_counts_and_nearest_rank_percentiles(ledger: Database):
    data = LedgerQueries(ledger).dashboard("24h", None, now=NOW)
    assert len(data.starts) == 24 and data.bucket_seconds == 3600
    assert data.tenants == ["acme", "beta"]
    requests = {s.name: s.values for s in data.charts["requests"]}
    assert sum(requests["acme"]) == 100 and sum(requests["beta"]) == 1
    assert requests["beta"][-6] == 1  # five hours before the last bucket
    assert data.totals == pytest.approx(
        {"requests": 101, "tokens": 515, "cost": 0.6, "errors": 10, "fallbacks": 4, "p50": 51, "p99": 900}, rel=1e-9
    )
    # 91 successful latencies (acme 1..100 without the tenth ones, beta 900): nearest rank 46 → 51, rank 91 → 900
    latency = {s.name: [v for v in s.values if v is not None] for s in data.charts["latency"]}
    assert sum(latency["acme p50"]) > 0 and max(latency["acme p99"]) <= 99
    only_beta = LedgerQueries(ledger).dashboard("1h", "beta", now=NOW)
    assert only_beta.totals["requests"] == 0 and only_beta.totals["p50"] is None


def test_usage_quota_backends_and_request_log(ledger: Database):
    queries = LedgerQueries(ledger)
    usage = queries.usage(NOW.date() - timedelta(days=6), NOW.date(), None, None, 1, 25)
    assert [(r["tenant"], r["model"], r["requests"]) for r in usage.rows] == [
        ("acme", "qwen", 100),
        ("beta", "claude-sonnet-4-5", 1),
    ]
    assert usage.rows[0]["latency_ms_avg"] == pytest.approx(50.5)
    assert queries.usage(NOW.date(), NOW.date(), None, "claude", 1, 25).total == 0
    assert queries.usage(date(2020, 1, 1), date(2020, 1, 2), "acme", None, 1, 25).rows == []

    quotas = queries.quota_use(quota_day_start(NOW, 0), 1, 25)
    assert quotas.rows == [{"tenant": "acme", "limit": 1000, "used": 500, "enabled": True}]

    stats = queries.backend_stats(NOW - timedelta(hours=1))
    assert stats["gpu-1"]["requests"] == 100 and stats["gpu-1"]["errors"] == 10
    assert "claude" not in stats

    page = queries.requests(2, 30, tenant="acme", status="error")
    assert page.total == 10 and page.rows == []
    assert queries.requests(1, 30, status="fallback").total == 4
    assert [r["request_id"] for r in queries.requests(1, 5, request_id="req_b").rows] == ["req_b000"]
    assert queries.request("req_a001")["tenant"] == "acme"


def test_lists_paginate_in_sql(ledger: Database):
    listings = Listings(ledger)
    tenants = listings.tenants(1, 1)
    assert tenants.total == 2 and [r["tenant"].name for r in tenants.rows] == ["acme"]
    assert tenants.rows[0]["keys"] == 1  # active keys only
    assert listings.tenants(1, 10, "ET").rows[0]["tenant"].name == "beta"
    keys = listings.keys("acme", 1, 10)
    assert [(k["id"], k["state"]) for k in keys.rows] == [("key_a", "active"), ("key_b", "revoked")]
    chain, kinds = listings.audit(1, 10)
    assert chain.total == 0 and kinds == []


def test_accounts_sessions_and_throttle(db: Database):
    accounts = AccountService(db)
    generated = accounts.bootstrap("admin", None)
    assert generated and len(generated) >= 20
    assert accounts.bootstrap("admin", "other") is None  # only once
    with db.session() as session:
        stored = session.exec(select(ConsoleUser)).one()
    assert stored.password_hash.startswith("$argon2id$") and generated not in stored.password_hash
    assert accounts.authenticate("admin", "wrong") is None
    assert accounts.authenticate("nobody", generated) is None
    identity = accounts.authenticate("admin", generated)
    assert identity.role == "admin"

    sessions = SessionStore(db, max_age_seconds=3600, idle_seconds=600)
    token = sessions.create(identity, "127.0.0.1")
    assert sessions.load(token).login == "admin"
    assert sessions.load(token + "x") is None
    sessions.delete(token)
    assert sessions.load(token) is None

    oidc = accounts.oidc_user("https://idp", "sub-1", "reviewer", "Rob", "rob@example.com")
    assert oidc.role == "reviewer" and oidc.login == "oidc:https://idp|sub-1"
    assert accounts.oidc_user("https://idp", "sub-1", "admin", "Rob", "").role == "admin"

    throttle = LoginThrottle(db, max_failures=2, window_seconds=60)
    assert throttle.retry_after("10.0.0.1", "admin") == 0
    throttle.failed("10.0.0.1", "admin")
    throttle.failed("10.0.0.2", "admin")
    assert 0 < throttle.retry_after("10.0.0.3", "Admin") <= 61  # per user name, any address
    throttle.succeeded("admin")
    assert throttle.retry_after("10.0.0.3", "admin") == 0
