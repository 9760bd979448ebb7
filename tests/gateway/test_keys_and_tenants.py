"""Keys are hashed, shown once, revocable everywhere within a second; tenants can be disabled."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import openai
import pytest
from sqlalchemy import create_engine, text

from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import running_gateway, settings_for, wait_for
from tests.gateway.test_chat_proxy import HELLO


@pytest.fixture
def replicas(database_url, tmp_path):
    """Two gateway replicas sharing one database, in front of one fake vLLM."""
    fake = FakeVLLM(models=["qwen"])
    with ExitStack() as stack:
        base = stack.enter_context(fake.serve())
        backends = [{"name": "gpu", "kind": "vllm", "base_url": base, "models": ["qwen"]}]
        a = stack.enter_context(running_gateway(settings_for(database_url, tmp_path / "a", backends)))
        b = stack.enter_context(running_gateway(settings_for(database_url, tmp_path / "b", backends)))
        yield a, b, database_url


def _works(client) -> bool:
    try:
        client.chat.completions.create(model="qwen", messages=HELLO)
        return True
    except openai.AuthenticationError:
        return False


def test_a_key_works_on_every_replica_at_once_and_a_revoked_key_stops_within_a_second(replicas):
    a, b, _ = replicas
    created = a.admin.post("/admin/api/tenants", json={"name": "acme"})
    assert created.status_code == 201
    issued = a.admin.post("/admin/api/tenants/acme/keys", json={"name": "ci"}).json()
    assert _works(b.openai(issued["key"])), "a key made on replica A is usable on B at once"
    revoked = a.admin.delete(f"/admin/api/keys/{issued['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    started = time.monotonic()
    while _works(b.openai(issued["key"])):
        assert time.monotonic() - started < 1.0, "replica B still accepts a revoked key after 1 s"
        time.sleep(0.02)
    assert not _works(a.openai(issued["key"]))


def test_keys_are_stored_only_as_hashes_and_listed_without_secrets(replicas):
    a, _, database_url = replicas
    a.admin.post("/admin/api/tenants", json={"name": "acme"})
    issued = a.admin.post("/admin/api/tenants/acme/keys", json={}).json()
    raw = issued["key"]
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        rows = [tuple(map(str, row)) for row in connection.execute(text("SELECT * FROM api_key"))]
    engine.dispose()
    assert rows and not any(raw in cell for row in rows for cell in row)
    listed = a.admin.get("/admin/api/tenants/acme/keys").json()["data"]
    assert listed[0]["prefix"] == raw[:10] and "key" not in listed[0] and "key_hash" not in listed[0]


def test_last_use_is_recorded(replicas):
    a, _, _ = replicas
    key = a.tenant("acme")
    a.openai(key).chat.completions.create(model="qwen", messages=HELLO)
    a.services.directory.flush_last_use()
    assert a.admin.get("/admin/api/tenants/acme/keys").json()["data"][0]["last_used_at"]


def test_an_expired_key_is_refused(replicas):
    a, _, _ = replicas
    a.admin.post("/admin/api/tenants", json={"name": "acme"})
    soon = (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat()
    key = a.key("acme", expires_at=soon)
    assert _works(a.openai(key))
    time.sleep(1.1)
    with pytest.raises(openai.AuthenticationError) as caught:
        a.openai(key).chat.completions.create(model="qwen", messages=HELLO)
    assert caught.value.body["code"] == "expired_api_key"


def test_a_key_that_expires_in_the_past_is_refused_at_creation(replicas):
    a, _, _ = replicas
    a.admin.post("/admin/api/tenants", json={"name": "acme"})
    response = a.admin.post("/admin/api/tenants/acme/keys", json={"expires_at": "2001-01-01T00:00:00Z"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "expires_at"


def test_a_disabled_tenant_gets_403_and_comes_back_when_enabled(replicas):
    a, b, _ = replicas
    key = a.tenant("acme")
    assert a.admin.patch("/admin/api/tenants/acme", json={"enabled": False}).json()["enabled"] is False

    def refused() -> bool:
        try:
            b.openai(key).chat.completions.create(model="qwen", messages=HELLO)
            return False
        except openai.PermissionDeniedError as error:
            return error.body["code"] == "tenant_disabled"

    assert wait_for(refused, 1.0)
    a.admin.patch("/admin/api/tenants/acme", json={"enabled": True})
    assert wait_for(lambda: not refused(), 1.0)


@pytest.mark.parametrize(
    "authorization, message",
    [(None, "Missing API key"), ("Bearer pg-nope", "Incorrect API key"), ("Basic abc", "Malformed Authorization")],
)
def test_bad_credentials_are_401_in_openai_shape(replicas, authorization, message):
    import httpx

    a, _, _ = replicas
    headers = {"authorization": authorization} if authorization else {}
    response = httpx.post(f"{a.url}/v1/chat/completions", json={"model": "qwen", "messages": HELLO}, headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert message in error["message"] and error["type"] == "authentication_error"
    assert set(error) == {"message", "type", "param", "code"}
