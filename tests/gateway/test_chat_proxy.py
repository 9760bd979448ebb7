"""The OpenAI-compatible surface, driven with the official openai SDK through the running gateway."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.gateway.harness import wait_for

HELLO = [{"role": "user", "content": "hello there"}]


def test_non_streaming_completion_is_what_the_sdk_expects(stack):
    client = stack.gateway.openai(stack.key)
    raw = client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO)
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello there"
    assert completion.usage.prompt_tokens == 2 and completion.usage.completion_tokens == 2
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-gateway-backend"] == "gpu-1"
    assert raw.headers["x-gateway-model"] == "qwen"
    assert completion.model == "qwen"


def test_request_ids_are_unique(stack):
    client = stack.gateway.openai(stack.key)
    ids = {client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO).headers["x-request-id"]
           for _ in range(5)}
    assert len(ids) == 5


def test_unknown_fields_tools_and_sampling_reach_the_upstream_unchanged(stack):
    client = stack.gateway.openai(stack.key)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
    client.chat.completions.create(
        model="qwen",
        messages=[{"role": "user", "content": [{"type": "text", "text": "look"},
                                               {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}],
        tools=tools,
        tool_choice="auto",
        response_format={"type": "json_object"},
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=20,
        stop=["END"],
        seed=7,
        user="u-1",
        extra_body={"top_k": 20, "guided_json": {"type": "object"}, "repetition_penalty": 1.1},
    )
    sent = stack.gpu1.bodies("chat")[-1]
    assert sent["tools"] == tools and sent["tool_choice"] == "auto"
    assert sent["top_k"] == 20 and sent["guided_json"] == {"type": "object"} and sent["repetition_penalty"] == 1.1
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png")
    assert (sent["temperature"], sent["top_p"], sent["seed"], sent["user"], sent["stop"]) == (0.2, 0.9, 7, "u-1", ["END"])
    assert sent["max_completion_tokens"] == 20


def test_stream_without_include_usage_hides_the_usage_chunk(stack):
    client = stack.gateway.openai(stack.key)
    chunks = list(client.chat.completions.create(model="qwen", messages=HELLO, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello there"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert stack.gpu1.bodies("chat")[-1]["stream_options"] == {"include_usage": True}


def test_stream_with_include_usage_ends_with_the_usage_chunk(stack):
    client = stack.gateway.openai(stack.key)
    chunks = list(
        client.chat.completions.create(
            model="qwen", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 4
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_stream_wire_format_ends_with_done(stack):
    response = httpx.post(
        f"{stack.gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {stack.key}"},
        json={"model": "qwen", "messages": HELLO, "stream": True},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-gateway-backend"] == "gpu-1"
    events = [e for e in response.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def test_models_lists_what_the_tenant_may_use(stack):
    client = stack.gateway.openai(stack.key)
    assert {m.id for m in client.models.list()} == {"qwen", "qwen-long", "claude-sonnet-4-5"}
    stack.gateway.route("acme", "legal", [{"backend": "gpu-1", "model": "acme-legal"}])
    assert wait_for(lambda: "legal" in {m.id for m in client.models.list()})
    assert client.models.retrieve("legal").id == "legal"


def test_an_adapter_route_sends_the_adapter_name_upstream(stack):
    stack.gateway.route("acme", "legal", [{"backend": "gpu-1", "model": "acme-legal"}])
    client = stack.gateway.openai(stack.key)
    assert wait_for(lambda: _ok(lambda: client.chat.completions.create(model="legal", messages=HELLO)))
    raw = client.chat.completions.with_raw_response.create(model="legal", messages=HELLO)
    assert stack.gpu1.bodies("chat")[-1]["model"] == "acme-legal"
    assert raw.headers["x-gateway-model"] == "acme-legal"


def test_another_tenants_route_is_not_reachable(stack):
    stack.gateway.route("acme", "legal", [{"backend": "gpu-1", "model": "acme-legal"}])
    other = stack.gateway.openai(stack.gateway.tenant("globex"))
    for model in ("legal", "acme-legal"):
        with pytest.raises(openai.NotFoundError) as caught:
            other.chat.completions.create(model=model, messages=HELLO)
        assert caught.value.body["code"] == "model_not_found"
    assert not any(b["model"] == "acme-legal" for b in stack.gpu1.bodies("chat"))


def test_a_tenant_restricted_to_its_routes_cannot_use_default_models(stack):
    key = stack.gateway.tenant("strict", allow_default_models=False)
    stack.gateway.route("strict", "assistant", [{"backend": "gpu-2", "model": "qwen"}])
    client = stack.gateway.openai(key)
    assert wait_for(lambda: {m.id for m in client.models.list()} == {"assistant"})
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="qwen", messages=HELLO)


def test_weighted_split_sends_traffic_to_both_targets(stack):
    stack.gateway.route("acme", "split", [{"backend": "gpu-1", "model": "qwen", "weight": 1},
                                          {"backend": "gpu-2", "model": "qwen", "weight": 1}])
    client = stack.gateway.openai(stack.key)
    assert wait_for(lambda: _ok(lambda: client.chat.completions.create(model="split", messages=HELLO)))
    served = [client.chat.completions.with_raw_response.create(model="split", messages=HELLO).headers["x-gateway-backend"]
              for _ in range(40)]
    assert 5 < served.count("gpu-1") < 35 and served.count("gpu-1") + served.count("gpu-2") == 40


def test_embeddings_are_proxied(stack):
    client = stack.gateway.openai(stack.key)
    result = client.embeddings.create(model="qwen", input=["a", "b"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8
    assert stack.gpu1.bodies("embeddings")[-1]["input"] == ["a", "b"]


def test_embeddings_on_a_chat_only_backend_is_a_clear_400(stack):
    client = stack.gateway.openai(stack.key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="claude-sonnet-4-5", input="x")
    assert "embeddings" in caught.value.message


def _ok(call) -> bool:
    try:
        call()
        return True
    except openai.NotFoundError:
        return False
