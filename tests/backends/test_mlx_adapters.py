"""MLX LoRA adapters: a real mlx-lm adapter on the tiny local model changes its output, through the
gateway (upload, validation, assignment) and in the backend's bounded LRU of adapted models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("mlx_lm")

from backends.mlx import MLXBackend  # noqa: E402
from tests.gateway.adapters.builders import mlx_adapter, zip_of  # noqa: E402
from tests.gateway.harness import running_gateway, settings_for, wait_for  # noqa: E402

GREEDY = {"messages": [{"role": "user", "content": "Merhaba, nasılsın?"}], "temperature": 0, "max_tokens": 12}


@pytest.fixture(scope="module")
def adapters(tiny_model_path: Path, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("mlx-adapters")
    return mlx_adapter(root / "one", tiny_model_path, seed=1), mlx_adapter(root / "two", tiny_model_path, seed=2)


@pytest.fixture
async def backend(tiny_model_path: Path, tmp_path: Path) -> AsyncIterator[MLXBackend]:
    mlx = MLXBackend("local-mlx", ("tiny",), str(tiny_model_path), tmp_path, max_loaded_adapters=1)
    await mlx.start()
    await mlx.wait_loaded(timeout=60)
    yield mlx
    await mlx.aclose()


def text(completion: dict) -> str:
    return completion["choices"][0]["message"]["content"]


async def test_an_adapter_changes_the_output_and_at_most_max_loaded_stay_loaded(backend, adapters):
    one, two = adapters
    backend.set_adapters({"one-v1": one, "two-v1": two})
    base = text(await backend.chat({**GREEDY, "model": "tiny"}))
    first = await backend.chat({**GREEDY, "model": "one-v1"})
    assert first["model"] == "one-v1"
    assert text(first) != base
    assert text(await backend.chat({**GREEDY, "model": "tiny"})) == base  # the base model is untouched
    assert text(await backend.chat({**GREEDY, "model": "one-v1"})) == text(first)
    assert backend.adapters.loads == 1  # cached
    await backend.chat({**GREEDY, "model": "two-v1"})
    assert backend.adapters.loaded() == [two]  # max_loaded_adapters=1: "one" was evicted
    assert text(await backend.chat({**GREEDY, "model": "one-v1"})) == text(first)
    assert backend.adapters.loads == 3


def test_an_mlx_adapter_uploaded_and_assigned_through_the_gateway(tiny_model_path, adapters, sqlite_url, tmp_path):
    backends = [{"name": "local", "kind": "mlx", "model_source": str(tiny_model_path), "models": ["tiny"]}]
    settings = settings_for(
        sqlite_url,
        tmp_path,
        backends,
        guardrails={"enabled": False},
        adapters={"base_model_aliases": {"tiny": [str(tiny_model_path)]}},
    )
    with running_gateway(settings) as gateway:
        key = gateway.tenant("acme")
        uploaded = gateway.admin.post("/admin/api/adapters?name=tuned", content=zip_of(adapters[0]),
                                      headers={"content-type": "application/zip"})  # fmt: skip
        assert uploaded.status_code == 201, uploaded.text
        assert (uploaded.json()["format"], uploaded.json()["base_model"], uploaded.json()["rank"]) == ("mlx", "tiny", 4)
        gateway.admin.put("/admin/api/tenants/acme/adapters/assistant", json={"adapter": "tuned"}).raise_for_status()
        local = gateway.services.pool.backends["local"]
        assert wait_for(lambda: "tuned-v1" in local.adapter_paths, timeout=10)

        def ask(model: str) -> httpx.Response:
            return httpx.post(f"{gateway.url}/v1/chat/completions", json={**GREEDY, "model": model},
                              headers={"authorization": f"Bearer {key}"}, timeout=60)  # fmt: skip

        assert wait_for(lambda: ask("tiny").status_code == 200, timeout=60)
        tuned = ask("assistant")
        assert tuned.status_code == 200, tuned.text
        assert tuned.headers["x-gateway-model"] == "tuned-v1"
        assert (
            tuned.json()["choices"][0]["message"]["content"] != ask("tiny").json()["choices"][0]["message"]["content"]
        )

        peft_like = gateway.admin.post("/admin/api/adapters?name=bad&base_model=tiny", content=b"PK\x05\x06" + b"\0" * 18,
                                       headers={"content-type": "application/zip"})  # fmt: skip
        assert peft_like.status_code == 400 and peft_like.json()["error"]["param"] == "file"
