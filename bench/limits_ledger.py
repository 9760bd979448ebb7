"""What admission control and the usage ledger add to one request, in-memory and with Redis.

    python bench/limits_ledger.py [--requests 5000]

Measures, per request: admit + settle on the in-memory limiter and on the Redis limiter (a
tenant with rpm, tps, concurrency and a daily quota, all four checked), the ledger's
``record()`` (the spool write on the response path, with and without fsync), and the
background flush to SQLite and PostgreSQL per record. Prints p50/p99 in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from gateway.accounting.ledger import Ledger
from gateway.accounting.spool import Spool
from gateway.limits.limiter import Subject
from gateway.limits.memory import InMemoryLimiter
from gateway.limits.redis_limiter import RedisLimiter
from gateway.storage.database import Database
from gateway.storage.models import Tenant

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def limiter_cost(limiter, requests: int) -> list[float]:
    subject = Subject(f"tenant:bench-{secrets.token_hex(4)}", rpm=10**9, tps=10**9, daily_tokens=10**15,
                      max_concurrency=10**6)
    samples = []
    for i in range(requests):
        started = time.perf_counter()
        admission = await limiter.admit(f"r{i}", (subject,), 600)
        await limiter.settle(admission, 420)
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def record(i: int) -> dict:
    return {"request_id": f"req_{secrets.token_hex(8)}_{i}", "tenant_id": 1, "key_id": "key_bench", "endpoint": "chat",
            "route": "qwen", "backend": "gpu", "model": "qwen", "prompt_tokens": 120, "completion_tokens": 300,
            "cost": 0.00042, "latency_ms": 812.5, "ttft_ms": 95.1, "status": 200, "fallback": False,
            "created_at": time.time()}


def spool_cost(folder: Path, requests: int, fsync: bool) -> list[float]:
    spool = Spool(folder, fsync=fsync)
    spool.open()
    samples = []
    for i in range(requests):
        entry = record(i)
        started = time.perf_counter()
        spool.append(entry)
        samples.append((time.perf_counter() - started) * 1e6)
    spool.close()
    return samples


def flush_cost(url: str, folder: Path, batches: int, batch: int) -> list[float]:
    db = Database(url)
    db.migrate()
    with db.session() as session:
        if session.get(Tenant, 1) is None:
            session.add(Tenant(id=1, name=f"bench-{secrets.token_hex(3)}"))
    ledger = Ledger(db, Spool(folder))
    samples = []
    for _ in range(batches):
        records = [record(i) for i in range(batch)]
        started = time.perf_counter()
        ledger.write(records)
        samples.append((time.perf_counter() - started) * 1e6 / batch)
    db.dispose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    rows: list[tuple[str, float, float]] = []
    rows.append(("limiter: in-memory admit + settle", *percentiles(asyncio.run(limiter_cost(InMemoryLimiter(), args.requests)))))

    async def redis_run() -> list[float]:
        limiter = RedisLimiter(REDIS_URL, key_prefix=f"bench-{secrets.token_hex(3)}")
        try:
            return await limiter_cost(limiter, args.requests)
        finally:
            await limiter.aclose()

    try:
        rows.append(("limiter: Redis admit + settle (2 round trips)", *percentiles(asyncio.run(redis_run()))))
    except Exception as exc:
        print(f"Redis limiter skipped: {exc}")
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("ledger: record() to the spool", *percentiles(spool_cost(Path(tmp) / "a", args.requests, False))))
        rows.append(("ledger: record() to the spool, fsync", *percentiles(spool_cost(Path(tmp) / "b", 500, True))))
        rows.append(("ledger: background flush, SQLite, per record (batches of 100)",
                     *percentiles(flush_cost(f"sqlite:///{tmp}/bench.db", Path(tmp) / "c", 30, 100))))
        try:
            rows.append(("ledger: background flush, PostgreSQL, per record (batches of 100)",
                         *percentiles(flush_cost(POSTGRES_URL, Path(tmp) / "d", 30, 100))))
        except Exception as exc:
            print(f"PostgreSQL flush skipped: {exc}")
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what (per request)':<{width}}  {'p50 µs':>9}  {'p99 µs':>9}")
    for name, p50, p99 in rows:
        print(f"{name:<{width}}  {p50:>9.1f}  {p99:>9.1f}")
    print("\nOn the response path: the limiter's admit + settle and the spool write; the flush runs in the background.")


if __name__ == "__main__":
    main()
