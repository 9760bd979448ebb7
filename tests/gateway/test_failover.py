"""Retries, fallback to the next target and finally Claude, circuit breaking, context-window fallback."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.gateway.harness import wait_for
from tests.gateway.test_chat_proxy import HELLO

LONG_PROMPT = [{"role": "user", "content": " ".join(["word"] * 60)}]


def served_by(raw) -> str:
    return raw.headers["x-gateway-backend"]


def metric(stack, name: str, **labels: str) -> float:
    text = httpx.get(f"{stack.gateway.url}/metrics").text
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_transient_failure_is_retried_on_the_same_backend(stack):
    stack.gpu1.fail_next(1, status=503)
    raw = stack.gateway.openai(stack.key).chat.completions.with_raw_response.create(model="qwen", messages=HELLO)
    assert served_by(raw) == "gpu-1"
    assert len(stack.gpu1.bodies("chat")) == 2


def test_a_failing_primary_falls_back_to_the_next_target(stack):
    stack.gpu1.fail_next(2, status=502)
    raw = stack.gateway.openai(stack.key).chat.completions.with_raw_response.create(model="qwen", messages=HELLO)
    assert served_by(raw) == "gpu-2"
    assert metric(stack, "gateway_fallbacks_total", tenant="acme", from_backend="gpu-1", to_backend="gpu-2") == 1


def test_when_every_own_backend_fails_claude_answers(stack):
    stack.gpu1.fail_next(2, status=500)
    stack.gpu2.fail_next(2, status=503)
    stack.claude.reply_text("Merhaba from Claude")
    raw = stack.gateway.openai(stack.key).chat.completions.with_raw_response.create(model="qwen", messages=HELLO)
    completion = raw.parse()
    assert served_by(raw) == "claude"
    assert completion.choices[0].message.content == "Merhaba from Claude"
    assert completion.model.startswith("claude")
    assert raw.headers["x-gateway-model"].startswith("claude")
    assert stack.claude.last_body["messages"][0]["role"] == "user"


def test_a_stream_whose_primary_drops_before_the_first_byte_is_served_by_the_fallback(stack):
    stack.gpu1.drop_next(2)
    stack.gpu2.drop_next(2)
    stack.claude.reply_text("streamed by claude")
    client = stack.gateway.openai(stack.key)
    with client.chat.completions.with_streaming_response.create(model="qwen", messages=HELLO, stream=True) as response:
        assert response.headers["x-gateway-backend"] == "claude"
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed by claude"


def test_a_failure_after_streaming_started_ends_with_an_error_event(stack):
    stack.gpu1.error_mid_stream_next(1, after_chunks=2, message="engine died")
    client = stack.gateway.openai(stack.key)
    stream = client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "a b c d e f"}],
                                            stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert received, "the first chunks reached the client before the failure"
    assert "mid-stream" in caught.value.message


def test_a_dropped_connection_mid_stream_is_reported_not_truncated(stack):
    stack.gpu1.drop_next(1, after_chunks=2)
    response = httpx.post(
        f"{stack.gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {stack.key}"},
        json={"model": "qwen", "messages": [{"role": "user", "content": "a b c d e f"}], "stream": True},
    )
    events = [e for e in response.text.split("\n\n") if e]
    assert '"error"' in events[-2] and events[-1] == "data: [DONE]"


def test_a_slow_backend_times_out_and_the_next_one_answers(stack):
    stack.gpu1.delay_next(5, n=1)
    started = time.monotonic()
    raw = stack.gateway.openai(stack.key).chat.completions.with_raw_response.create(model="qwen", messages=HELLO)
    assert served_by(raw) == "gpu-2"
    assert time.monotonic() - started < 4.5


def test_the_client_s_own_mistake_upstream_is_passed_back_not_retried(stack):
    stack.gpu1.fail_next(1, status=400, body={"error": {"message": "bad logit_bias", "type": "BadRequestError",
                                                         "param": "logit_bias", "code": 400}})
    with pytest.raises(openai.BadRequestError) as caught:
        stack.gateway.openai(stack.key).chat.completions.create(model="qwen", messages=HELLO)
    assert "bad logit_bias" in caught.value.message
    assert len(stack.gpu1.bodies("chat")) == 1 and not stack.gpu2.bodies("chat") and not stack.claude.requests


def test_the_circuit_opens_after_repeated_failures_and_probes_after_cooldown(stack):
    client = stack.gateway.openai(stack.key)
    stack.gpu1.fail_next(4, status=503)
    for _ in range(2):
        assert served_by(client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO)) == "gpu-2"
    calls_when_open = len(stack.gpu1.bodies("chat"))
    assert calls_when_open == 3, "threshold 3: the breaker opened after the third failure"
    assert served_by(client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO)) == "gpu-2"
    assert len(stack.gpu1.bodies("chat")) == calls_when_open, "an open circuit sends nothing to gpu-1"
    assert metric(stack, "gateway_backend_circuit_state", backend="gpu-1") == 2.0
    time.sleep(0.6)
    stack.gpu1.reset()
    assert served_by(client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO)) == "gpu-1"
    assert served_by(client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO)) == "gpu-1"


def test_a_prompt_too_long_goes_to_a_target_with_a_larger_context_window(stack):
    stack.gateway.route("acme", "chat", [{"backend": "gpu-1", "model": "qwen"}],
                        fallback=[{"backend": "gpu-2", "model": "qwen-long"}])
    client = stack.gateway.openai(stack.key)
    assert wait_for(lambda: "chat" in {m.id for m in client.models.list()})
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=LONG_PROMPT)
    assert served_by(raw) == "gpu-2"
    assert raw.headers["x-gateway-model"] == "qwen-long"
    assert raw.parse().model == "qwen-long"


def test_a_prompt_too_long_for_every_target_is_a_400(stack):
    stack.gateway.route("acme", "small", [{"backend": "gpu-1", "model": "qwen"}], fallback=[])
    client = stack.gateway.openai(stack.key)
    assert wait_for(lambda: "small" in {m.id for m in client.models.list()})
    stack.claude.prompt_too_long()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="small", messages=[{"role": "user", "content": " ".join(["w"] * 500)}])
    assert caught.value.body["code"] == "context_length_exceeded"


def test_all_backends_down_is_a_502_in_openai_shape(stack):
    stack.gpu1.fail_next(10, status=503)
    stack.gpu2.fail_next(10, status=503)
    stack.claude.overloaded()
    stack.claude.overloaded()
    with pytest.raises(openai.InternalServerError) as caught:
        stack.gateway.openai(stack.key).chat.completions.create(model="qwen", messages=HELLO)
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "upstream_error"
