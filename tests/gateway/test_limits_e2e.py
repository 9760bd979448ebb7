"""Limits as clients meet them: exact admission under concurrency, on one process and on two sharing Redis."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx
import openai
import pytest

from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import running_gateway, settings_for
from tests.gateway.limits.test_limiters import REDIS_URL, _redis_unavailable
from tests.gateway.processes import GatewayProcess
from tests.gateway.test_chat_proxy import HELLO


async def _burst(urls: list[str], key: str, count: int) -> list[int]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=count)) as client:
        async def one(i: int) -> int:
            url = urls[i % len(urls)]
            response = await client.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                                         json={"model": "qwen", "messages": HELLO, "max_tokens": 5})
            return response.status_code

        return await asyncio.gather(*(one(i) for i in range(count)))


def test_200_concurrent_requests_against_a_limit_of_50_admit_exactly_50(stack):
    key = stack.gateway.tenant("burst", rpm=50)
    statuses = asyncio.run(_burst([stack.gateway.url], key, 200))
    assert statuses.count(200) == 50 and statuses.count(429) == 150


def test_refusals_and_successes_carry_openai_s_rate_limit_headers(stack):
    key = stack.gateway.tenant("small", rpm=2, tps=100)
    client = stack.gateway.openai(key)
    first = client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO, max_tokens=10)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-limit-tokens"] == "6000"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    client.chat.completions.create(model="qwen", messages=HELLO, max_tokens=10)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="qwen", messages=HELLO, max_tokens=10)
    error = caught.value
    assert error.body["code"] == "rate_limit_exceeded" and error.body["type"] == "rate_limit_exceeded"
    assert int(error.response.headers["retry-after"]) >= 1
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"


def test_a_daily_quota_is_settled_to_real_usage(stack):
    key = stack.gateway.tenant("quota", daily_tokens=60)
    client = stack.gateway.openai(key)
    client.chat.completions.create(model="qwen", messages=HELLO, max_tokens=20)
    client.chat.completions.create(model="qwen", messages=HELLO, max_tokens=20)
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(20):
            client.chat.completions.create(model="qwen", messages=HELLO, max_tokens=20)
    assert caught.value.body["code"] == "insufficient_quota"


def test_concurrency_limit_refuses_the_request_over_it(stack):
    key = stack.gateway.tenant("conc", max_concurrency=1)
    stack.gpu1.delay_next(1.0, n=1)

    async def two() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            async def call(delay: float) -> int:
                await asyncio.sleep(delay)
                response = await client.post(f"{stack.gateway.url}/v1/chat/completions",
                                             headers={"authorization": f"Bearer {key}"},
                                             json={"model": "qwen", "messages": HELLO})
                return response.status_code if response.status_code == 200 else response.json()["error"]["code"]

            return await asyncio.gather(call(0), call(0.3))

    assert sorted(map(str, asyncio.run(two()))) == ["200", "concurrency_limit_exceeded"]


def test_a_key_s_own_limit_applies_on_top_of_its_tenant_s(stack):
    stack.gateway.tenant("keyed", rpm=100)
    key = stack.gateway.key("keyed", rpm=1)
    client = stack.gateway.openai(key)
    client.chat.completions.create(model="qwen", messages=HELLO)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="qwen", messages=HELLO)
    other = stack.gateway.openai(stack.gateway.key("keyed"))
    assert other.chat.completions.create(model="qwen", messages=HELLO).choices


@pytest.mark.parametrize("mode, expected", [("open", 200), ("closed", 503)])
def test_an_unreachable_redis_fails_open_or_closed_as_configured(sqlite_url, tmp_path, mode, expected):
    fake = FakeVLLM(models=["qwen"])
    with fake.serve() as base:
        backends = [{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen"]}]
        limits = {"redis_url": "redis://127.0.0.1:9/0", "redis_failure": mode}
        with running_gateway(settings_for(sqlite_url, tmp_path, backends, limits=limits)) as gateway:
            key = gateway.tenant("acme", rpm=5)
            response = httpx.post(f"{gateway.url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                                  json={"model": "qwen", "messages": HELLO}, timeout=10)
            assert response.status_code == expected, response.text
            metrics = httpx.get(f"{gateway.url}/metrics").text
            assert f'gateway_limiter_fallbacks_total{{mode="{mode}"}} 1.0' in metrics
            if mode == "open":
                statuses = [httpx.post(f"{gateway.url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                                       json={"model": "qwen", "messages": HELLO}, timeout=10).status_code
                            for _ in range(6)]
                assert statuses.count(429) == 2, "the local limiter still enforces rpm=5"


def test_two_replicas_sharing_redis_and_postgresql_admit_exactly_50(tmp_path, postgres_unavailable):
    if postgres_unavailable:
        pytest.skip(postgres_unavailable)
    if reason := _redis_unavailable():
        pytest.skip(reason)
    from tests.conftest import _fresh_postgres_database

    url, drop = _fresh_postgres_database()
    fake = FakeVLLM(models=["qwen"])
    replicas: list[GatewayProcess] = []
    try:
        with fake.serve() as base:
            env = {
                "GATEWAY_DATABASE_URL": url,
                "GATEWAY_BACKENDS": json.dumps([{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen"]}]),
                "GATEWAY_LIMITS__REDIS_URL": REDIS_URL,
                "GATEWAY_LIMITS__REDIS_KEY_PREFIX": f"test-{secrets.token_hex(4)}",
            }
            for name in ("a", "b"):
                (tmp_path / name).mkdir()
                replicas.append(GatewayProcess({**env, "GATEWAY_DATA_DIR": str(tmp_path / name)}, tmp_path / name).start())
            tenant = f"shared-{secrets.token_hex(4)}"
            with replicas[0].admin() as admin:
                assert admin.post("/admin/api/tenants", json={"name": tenant, "rpm": 50}).status_code == 201
                key = admin.post(f"/admin/api/tenants/{tenant}/keys", json={}).json()["key"]
            check = httpx.post(f"{replicas[1].url}/v1/chat/completions", headers={"authorization": "Bearer " + key},
                               json={"model": "qwen", "messages": HELLO})
            assert check.status_code == 200, check.text
            statuses = asyncio.run(_burst([r.url for r in replicas], key, 200))
            assert statuses.count(200) == 49 and statuses.count(429) == 151, "one was spent checking replica b"
    finally:
        for replica in replicas:
            replica.stop()
        drop()
