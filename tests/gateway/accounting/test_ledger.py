"""The usage ledger: a row per request with its cost, daily rollups, export, and nothing lost on SIGKILL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from datetime import date

import httpx
import pytest

from gateway.accounting.spool import Spool
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import running_gateway, settings_for, wait_for
from tests.gateway.processes import GatewayProcess
from tests.gateway.test_chat_proxy import HELLO

TODAY = date.today().isoformat()


@pytest.fixture
def priced(database_url, tmp_path):
    fake = FakeVLLM(models=["qwen", "cheap"])
    with fake.serve() as base:
        backends = [{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen", "cheap"]}]
        pricing = {"models": [{"backend": "gpu", "model": "qwen", "input_per_million": 1.0, "output_per_million": 2.0}]}
        settings = settings_for(database_url, tmp_path, backends, pricing=pricing, ledger={"flush_interval_seconds": 0.1})
        with running_gateway(settings) as gateway:
            yield gateway, fake


def usage(gateway, **params) -> list[dict]:
    params = {"start": TODAY, "end": TODAY, **params}
    response = gateway.admin.get("/admin/api/usage", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def requests_of(gateway, tenant: str, count: int) -> list[dict]:
    assert wait_for(lambda: len(usage(gateway, tenant=tenant, group="requests")) >= count, 5)
    return usage(gateway, tenant=tenant, group="requests")


def test_every_request_has_a_ledger_row_with_its_cost(priced):
    gateway, _ = priced
    client = gateway.openai(gateway.tenant("acme"))
    raw = client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO)
    list(client.chat.completions.create(model="qwen", messages=HELLO, stream=True))
    rows = requests_of(gateway, "acme", 2)
    first = next(r for r in rows if r["request_id"] == raw.headers["x-request-id"])
    assert first | {"created_at": None, "latency_ms": None} == {
        "request_id": raw.headers["x-request-id"], "tenant": "acme", "key_id": first["key_id"], "endpoint": "chat",
        "route": "qwen", "backend": "gpu", "model": "qwen", "prompt_tokens": 2, "completion_tokens": 2,
        "cost": pytest.approx((2 * 1.0 + 2 * 2.0) / 1e6), "latency_ms": None, "ttft_ms": None, "status": 200,
        "fallback": False, "created_at": None,
    }
    streamed = next(r for r in rows if r["request_id"] != raw.headers["x-request-id"])
    assert streamed["ttft_ms"] is not None and streamed["completion_tokens"] == 2


def test_an_unpriced_self_hosted_model_is_never_free(priced):
    gateway, _ = priced
    gateway.openai(gateway.tenant("acme")).chat.completions.create(model="cheap", messages=HELLO)
    (row,) = requests_of(gateway, "acme", 1)
    assert row["cost"] > 0, "charged per GPU-second by the fallback price"


def test_a_price_set_through_the_api_overrides_the_config(priced):
    gateway, _ = priced
    put = gateway.admin.put("/admin/api/prices/gpu/qwen", json={"input_per_million": 10, "output_per_million": 20})
    assert put.status_code == 200
    assert gateway.admin.get("/admin/api/prices").json()["data"][0]["input_per_million"] == 10
    gateway.openai(gateway.tenant("acme")).chat.completions.create(model="qwen", messages=HELLO)
    (row,) = requests_of(gateway, "acme", 1)
    assert row["cost"] == pytest.approx((2 * 10 + 2 * 20) / 1e6)
    assert gateway.admin.put("/admin/api/prices/nowhere/x", json={}).status_code == 400
    assert gateway.admin.put("/admin/api/prices/gpu/qwen", json={"input_per_million": -1}).status_code == 400


def test_upstream_failures_are_recorded_too(priced):
    gateway, fake = priced
    fake.fail_next(10, status=503)
    response = httpx.post(f"{gateway.url}/v1/chat/completions", headers={"authorization": f"Bearer {gateway.tenant('acme')}"},
                          json={"model": "qwen", "messages": HELLO})
    assert response.status_code == 502
    (row,) = requests_of(gateway, "acme", 1)
    assert (row["status"], row["prompt_tokens"], row["cost"]) == (502, 0, 0.0)


def test_a_client_leaving_mid_stream_is_still_charged(priced):
    gateway, fake = priced
    key = gateway.tenant("acme")
    fake.delay_next(0.5, after_chunks=3)
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                      json={"model": "qwen", "stream": True,
                            "messages": [{"role": "user", "content": "one two three four five six"}]}) as response:
        lines = response.iter_lines()
        received = [next(lines) for _ in range(4)]
    assert any("one" in line for line in received)
    (row,) = requests_of(gateway, "acme", 1)
    assert row["status"] == 499 and row["completion_tokens"] >= 1 and row["cost"] > 0


def test_daily_rollups_and_csv_export_per_tenant(priced):
    gateway, _ = priced
    a, b = gateway.openai(gateway.tenant("alpha")), gateway.openai(gateway.tenant("beta"))
    for _ in range(3):
        a.chat.completions.create(model="qwen", messages=HELLO)
    b.chat.completions.create(model="cheap", messages=HELLO)
    requests_of(gateway, "alpha", 3)
    requests_of(gateway, "beta", 1)
    (alpha,) = usage(gateway, tenant="alpha")
    assert (alpha["day"], alpha["model"], alpha["requests"], alpha["prompt_tokens"]) == (TODAY, "qwen", 3, 6)
    assert alpha["cost"] == pytest.approx(3 * 6 / 1e6)
    assert {row["tenant"] for row in usage(gateway)} == {"alpha", "beta"}
    exported = gateway.admin.get("/admin/api/usage", params={"start": TODAY, "end": TODAY, "format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["tenant"], r["requests"]) for r in rows} == {("alpha", "3"), ("beta", "1")}
    assert usage(gateway, tenant="alpha", start="2001-01-01", end="2001-01-02") == []


@pytest.mark.parametrize(
    "params, status, param",
    [({"start": TODAY, "end": "2001-01-01"}, 400, "end"), ({"start": "yesterday", "end": TODAY}, 400, "start"),
     ({"start": TODAY, "end": TODAY, "tenant": "nobody"}, 404, "tenant"), ({"end": TODAY}, 400, "start"),
     ({"start": TODAY, "end": TODAY, "format": "xml"}, 400, "format")],
)
def test_usage_query_mistakes(priced, params, status, param):
    gateway, _ = priced
    response = gateway.admin.get("/admin/api/usage", params=params)
    assert response.status_code == status and response.json()["error"]["param"] == param


def test_a_dead_process_s_spool_is_replayed_once_and_a_torn_line_is_skipped(sqlite_url, tmp_path):
    fake = FakeVLLM(models=["qwen"])
    with fake.serve() as base:
        backends = [{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen"]}]
        settings = settings_for(sqlite_url, tmp_path, backends)
        with running_gateway(settings) as gateway:
            gateway.tenant("acme")
        dead = Spool(tmp_path / "spool")
        dead.open()
        record = {"request_id": "req_dead", "tenant_id": 1, "key_id": "key_x", "endpoint": "chat", "route": "qwen",
                  "backend": "gpu", "model": "qwen", "prompt_tokens": 5, "completion_tokens": 7, "cost": 0.5,
                  "latency_ms": 12.0, "ttft_ms": None, "status": 200, "fallback": False, "created_at": time.time()}
        dead.append(record)
        with open(next(dead.folder.glob("*.jsonl")), "ab") as segment:
            segment.write(b'{"request_id": "req_torn", "tena')
        dead.close()
        for _ in range(2):
            with running_gateway(settings) as gateway:
                rows = requests_of(gateway, "acme", 1)
                assert [r["request_id"] for r in rows] == ["req_dead"]
                assert usage(gateway, tenant="acme")[0]["requests"] == 1, "replayed once, counted once"


def test_nothing_is_lost_when_the_gateway_is_killed_under_load(tmp_path):
    """SIGKILL mid-load, restart, reconcile: every answer a client received has its ledger row."""
    fake = FakeVLLM(models=["qwen"])
    with fake.serve() as base:
        env = {
            "GATEWAY_DATA_DIR": str(tmp_path / "data"),
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'gateway.db'}",
            "GATEWAY_BACKENDS": json.dumps([{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen"]}]),
            "GATEWAY_LEDGER__FLUSH_INTERVAL_SECONDS": "3600",
        }
        first = GatewayProcess(env, tmp_path).start()
        with first.admin() as admin:
            admin.post("/admin/api/tenants", json={"name": "acme"})
            key = admin.post("/admin/api/tenants/acme/keys", json={}).json()["key"]
        received: list[str] = []
        stop = threading.Event()

        def client() -> None:
            with httpx.Client(timeout=5) as http:
                while not stop.is_set():
                    try:
                        response = http.post(f"{first.url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                                             json={"model": "qwen", "messages": HELLO})
                    except httpx.HTTPError:
                        return
                    if response.status_code == 200:
                        received.append(response.headers["x-request-id"])

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        assert wait_for(lambda: len(received) >= 100, 20)
        first.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        with sqlite3.connect(tmp_path / "data" / "gateway.db") as db:
            in_db_at_kill = db.execute("SELECT COUNT(*) FROM usage_record").fetchone()[0]
        assert in_db_at_kill < len(received), "the records were still only in the spool when the process died"

        second = GatewayProcess(env, tmp_path).start()
        try:
            with second.admin() as admin:
                rows = admin.get("/admin/api/usage", params={"start": TODAY, "end": TODAY, "group": "requests"}).json()
            ledger_ids = {row["request_id"] for row in rows["data"]}
            missing = set(received) - ledger_ids
            assert not missing, f"{len(missing)} of {len(received)} answered requests have no ledger row"
        finally:
            second.stop()
