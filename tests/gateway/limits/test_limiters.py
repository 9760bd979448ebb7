"""The limiter rules, checked on the in-memory limiter and on the Redis one with the same tests."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
import redis

from gateway.errors import RateLimited
from gateway.limits.limiter import Subject, format_duration
from gateway.limits.memory import InMemoryLimiter
from gateway.limits.redis_limiter import RedisLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_unavailable() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL} does not answer ({type(exc).__name__})"
    return None


@pytest.fixture(params=["memory", "redis"])
async def limiter(request):
    if request.param == "memory":
        yield InMemoryLimiter()
        return
    reason = _redis_unavailable()
    if reason:
        pytest.skip(reason)
    # Exactness is under test here, not latency: a loaded CI machine must not turn a slow pool
    # checkout into a lost admission.
    shared = RedisLimiter(REDIS_URL, timeout=30, pool_timeout=30)
    yield shared
    await shared.aclose()


def subject(**limits) -> Subject:
    return Subject(f"tenant:test-{secrets.token_hex(6)}", **limits)


async def test_requests_per_minute_admit_exactly_the_limit_under_concurrency(limiter):
    tenant = subject(rpm=50)
    results = await asyncio.gather(
        *(limiter.admit(f"r{i}", (tenant,), 1) for i in range(200)), return_exceptions=True
    )
    admitted = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, RateLimited)]
    failed = [r for r in results if isinstance(r, Exception) and not isinstance(r, RateLimited)]
    assert not failed, f"the limiter itself failed: {failed[:3]!r}"
    assert len(admitted) == 50 and len(refused) == 150
    error = refused[0]
    assert error.status == 429 and error.code == "rate_limit_exceeded"
    assert error.headers["x-ratelimit-limit-requests"] == "50"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    assert 55 <= int(error.headers["retry-after"]) <= 60


async def test_headers_count_down(limiter):
    tenant = subject(rpm=3, tps=10)
    first = await limiter.admit("a", (tenant,), 100)
    second = await limiter.admit("b", (tenant,), 100)
    assert first.headroom.headers()["x-ratelimit-remaining-requests"] == "2"
    assert second.headroom.headers()["x-ratelimit-remaining-requests"] == "1"
    assert second.headroom.headers()["x-ratelimit-limit-tokens"] == "600"
    assert int(second.headroom.headers()["x-ratelimit-remaining-tokens"]) in range(399, 402)


async def test_tokens_are_reserved_then_settled(limiter):
    tenant = subject(tps=10)
    big = await limiter.admit("a", (tenant,), 500)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit("b", (tenant,), 200)
    assert caught.value.headers["x-ratelimit-limit-tokens"] == "600"
    await limiter.settle(big, 50)
    assert await limiter.admit("c", (tenant,), 200)


async def test_concurrency_counts_requests_in_flight(limiter):
    tenant = subject(max_concurrency=2)
    a = await limiter.admit("a", (tenant,), 1)
    await limiter.admit("b", (tenant,), 1)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit("c", (tenant,), 1)
    assert caught.value.code == "concurrency_limit_exceeded"
    await limiter.settle(a, 1)
    assert await limiter.admit("d", (tenant,), 1)


async def test_daily_quota_reserves_estimates_and_settles_to_usage(limiter):
    tenant = subject(daily_tokens=1000)
    first = await limiter.admit("a", (tenant,), 800)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit("b", (tenant,), 300)
    assert caught.value.code == "insufficient_quota" and caught.value.type == "insufficient_quota"
    await limiter.settle(first, 100)
    second = await limiter.admit("c", (tenant,), 850)
    await limiter.settle(second, 900)
    with pytest.raises(RateLimited):
        await limiter.admit("d", (tenant,), 1)


async def test_a_refusal_by_one_subject_counts_nothing_anywhere(limiter):
    tenant, key = subject(rpm=10, daily_tokens=1000), subject(rpm=1)
    await limiter.admit("a", (tenant, key), 100)
    for i in range(5):
        with pytest.raises(RateLimited):
            await limiter.admit(f"b{i}", (tenant, key), 100)
    admitted = await limiter.admit("c", (tenant,), 100)
    assert admitted.headroom.remaining_requests == 8, "the key's refusals did not count against the tenant"


async def test_settling_twice_changes_nothing(limiter):
    tenant = subject(daily_tokens=100)
    admission = await limiter.admit("a", (tenant,), 60)
    await limiter.settle(admission, 10)
    await limiter.settle(admission, 10)
    assert await limiter.admit("b", (tenant,), 90)


def test_the_request_window_slides_and_the_bucket_refills():
    now = [1_000_000.0]
    limiter = InMemoryLimiter(clock=lambda: now[0])
    tenant = subject(rpm=2, tps=1)

    async def scenario():
        await limiter.admit("a", (tenant,), 30)
        now[0] += 30
        await limiter.admit("b", (tenant,), 30)
        with pytest.raises(RateLimited) as caught:
            await limiter.admit("c", (tenant,), 1)
        assert caught.value.headers["retry-after"] == "30"
        now[0] += 30.001
        assert await limiter.admit("d", (tenant,), 1), "the first admission left the window"

    asyncio.run(scenario())


def test_the_daily_quota_starts_again_at_the_configured_hour():
    day_start = 86400 * 20_000 + 6 * 3600
    now = [day_start - 60.0]
    limiter = InMemoryLimiter(reset_hour_utc=6, clock=lambda: now[0])
    tenant = subject(daily_tokens=10)

    async def scenario():
        await limiter.admit("a", (tenant,), 10)
        with pytest.raises(RateLimited) as caught:
            await limiter.admit("b", (tenant,), 1)
        assert caught.value.headers["retry-after"] == "60"
        now[0] = day_start + 1
        assert await limiter.admit("c", (tenant,), 10)

    asyncio.run(scenario())


def test_reset_durations_are_formatted_like_openai():
    assert [format_duration(s) for s in (0.02, 1.5, 59, 360, 3723)] == ["20ms", "1.5s", "59s", "6m0s", "1h2m3s"]


async def test_redis_leases_of_a_crashed_replica_expire():
    reason = _redis_unavailable()
    if reason:
        pytest.skip(reason)
    crashed = RedisLimiter(REDIS_URL, lease_seconds=0.3)
    tenant = subject(max_concurrency=1)
    await crashed.admit("lost", (tenant,), 1)
    with pytest.raises(RateLimited):
        await crashed.admit("next", (tenant,), 1)
    time.sleep(0.35)
    assert await crashed.admit("after", (tenant,), 1)
    await crashed.aclose()
