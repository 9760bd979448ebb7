"""Adapters through the running gateway against two wire-level fake vLLM servers: upload, runtime
load/unload with vLLM's request bodies, re-load after a restart, per-tenant routing, canary split,
automatic and manual rollback, promotion."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.adapters.book import bucket
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.adapters.builders import zip_of, zip_with
from tests.gateway.harness import RunningGateway, running_gateway, settings_for, wait_for

HELLO = [{"role": "user", "content": "hello there"}]


def eventually(condition, timeout: float = 15.0) -> bool:
    """``wait_for`` with room for a loaded shared test machine (the sync loop runs every 0.2 s)."""
    return wait_for(condition, timeout)


ZIP = {"content-type": "application/zip"}


@dataclass
class AdapterStack:
    gateway: RunningGateway
    gpu1: FakeVLLM
    gpu2: FakeVLLM
    key: str
    other_key: str

    def chat(self, model: str, key: str | None = None, **extra) -> httpx.Response:
        body = {"model": model, "messages": HELLO, **extra}
        return httpx.post(f"{self.gateway.url}/v1/chat/completions", json=body,
                          headers={"authorization": f"Bearer {key or self.key}"}, timeout=30)  # fmt: skip

    def start_canary(self, archive: bytes, percent: int, **assign) -> None:
        """Versions 1 and 2 of ``legal``, 1 assigned to ``legal-assistant``, 2 its canary at ``percent``,
        loaded on both backends."""
        self.upload(archive)
        self.upload(archive)
        self.assign("legal-assistant", "legal", 1, **assign)
        canary = self.gateway.admin.put(
            "/admin/api/tenants/acme/adapters/legal-assistant/canary",
            json={"adapter": "legal", "version": 2, "percent": percent},
        )
        assert canary.status_code == 200, canary.text
        assert eventually(lambda: "legal-v2" in self.gpu1.adapters and "legal-v2" in self.gpu2.adapters)

    def upload(self, data: bytes, name: str = "legal") -> dict:
        response = self.gateway.admin.post(
            f"/admin/api/adapters?name={name}&base_model=qwen", content=data, headers=ZIP
        )
        assert response.status_code == 201, response.text
        return response.json()

    def assign(self, alias: str, adapter: str, version: int | None = None, tenant: str = "acme", **extra) -> dict:
        body = {"adapter": adapter, "version": version, **extra}
        response = self.gateway.admin.put(f"/admin/api/tenants/{tenant}/adapters/{alias}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def loaded(self, fake: FakeVLLM) -> set[str]:
        return {name for name in fake.adapters if name not in ("acme-base-lora",)}


@pytest.fixture
def stack(sqlite_url, tmp_path) -> Iterator[AdapterStack]:
    gpu1 = FakeVLLM(models=["qwen"], adapters={"acme-base-lora": "qwen"})
    gpu2 = FakeVLLM(models=["qwen"])
    with gpu1.serve() as url1, gpu2.serve() as url2:
        backends = [
            {"name": "gpu-1", "kind": "vllm", "base_url": url1, "models": ["qwen"], "retries": 0, "max_loras": 2},
            {"name": "gpu-2", "kind": "vllm", "base_url": url2, "models": ["qwen"], "retries": 0, "max_loras": 2},
        ]
        settings = settings_for(
            sqlite_url,
            tmp_path,
            backends,
            guardrails={"enabled": False},
            resilience={"breaker_failure_threshold": 1000, "health_check_interval_seconds": 60},
            adapters={
                "sync_interval_seconds": 0.2,
                "canary_min_requests": 20,
                "canary_max_p99_ratio": 1000,  # latency on two shared test cores is noise; p99 is tested in test_canary
                "max_upload_bytes": 2_000_000,
            },
        )
        with running_gateway(settings) as gateway:
            key = gateway.tenant("acme")
            other = gateway.tenant("globex")
            yield AdapterStack(gateway, gpu1, gpu2, key, other)


def attested(response: httpx.Response) -> dict:
    payload = response.headers["x-attestation"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_an_assigned_adapter_is_loaded_on_every_vllm_backend_and_serves_the_tenant(stack, peft_folder):
    version = stack.upload(zip_of(peft_folder))
    assert (version["served_name"], version["rank"], version["status"]) == ("legal-v1", 4, "ready")
    assert stack.gpu1.bodies("lora") == [] and stack.gpu2.bodies("lora") == []  # nothing loads until assigned

    stack.assign("legal-assistant", "legal")
    path = str(stack.gateway.services.settings.data_dir / "adapters" / version["sha256"])
    for fake in (stack.gpu1, stack.gpu2):
        assert eventually(lambda f=fake: "legal-v1" in f.adapters)
        assert {"lora_name": "legal-v1", "lora_path": path} in fake.bodies("lora")
    assert "acme-base-lora" in stack.gpu1.adapters  # adapters vLLM was started with are left alone

    response = stack.chat("legal-assistant")
    assert response.status_code == 200, response.text
    upstream = (stack.gpu1.bodies("chat") + stack.gpu2.bodies("chat"))[-1]
    assert upstream["model"] == "legal-v1"
    assert response.headers["x-gateway-model"] == "legal-v1"
    assert attested(response)["adapter_sha256"] == version["sha256"]
    assert attested(stack.chat("qwen"))["adapter_sha256"] is None
    streamed = stack.chat("legal-assistant", stream=True)
    assert streamed.headers["x-gateway-model"] == "legal-v1" and '"model":"legal-v1"' in streamed.text

    listed = stack.gateway.admin.get("/admin/api/adapters").json()["data"][0]
    assert listed["status"] == "serving"
    assert listed["used_by"] == [{"tenant": "acme", "alias": "legal-assistant", "role": "stable"}]


def test_another_tenant_can_neither_see_nor_use_the_assignment(stack, peft_folder):
    stack.upload(zip_of(peft_folder))
    stack.assign("legal-assistant", "legal")
    refused = stack.chat("legal-assistant", key=stack.other_key)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "model_not_found"
    assert stack.chat("legal-v1", key=stack.other_key).status_code == 404  # nor by its upstream name
    assert stack.chat("qwen", key=stack.other_key).json()["model"] == "qwen"
    assert stack.gateway.admin.get("/admin/api/tenants/globex/adapters").json()["data"] == []
    listed = lambda key: {
        m["id"]
        for m in httpx.get(
            f"{stack.gateway.url}/v1/models", headers={"authorization": f"Bearer {key}"}  # noqa: E731
        ).json()["data"]
    }
    assert "legal-assistant" in listed(stack.key) and "legal-assistant" not in listed(stack.other_key)


def test_a_restarted_vllm_gets_its_adapters_back_and_unassigned_ones_are_unloaded(stack, peft_folder):
    stack.upload(zip_of(peft_folder))
    stack.assign("legal-assistant", "legal")
    assert eventually(lambda: "legal-v1" in stack.gpu1.adapters)
    stack.gpu1.restart()
    assert "legal-v1" not in stack.gpu1.adapters
    assert eventually(lambda: "legal-v1" in stack.gpu1.adapters)
    assert len([b for b in stack.gpu1.bodies("lora") if b.get("lora_path")]) == 2

    assert stack.gateway.admin.delete("/admin/api/tenants/acme/adapters/legal-assistant").status_code == 204
    for fake in (stack.gpu1, stack.gpu2):
        assert eventually(lambda f=fake: "legal-v1" not in f.adapters)
        assert {"lora_name": "legal-v1"} in fake.bodies("lora")
    assert "acme-base-lora" in stack.gpu1.adapters


def test_more_adapters_than_max_loras_is_reported(stack, peft_folder):
    stack.upload(zip_of(peft_folder), "a")
    stack.upload(zip_of(peft_folder), "b")
    stack.upload(zip_of(peft_folder), "c")
    for alias in ("a", "b", "c"):
        stack.assign(alias, alias)
    assert eventually(lambda: len(stack.gpu2.adapters) == 3, timeout=15)
    report = {r["backend"]: r for r in stack.gateway.admin.get("/admin/api/adapters/sync").json()["data"]}
    assert report["gpu-1"]["over_capacity"] and report["gpu-1"]["max_loras"] == 2
    assert sorted(report["gpu-2"]["desired"]) == ["a-v1", "b-v1", "c-v1"]


async def _many(url: str, key: str, n: int, concurrency: int = 8, **extra) -> Counter:
    seen: Counter = Counter()
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=30) as client:

        async def one(i: int) -> None:
            async with semaphore:
                body = {"model": "legal-assistant", "messages": HELLO, **extra}
                response = await client.post("/v1/chat/completions", json=body)
                seen[
                    response.headers.get("x-gateway-model") if response.status_code == 200 else response.status_code
                ] += 1

        await asyncio.gather(*(one(i) for i in range(n)))
    return seen


def test_a_ten_percent_canary_gets_ten_percent_of_2000_requests(stack, peft_folder):
    stack.start_canary(zip_of(peft_folder), 10)
    seen = asyncio.run(_many(stack.gateway.url, stack.key, 2000))
    assert seen["legal-v1"] + seen["legal-v2"] == 2000
    print(f"canary share over 2000 requests at 10 %: {seen['legal-v2'] / 2000:.2%}")
    assert abs(seen["legal-v2"] / 2000 - 0.10) <= 0.03, seen


def test_a_per_user_split_keeps_each_user_on_one_version(stack, peft_folder):
    stack.start_canary(zip_of(peft_folder), 50, split_by="user")
    for user in ("ayse", "mehmet", "zeynep", "can"):
        expected = "legal-v2" if bucket("legal-assistant", user) < 5000 else "legal-v1"
        assert {stack.chat("legal-assistant", user=user).headers["x-gateway-model"] for _ in range(5)} == {expected}


def test_a_failing_canary_is_rolled_back_automatically_with_the_reason_audited(stack, peft_folder):
    stack.start_canary(zip_of(peft_folder), 50)
    for fake in (stack.gpu1, stack.gpu2):
        fake.fail_next(10_000, status=500, models={"legal-v2"})
    seen = Counter()
    for _ in range(120):
        response = stack.chat("legal-assistant")
        seen[response.status_code] += 1
        if (
            stack.gateway.admin.get("/admin/api/tenants/acme/adapters/legal-assistant").json()["status"]
            == "rolled_back"
        ):
            break
    state = stack.gateway.admin.get("/admin/api/tenants/acme/adapters/legal-assistant").json()
    assert state["status"] == "rolled_back" and state["canary_percent"] == 0
    assert "automatic rollback" in state["note"] and "error rate" in state["note"]
    assert seen[502] >= 20  # the canary's errors the monitor judged
    after = asyncio.run(_many(stack.gateway.url, stack.key, 40))
    assert after == Counter({"legal-v1": 40})

    from sqlmodel import select

    from gateway.attestation.models import AuditEntry

    with stack.gateway.services.db.session() as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.kind == "adapter.rollback")).all()
    assert len(entries) == 1
    change = entries[0].detail["change"]
    assert change["automatic"] and change["canary"]["errors"] >= 20 and change["canary"]["error_rate"] > 0.9
    assert change["stable"]["error_rate"] == 0.0
    versions = {v["served_name"]: v["status"] for v in stack.gateway.admin.get("/admin/api/adapters").json()["data"]}
    assert versions == {"legal-v1": "serving", "legal-v2": "rolled_back"}


def test_a_canary_that_breaks_its_streams_after_the_first_chunk_is_rolled_back(stack, peft_folder):
    stack.start_canary(zip_of(peft_folder), 50)
    for fake in (stack.gpu1, stack.gpu2):
        fake.error_mid_stream_next(10_000, after_chunks=2, models={"legal-v2"})
    broken = 0
    for _ in range(120):
        response = stack.chat("legal-assistant", stream=True)
        assert response.status_code == 200  # the stream had begun: the error arrives as an event
        broken += '"error"' in response.text and response.headers["x-gateway-model"] == "legal-v2"
        state = stack.gateway.admin.get("/admin/api/tenants/acme/adapters/legal-assistant").json()
        if state["status"] == "rolled_back":
            break
    assert state["status"] == "rolled_back" and "error rate" in state["note"]
    assert broken >= 20


def test_canary_steps_promotion_and_manual_rollback(stack, peft_folder):
    stack.upload(zip_of(peft_folder))
    stack.upload(zip_of(peft_folder))
    stack.upload(zip_of(peft_folder))
    stack.assign("legal-assistant", "legal", 1)
    api = stack.gateway.admin
    base = "/admin/api/tenants/acme/adapters/legal-assistant"
    assert api.put(f"{base}/canary", json={"percent": 10}).status_code == 400  # no canary named yet
    assert (
        api.put(f"{base}/canary", json={"adapter": "legal", "version": 2, "percent": 10}).json()["canary_percent"] == 10
    )
    assert api.put(f"{base}/canary", json={"percent": 100}).json()["canary_percent"] == 100
    assert eventually(lambda: "legal-v2" in stack.gpu1.adapters)
    assert stack.chat("legal-assistant").headers["x-gateway-model"] == "legal-v2"
    promoted = api.post(f"{base}/promote").json()
    assert promoted["stable"]["served_name"] == "legal-v2" and promoted["canary"] is None
    assert eventually(lambda: "legal-v1" not in stack.gpu1.adapters)  # no longer assigned anywhere

    api.put(f"{base}/canary", json={"adapter": "legal", "version": 3, "percent": 50})
    rolled = api.post(f"{base}/rollback").json()
    assert rolled["status"] == "rolled_back" and rolled["canary_percent"] == 0
    assert {stack.chat("legal-assistant").headers["x-gateway-model"] for _ in range(10)} == {"legal-v2"}
    bad = api.put(f"{base}/canary", json={"percent": 150})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_delete_only_when_unused_and_files_go_with_the_last_version(stack, peft_folder):
    version = stack.upload(zip_of(peft_folder))
    stack.assign("legal-assistant", "legal")
    busy = stack.gateway.admin.delete("/admin/api/adapters/legal/1")
    assert busy.status_code == 409 and busy.json()["error"]["param"] == "name"
    stack.gateway.admin.delete("/admin/api/tenants/acme/adapters/legal-assistant")
    assert stack.gateway.admin.delete("/admin/api/adapters/legal/1").status_code == 204
    assert not (stack.gateway.services.settings.data_dir / "adapters" / version["sha256"]).exists()
    assert stack.gateway.admin.get("/admin/api/adapters/legal/1").status_code == 404


def test_bad_uploads_get_openai_shaped_errors(stack, peft_folder):
    api = stack.gateway.admin
    traversal = api.post(
        "/admin/api/adapters?name=x", content=zip_with({"../../x/adapter_config.json": b"{}"}), headers=ZIP
    )
    assert traversal.status_code == 400
    assert traversal.json()["error"] | {"message": ""} == {
        "message": "", "type": "invalid_request_error", "param": "file", "code": "unsafe_archive"}  # fmt: skip
    big = api.post("/admin/api/adapters?name=x", content=b"0" * 2_000_001, headers=ZIP)
    assert big.status_code == 413
    unnamed = api.post("/admin/api/adapters", content=zip_of(peft_folder), headers=ZIP)
    assert unnamed.status_code == 400 and unnamed.json()["error"]["param"] == "name"
    empty = api.post("/admin/api/adapters?name=x", content=b"", headers=ZIP)
    assert empty.status_code == 400
    assert httpx.post(f"{stack.gateway.url}/admin/api/adapters?name=x", content=zip_of(peft_folder)).status_code == 401


def test_a_folder_upload_as_multipart_files(stack, peft_folder):
    files = [("file", (f.name, f.read_bytes())) for f in sorted(peft_folder.iterdir())]
    response = stack.gateway.admin.post(
        "/admin/api/adapters", data={"name": "folder", "base_model": "qwen"}, files=files
    )
    assert response.status_code == 201, response.text
    assert response.json()["served_name"] == "folder-v1"
    archive = [("file", ("adapter.zip", zip_of(peft_folder)))]
    response = stack.gateway.admin.post("/admin/api/adapters", data={"name": "folder"}, files=archive)
    assert response.status_code == 201 and response.json()["version"] == 2


def test_an_interrupted_upload_leaves_nothing_behind(stack, peft_folder):
    data = zip_of(peft_folder)
    parts = urlsplit(stack.gateway.url)
    store = stack.gateway.services.settings.data_dir / "adapters"
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"POST /admin/api/adapters?name=cut HTTP/1.1\r\nhost: {parts.netloc}\r\n"
            f"authorization: Bearer {stack.gateway.admin.headers['authorization'].split()[1]}\r\n"
            f"content-type: application/zip\r\ncontent-length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[: len(data) // 2])
        assert eventually(lambda: any((store / ".staging").glob("*/upload")), timeout=15)  # the server is receiving it
    assert eventually(lambda: not any((store / ".staging").glob("*")), timeout=15)
    assert [p.name for p in store.iterdir() if p.name != ".staging"] == []
    assert stack.gateway.admin.get("/admin/api/adapters").json()["data"] == []
