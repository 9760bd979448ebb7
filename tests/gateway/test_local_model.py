"""The embedded default: no backend configured, an in-process MLX model, used with the openai SDK."""

from __future__ import annotations

import pytest

from tests.gateway.harness import running_gateway, settings_for

pytest.importorskip("mlx_lm", reason="the local model needs the mlx extra")


@pytest.fixture(scope="module")
def local_gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local")
    settings = settings_for(f"sqlite:///{tmp / 'gw.db'}", tmp, [], local_model="tiny")
    with running_gateway(settings) as gateway:
        yield gateway, gateway.tenant("HQ", rpm=300, tps=10, daily_tokens=10_000_000)


def test_the_local_model_is_listed_and_labelled_as_tiny(local_gateway):
    gateway, key = local_gateway
    models = gateway.openai(key).models.list().data
    assert [m.id for m in models] == ["local"]
    assert models[0].model_extra["paramgate"]["tiny_random"] is True


def test_a_real_completion_from_the_local_model(local_gateway):
    gateway, key = local_gateway
    client = gateway.openai(key, timeout=60)
    raw = client.chat.completions.with_raw_response.create(
        model="local", messages=[{"role": "user", "content": "Merhaba"}], max_tokens=8, temperature=0
    )
    completion = raw.parse()
    assert raw.headers["x-gateway-backend"] == "local"
    assert completion.usage.completion_tokens <= 8 and completion.usage.prompt_tokens > 0
    assert completion.choices[0].finish_reason in ("length", "stop")
    streamed = list(client.chat.completions.create(
        model="local", messages=[{"role": "user", "content": "Merhaba"}], max_tokens=8, temperature=0, stream=True,
        stream_options={"include_usage": True},
    ))
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == completion.choices[0].message.content
    assert streamed[-1].usage.completion_tokens == completion.usage.completion_tokens
