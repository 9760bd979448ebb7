"""A gateway in front of a fake vLLM (chat only) and a fake OpenAI serving ``/v1/responses`` natively."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from tests.fakes.openai_responses_server import FakeOpenAIResponses
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import RunningGateway, running_gateway, settings_for

NATIVE = "gpt-fake"


@dataclass
class ResponsesStack:
    gateway: RunningGateway
    vllm: FakeVLLM
    native: FakeOpenAIResponses
    key: str

    def client(self, key: str | None = None) -> openai.OpenAI:
        return self.gateway.openai(key or self.key, _strict_response_validation=True)

    def sent(self) -> dict[str, Any]:
        """The chat body the fake vLLM received last."""
        return self.vllm.bodies("chat")[-1]


def responses_backends(vllm_url: str, native_url: str) -> list[dict[str, Any]]:
    return [
        {"name": "gpu-1", "kind": "vllm", "base_url": vllm_url, "models": ["qwen"], "read_timeout": 5.0},
        {
            "name": "openai-1",
            "kind": "openai",
            "base_url": native_url,
            "models": [NATIVE],
            "responses_api": "native",
            "read_timeout": 5.0,
        },
    ]


@pytest.fixture
def responses_settings() -> dict[str, Any]:
    """``[responses]`` settings for the stack; tests override it with ``pytest.mark.parametrize`` or a fixture."""
    return {}


@pytest.fixture
def responses_stack(database_url, tmp_path, responses_settings) -> Iterator[ResponsesStack]:
    vllm = FakeVLLM(models=["qwen"])
    native = FakeOpenAIResponses(models=(NATIVE,))
    with vllm.serve() as vllm_url, native.serve() as native_url:
        settings = settings_for(
            database_url,
            tmp_path,
            responses_backends(vllm_url, native_url),
            resilience={"retry_backoff_seconds": 0.001, "health_check_interval_seconds": 60},
            ledger={"flush_interval_seconds": 0.1},
            responses=responses_settings,
        )
        with running_gateway(settings) as gateway:
            key = gateway.tenant("acme", rpm=100)
            vllm.requests.clear()
            native.requests.clear()
            yield ResponsesStack(gateway, vllm, native, key)
