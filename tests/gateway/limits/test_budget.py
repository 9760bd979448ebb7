"""Monthly budgets: reserved at admission, settled to real cost, refused once spent; memory and Redis alike."""

from __future__ import annotations

import secrets
import time

import openai
import pytest
import redis

from gateway.errors import RateLimited
from gateway.limits.limiter import Subject, month_number, month_start, seconds_to_next_month
from gateway.limits.memory import InMemoryLimiter
from gateway.limits.redis_limiter import RedisLimiter
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import running_gateway, settings_for, wait_for
from tests.gateway.limits.test_limiters import REDIS_URL, _redis_unavailable

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(params=["memory", "redis"])
async def limiter(request):
    if request.param == "memory":
        yield InMemoryLimiter()
        return
    reason = _redis_unavailable()
    if reason:
        pytest.skip(reason)
    shared = RedisLimiter(REDIS_URL, key_prefix=f"budget-test-{secrets.token_hex(4)}")
    yield shared
    await shared.aclose()


def budget(amount: float) -> Subject:
    return Subject(f"tenant:b-{secrets.token_hex(6)}", monthly_budget=amount)


def test_month_arithmetic():
    now = time.time()
    month = month_number(now)
    assert month_start(month) <= now < month_start(month + 1)
    assert 0 < seconds_to_next_month(now) <= 31 * 86400
    assert month_number(month_start(month) - 1) == month - 1


async def test_reserved_cost_counts_until_settled_and_a_spent_budget_refuses(limiter):
    tenant = budget(1.0)
    first = await limiter.admit("a", (tenant,), 10, cost=0.6)
    second = await limiter.admit("b", (tenant,), 10, cost=0.6)  # 0.6 spent+reserved < 1.0: still admitted
    with pytest.raises(RateLimited) as caught:
        await limiter.admit("c", (tenant,), 10, cost=0.01)  # 1.2 reserved ≥ 1.0
    error = caught.value
    assert error.status == 429 and error.code == "budget_exceeded" and error.type == "insufficient_quota"
    assert "monthly budget" in error.message
    assert abs(int(error.headers["retry-after"]) - seconds_to_next_month(time.time())) < 5
    await limiter.settle(first, 10, 0.1)  # the real costs were smaller
    await limiter.settle(second, 10, 0.1)
    third = await limiter.admit("c", (tenant,), 10, cost=0.5)  # 0.2 spent
    await limiter.settle(third, 10, 0.85)  # a GPU-second price: only known at the end → 1.05
    with pytest.raises(RateLimited):
        await limiter.admit("d", (tenant,), 10, cost=0.0)


async def test_a_failed_request_gives_its_reservation_back(limiter):
    tenant = budget(1.0)
    admission = await limiter.admit("a", (tenant,), 10, cost=0.99)
    await limiter.settle(admission, 0, 0.0)
    await limiter.admit("b", (tenant,), 10, cost=0.99)


async def test_the_month_starts_from_the_ledger_s_sum(limiter):
    tenant = budget(5.0)
    await limiter.seed_month(tenant.scope, month_number(time.time()), 5.0)
    with pytest.raises(RateLimited):
        await limiter.admit("a", (tenant,), 1, cost=0.0)


async def test_seeding_does_not_overwrite_a_running_shared_counter():
    if _redis_unavailable():
        pytest.skip("no Redis")
    prefix = f"budget-test-{secrets.token_hex(4)}"
    one, two = RedisLimiter(REDIS_URL, key_prefix=prefix), RedisLimiter(REDIS_URL, key_prefix=prefix)
    tenant, month = budget(1.0), month_number(time.time())
    try:
        await one.seed_month(tenant.scope, month, 0.0)
        await one.settle(await one.admit("a", (tenant,), 1, cost=0.7), 1, 0.7)
        await two.seed_month(tenant.scope, month, 0.0)  # a second replica starting: the count stands
        await two.settle(await two.admit("b", (tenant,), 1, cost=0.4), 1, 0.4)
        with pytest.raises(RateLimited):
            await one.admit("c", (tenant,), 1, cost=0.0)
    finally:
        await one.aclose()
        await two.aclose()
        redis.Redis.from_url(REDIS_URL).delete(f"{prefix}:{{{tenant.scope}}}:month:{month}")


def test_a_local_model_s_budget_refuses_through_the_openai_sdk(sqlite_url, tmp_path):
    fake = FakeVLLM(models=["qwen"])
    with fake.serve() as base:
        backends = [{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen"]}]
        pricing = {"models": [{"backend": "gpu", "model": "qwen", "per_gpu_second": 1000.0}]}
        settings = settings_for(sqlite_url, tmp_path, backends, pricing=pricing, ledger={"flush_interval_seconds": 0.1})
        with running_gateway(settings) as gateway:
            key = gateway.tenant("capped", monthly_budget=0.5)
            assert gateway.admin.get("/admin/api/tenants/capped").json()["monthly_budget"] == 0.5
            client = gateway.openai(key)
            client.chat.completions.create(model="qwen", messages=HELLO, max_tokens=5)  # ≥ 1 ms of GPU = ≥ 1.0
            with pytest.raises(openai.RateLimitError) as caught:
                client.chat.completions.create(model="qwen", messages=HELLO, max_tokens=5)
            assert caught.value.body["code"] == "budget_exceeded"
            assert caught.value.body["type"] == "insufficient_quota"
            assert int(caught.value.response.headers["retry-after"]) >= 1
            assert len(fake.bodies("chat")) == 1  # the refused request never reached the backend

            raised = gateway.admin.patch("/admin/api/tenants/capped", json={"monthly_budget": 1e9})
            assert raised.status_code == 200
            assert wait_for(lambda: _answers(client))
            bad = gateway.admin.patch("/admin/api/tenants/capped", json={"monthly_budget": -1})
            assert bad.status_code == 400 and bad.json()["error"]["param"] == "monthly_budget"


def test_a_restarted_gateway_remembers_the_month_s_spend(sqlite_url, tmp_path):
    fake = FakeVLLM(models=["qwen"])
    with fake.serve() as base:
        backends = [{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen"]}]
        pricing = {"models": [{"backend": "gpu", "model": "qwen", "input_per_million": 1e6}]}  # 1 per token
        settings = settings_for(sqlite_url, tmp_path, backends, pricing=pricing)
        with running_gateway(settings) as gateway:
            key = gateway.tenant("capped", monthly_budget=1000)
            gateway.openai(key).chat.completions.create(model="qwen", messages=HELLO, max_tokens=5)
            # the fake counts 1 prompt token: 1.0 spent, over the new budget
            gateway.admin.patch("/admin/api/tenants/capped", json={"monthly_budget": 0.5})
        with running_gateway(settings) as gateway:  # a new process: in-memory counters start empty
            with pytest.raises(openai.RateLimitError) as caught:
                gateway.openai(key).chat.completions.create(model="qwen", messages=HELLO, max_tokens=5)
            assert caught.value.body["code"] == "budget_exceeded"


def _answers(client: openai.OpenAI) -> bool:
    try:
        client.chat.completions.create(model="qwen", messages=HELLO, max_tokens=5)
    except openai.RateLimitError:
        return False
    return True


def test_the_command_line_sets_a_budget(database_url, tmp_path, monkeypatch, capsys):
    from gateway.cli import main
    from gateway.storage.database import Database
    from gateway.tenants import TenantService

    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    assert main(["tenant", "create", "Legal", "--monthly-budget", "250.5"]) == 0
    assert main(["tenant", "create", "Bad", "--monthly-budget", "-1"]) != 0
    assert "monthly_budget" in capsys.readouterr().err
    db = Database(database_url)
    try:
        assert TenantService(db).get("Legal").monthly_budget == 250.5
    finally:
        db.dispose()
