"""Fixtures for the learning loop: a gateway with its console over a fake vLLM and a fake Claude,
and a tiny random Qwen2 built on this machine."""

from __future__ import annotations

import asyncio

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.admin.conftest import console_env
from tests.admin.harness import Console, running_console
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.server import serve_in_thread
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import settings_for, wait_for
from tests.training.tiny_model import build_tiny_qwen2
from training.loop import LearningLoop


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: starts heavy external servers (Label Studio); deselect with -m 'not slow'"
    )


@dataclass
class Stack:
    console: Console
    vllm: FakeVLLM
    claude: FakeAnthropic

    @property
    def loop(self) -> LearningLoop:
        return self.console.console.learning

    def run(self, coroutine):
        """Run a coroutine on the app's own event loop (its backends' connections live there)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop.event_loop).result(timeout=60)

    def tenant(self, name: str) -> int:
        response = self.console.admin_api.post("/admin/api/tenants", json={"name": name})
        assert response.status_code == 201, response.text
        assert wait_for(lambda: any(t.name == name for t in self.console.services.directory.snapshot.tenants.values()))
        return next(t.id for t in self.console.services.directory.snapshot.tenants.values() if t.name == name)

    def key(self, tenant: str) -> str:
        response = self.console.admin_api.post(f"/admin/api/tenants/{tenant}/keys")
        assert response.status_code == 201, response.text
        return response.json()["key"]


@pytest.fixture
def stack(database_url, tmp_path, monkeypatch) -> Iterator[Stack]:
    console_env(monkeypatch)
    vllm = FakeVLLM(models=["qwen"], adapters={"acme-canary": "qwen"})
    claude = FakeAnthropic()
    with vllm.serve() as vllm_url, serve_in_thread(claude) as claude_url:
        monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-ant-test")
        backends = [
            {"name": "gpu-1", "kind": "vllm", "base_url": vllm_url, "models": ["qwen", "acme-canary"]},
            {
                "name": "claude",
                "kind": "anthropic",
                "base_url": claude_url,
                "api_key_env": "TEST_ANTHROPIC_KEY",
                "models": ["claude-sonnet-4-5"],
            },
        ]
        settings = settings_for(database_url, tmp_path / "data", backends, ledger={"flush_interval_seconds": 0.1})
        with running_console(settings) as running:
            yield Stack(running, vllm, claude)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))
