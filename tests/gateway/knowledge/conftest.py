"""A gateway with two tenants in front of a fake vLLM serving a base model and two expert adapters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.knowledge.embedder import Embedder
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import RunningGateway, running_gateway, settings_for


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The offline MiniLM, loaded once for the whole test session (every Embedder shares it)."""
    model = Embedder()
    model.encode(["warm up"])
    return model


@dataclass
class KnowledgeStack:
    gateway: RunningGateway
    vllm: FakeVLLM
    keys: dict[str, str]

    @property
    def admin(self):
        return self.gateway.admin

    def upload(self, tenant: str, name: str, data: bytes | str, content_type: str = "text/plain"):
        raw = data.encode() if isinstance(data, str) else data
        return self.admin.post(
            f"/admin/api/tenants/{tenant}/knowledge/documents", files={"file": (name, raw, content_type)}
        )


def knowledge_stack(
    database_url: str, tmp_path, store: str = "chroma", guardrails: bool = False, **knowledge
) -> Iterator[KnowledgeStack]:
    vllm = FakeVLLM(models=["qwen"], adapters={"python-coder": "qwen", "turkish-chat": "qwen"}, max_context=8192)
    with vllm.serve() as url:
        backends = [{"name": "gpu", "kind": "vllm", "base_url": url, "models": ["qwen"], "read_timeout": 5.0}]
        settings = settings_for(
            database_url,
            tmp_path,
            backends,
            knowledge={"store": store, "chunk_tokens": 40, "chunk_overlap": 8, **knowledge},
            guardrails={"enabled": guardrails},
        )
        with running_gateway(settings) as gateway:
            keys = {name: gateway.tenant(name, rpm=1000) for name in ("acme", "globex")}
            for tenant in keys:
                gateway.route(tenant, "code-expert", [{"backend": "gpu", "model": "python-coder"}])
                gateway.route(tenant, "turkish-expert", [{"backend": "gpu", "model": "turkish-chat"}])
                gateway.route(tenant, "base", [{"backend": "gpu", "model": "qwen"}])
            vllm.requests.clear()
            yield KnowledgeStack(gateway, vllm, keys)


@pytest.fixture
def kstack(database_url, tmp_path, embedder) -> Iterator[KnowledgeStack]:
    """On SQLite and PostgreSQL, with embedded Chroma."""
    yield from knowledge_stack(database_url, tmp_path)


@pytest.fixture
def kstack_sqlite(sqlite_url, tmp_path, embedder) -> Iterator[KnowledgeStack]:
    yield from knowledge_stack(sqlite_url, tmp_path)


@pytest.fixture
def kstack_guarded(sqlite_url, tmp_path, embedder) -> Iterator[KnowledgeStack]:
    """With the tenants' guardrails on (the default policy: PII masked on input and output)."""
    yield from knowledge_stack(sqlite_url, tmp_path, guardrails=True)
