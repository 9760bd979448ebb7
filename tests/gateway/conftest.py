"""A gateway in front of two fake vLLM servers and a fake Claude, all on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.server import serve_in_thread
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import RunningGateway, running_gateway, settings_for

CLAUDE_KEY_ENV = "PARAMGATE_TEST_ANTHROPIC_KEY"


@dataclass
class Stack:
    gateway: RunningGateway
    gpu1: FakeVLLM
    gpu2: FakeVLLM
    claude: FakeAnthropic
    key: str


def stack_backends(gpu1_url: str, gpu2_url: str, claude_url: str) -> list[dict]:
    return [
        {
            "name": "gpu-1",
            "kind": "vllm",
            "base_url": gpu1_url,
            "models": ["qwen"],
            "context_windows": {"qwen": 40},
            "read_timeout": 2.0,
        },
        {
            "name": "gpu-2",
            "kind": "vllm",
            "base_url": gpu2_url,
            "models": ["qwen", "qwen-long"],
            "context_windows": {"qwen-long": 400},
            "read_timeout": 2.0,
        },
        {
            "name": "claude",
            "kind": "anthropic",
            "base_url": claude_url,
            "api_key_env": CLAUDE_KEY_ENV,
            "models": ["claude-sonnet-4-5"],
        },
    ]


@pytest.fixture
def stack(sqlite_url, tmp_path, monkeypatch) -> Iterator[Stack]:
    monkeypatch.setenv(CLAUDE_KEY_ENV, "sk-ant-test")
    gpu1 = FakeVLLM(models=["qwen"], adapters={"acme-legal": "qwen"}, max_context=40)
    gpu2 = FakeVLLM(models=["qwen", "qwen-long"], max_context={"qwen": 40, "qwen-long": 400})
    claude = FakeAnthropic(api_key="sk-ant-test")
    with gpu1.serve() as gpu1_url, gpu2.serve() as gpu2_url, serve_in_thread(claude) as claude_url:
        settings = settings_for(
            sqlite_url,
            tmp_path,
            stack_backends(gpu1_url, gpu2_url, claude_url),
            routing={"fallback": ["claude"]},
            resilience={
                "retry_backoff_seconds": 0.001,
                "breaker_failure_threshold": 3,
                "breaker_cooldown_seconds": 0.5,
                "health_check_interval_seconds": 60,
            },
        )
        with running_gateway(settings) as gateway:
            key = gateway.tenant("acme", rpm=100)
            gpu1.requests.clear()
            gpu2.requests.clear()
            claude.requests.clear()
            yield Stack(gateway, gpu1, gpu2, claude, key)
