"""Health, readiness, metrics, logs, and traffic that survives a database outage."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway.jsonlog import JsonFormatter
from tests.conftest import POSTGRES_ADMIN_URL
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import running_gateway, settings_for, wait_for
from tests.gateway.test_chat_proxy import HELLO


def test_healthz_and_readyz(stack):
    assert httpx.get(f"{stack.gateway.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{stack.gateway.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["storage"] == "ok"
    assert set(ready.json()["backends"]) == {"gpu-1", "gpu-2", "claude"}


def test_readyz_is_503_when_no_backend_answers(sqlite_url, tmp_path):
    backends = [{"name": "gone", "kind": "vllm", "base_url": "http://127.0.0.1:9/v1", "models": ["m"],
                 "connect_timeout": 0.2}]
    settings = settings_for(sqlite_url, tmp_path, backends, resilience={"health_check_interval_seconds": 0.1})
    with running_gateway(settings) as gateway:
        assert wait_for(lambda: httpx.get(f"{gateway.url}/readyz").status_code == 503)
        assert httpx.get(f"{gateway.url}/readyz").json()["backends"]["gone"]["up"] is False
        assert "gateway_backend_up{backend=\"gone\"} 0.0" in httpx.get(f"{gateway.url}/metrics").text


def test_metrics_count_requests_tokens_and_latency_per_tenant_and_backend(stack):
    client = stack.gateway.openai(stack.key)
    for _ in range(3):
        client.chat.completions.create(model="qwen", messages=HELLO)
    list(client.chat.completions.create(model="qwen", messages=HELLO, stream=True))
    text_ = httpx.get(f"{stack.gateway.url}/metrics").text
    assert 'gateway_requests_total{backend="gpu-1",endpoint="chat",status="200",tenant="acme"} 4.0' in text_
    assert 'gateway_tokens_total{backend="gpu-1",kind="prompt",tenant="acme"} 8.0' in text_
    assert 'gateway_request_duration_seconds_count{backend="gpu-1",endpoint="chat",tenant="acme"} 4.0' in text_
    assert 'gateway_backend_circuit_state{backend="gpu-1"}' in text_


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_logs_are_json_with_the_request_id_and_without_prompts_or_keys(stack):
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    try:
        client = stack.gateway.openai(stack.key)
        raw = client.chat.completions.with_raw_response.create(
            model="qwen", messages=[{"role": "user", "content": "my secret diagnosis"}]
        )
    finally:
        logging.getLogger().removeHandler(collect)
        logging.getLogger().setLevel(previous)
    request_id = raw.headers["x-request-id"]
    import json

    entries = [json.loads(line) for line in collect.lines]
    access = [e for e in entries if e.get("request_id") == request_id]
    assert access and access[0]["tenant"] == "acme" and access[0]["backend"] == "gpu-1"
    assert access[0]["prompt_tokens"] == 3
    everything = "\n".join(collect.lines)
    assert "secret diagnosis" not in everything and stack.key not in everything


def test_known_tenants_keep_working_through_a_database_outage(tmp_path, postgres_unavailable):
    if postgres_unavailable:
        pytest.skip(postgres_unavailable)
    from tests.conftest import _fresh_postgres_database

    url, drop = _fresh_postgres_database()
    name = make_url(url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    fake = FakeVLLM(models=["qwen"])
    try:
        with fake.serve() as base:
            backends = [{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen"]}]
            with running_gateway(settings_for(url, tmp_path, backends)) as gateway:
                key = gateway.tenant("acme")
                client = gateway.openai(key)
                client.chat.completions.create(model="qwen", messages=HELLO)
                with admin.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                    connection.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
                try:
                    assert wait_for(lambda: not gateway.services.directory.storage_ok)
                    for _ in range(5):
                        assert client.chat.completions.create(model="qwen", messages=HELLO).choices
                    ready = httpx.get(f"{gateway.url}/readyz").json()
                    assert ready["storage"] == "unreachable" and ready["serving_from_snapshot"] is True
                    bad = httpx.post(f"{gateway.url}/v1/chat/completions", headers={"authorization": "Bearer pg-x"},
                                     json={"model": "qwen", "messages": HELLO})
                    assert bad.status_code == 401
                finally:
                    with admin.connect() as connection:
                        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
                time.sleep(0.1)
                assert wait_for(lambda: gateway.services.directory.storage_ok, 5)
    finally:
        admin.dispose()
        drop()
