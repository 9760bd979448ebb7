"""OpenAICompatibleBackend against a fake vLLM and a raw socket server, at the HTTP boundary."""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from backends.base import Timeouts
from backends.errors import (
    BackendTimeout,
    BackendUnavailable,
    ContextLengthExceeded,
    UpstreamRejected,
)
from backends.openai_compat import OpenAICompatibleBackend
from backends.sse import SSEDecoder
from tests.fakes.server import free_port
from tests.fakes.vllm_server import FakeVLLM

FAST = Timeouts(connect=2.0, read=5.0)


def chat_body(text: str = "hello brave new world", model: str = "base", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


async def collect(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


@pytest.fixture
def fake():
    server = FakeVLLM(models=["base"], adapters={"legal": "base"}, max_context=64)
    with server.serve():
        yield server


@pytest.fixture
async def backend(fake):
    client = OpenAICompatibleBackend("gpu-1", ("base",), fake.base_url, kind="vllm", timeouts=FAST)
    yield client
    await client.aclose()


@asynccontextmanager
async def make_backend(base_url: str, **kwargs: Any) -> AsyncIterator[OpenAICompatibleBackend]:
    kwargs.setdefault("timeouts", FAST)
    client = OpenAICompatibleBackend("test", ("base",), base_url, **kwargs)
    try:
        yield client
    finally:
        await client.aclose()


# --- pass-through and results ---------------------------------------------------------------


async def test_chat_passes_unknown_fields_tools_and_response_format_untouched(fake, backend):
    body = chat_body(
        tools=[
            {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
        ],
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        top_k=7,
        chat_template_kwargs={"enable_thinking": False},
        vendor_extension={"nested": [1, 2.5, None, "ü"]},
    )
    sent = copy.deepcopy(body)
    await backend.chat(body)
    request = fake.requests[-1]
    assert request.body == sent
    assert body == sent
    assert request.headers["content-type"] == "application/json"


async def test_chat_returns_the_upstream_completion(backend):
    result = await backend.chat(chat_body("echo me please"))
    completion = ChatCompletion.model_validate(result)
    assert completion.choices[0].message.content == "echo me please"
    assert completion.usage.prompt_tokens == 3 and completion.usage.completion_tokens == 3
    assert result["choices"][0]["stop_reason"] is None and "kv_transfer_params" in result  # vLLM extras kept


async def test_chat_reaches_a_lora_adapter_by_its_model_id(fake, backend):
    result = await backend.chat(chat_body(model="legal"))
    assert result["model"] == "legal"


async def test_stream_yields_openai_chunks_ending_with_usage(backend):
    chunks = await collect(backend.chat_stream(chat_body("one two three")))
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert text_of(chunks) == "one two three"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 3,
        "total_tokens": 6,
        "completion_tokens": 3,
        "prompt_tokens_details": None,
    }


async def test_stream_asks_upstream_for_usage_without_changing_the_callers_body(fake, backend):
    body = chat_body(stream=True, top_k=3)
    sent = copy.deepcopy(body)
    chunks = await collect(backend.chat_stream(body))
    upstream = fake.bodies("chat")[-1]
    assert upstream == {**sent, "stream": True, "stream_options": {"include_usage": True}}
    assert body == sent
    assert "usage" in chunks[-1]


async def test_stream_overrides_a_declined_include_usage_and_keeps_other_stream_options(fake, backend):
    body = chat_body(stream_options={"include_usage": False, "continuous_usage_stats": True})
    sent = copy.deepcopy(body)
    chunks = await collect(backend.chat_stream(body))
    upstream = fake.bodies("chat")[-1]
    assert upstream["stream"] is True
    assert upstream["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    assert body == sent
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4


async def test_calls_share_one_keep_alive_connection(fake, backend):
    for _ in range(4):
        await backend.chat(chat_body())
    await collect(backend.chat_stream(chat_body()))
    await backend.embeddings({"model": "base", "input": "x"})
    await backend.chat(chat_body())
    assert len(fake.requests) == 7
    assert len({r.client for r in fake.requests}) == 1


async def test_api_key_is_sent_as_a_bearer_token():
    server = FakeVLLM(models=["base"], api_key="sk-upstream")
    with server.serve() as url:
        async with make_backend(url, api_key="sk-upstream") as client:
            await client.chat(chat_body())
        assert server.requests[-1].headers["authorization"] == "Bearer sk-upstream"
        async with make_backend(url) as client:
            with pytest.raises(BackendUnavailable) as caught:
                await client.chat(chat_body())
        assert caught.value.status == 401
        assert "authorization" not in server.requests[-1].headers


# --- SSE parsing --------------------------------------------------------------------------


def sse_events(eol: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    """A stream with comments, event/id/retry fields, multi-line data and non-ASCII text."""
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    deltas = [{"role": "assistant", "content": ""}, {"content": "héllo"}, {"content": " wörld 🌍"}, {"content": "!"}]
    chunks = [{**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**head, "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}})
    encoded = [msgspec.json.encode(c) for c in chunks]
    lines = [b": ping", b"retry: 1000", b""]
    for index, data in enumerate(encoded):
        if index == 2:  # one event's JSON split over two data lines
            cut = data.index(b",")
            lines += [b"id: 2", b"event: message", b"data: " + data[: cut + 1], b"data:" + data[cut + 1 :], b""]
        else:
            lines += [b"data: " + data, b""]
        lines += [b": keep-alive", b""] if index == 1 else []
    lines += [b"data: [DONE]", b"", b'data: {"after": "done"}', b""]
    return eol.join(lines), chunks


def split(stream: bytes, how: str) -> list[bytes]:
    if how == "bytewise":
        return [stream[i : i + 1] for i in range(len(stream))]
    if how == "after-cr":
        return [piece + b"\r" for piece in stream.split(b"\r")[:-1]] + [stream.split(b"\r")[-1]]
    return [stream[i : i + 7] for i in range(0, len(stream), 7)]


@asynccontextmanager
async def raw_server(pieces: list[bytes], head: bytes = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"):
    """A socket server that answers every request with ``head`` and ``pieces``, each its own write, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in request_head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            writer.write(head + b"connection: close\r\n\r\n")
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.0001)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("how", ["bytewise", "after-cr", "sevens"])
async def test_stream_parses_sse_split_at_any_byte(eol, how):
    stream, expected = sse_events(eol)
    async with raw_server(split(stream, how)) as url, make_backend(url) as client:
        assert await collect(client.chat_stream(chat_body())) == expected


def test_sse_decoder_gives_the_same_events_for_every_two_way_split():
    stream, expected = sse_events(b"\r\n")
    decoder = SSEDecoder()
    whole = decoder.feed(stream) + decoder.close()
    assert [msgspec.json.decode(e) for e in whole[:-2]] == expected and whole[-2] == b"[DONE]"
    for cut in range(len(stream)):
        decoder = SSEDecoder()
        assert decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.close() == whole


async def test_stream_accepts_done_without_a_final_blank_line():
    stream = b'data: {"id": "c", "choices": []}\n\ndata: [DONE]'
    async with raw_server([stream]) as url, make_backend(url) as client:
        assert await collect(client.chat_stream(chat_body())) == [{"id": "c", "choices": []}]


async def test_stream_that_ends_without_done_is_unavailable_after_its_chunks():
    async with raw_server([b'data: {"id": "c", "choices": []}\n\n']) as url, make_backend(url) as client:
        stream = client.chat_stream(chat_body())
        assert await stream.__anext__() == {"id": "c", "choices": []}
        with pytest.raises(BackendUnavailable, match=r"\[DONE\]"):
            await stream.__anext__()


async def test_stream_with_invalid_json_event_is_unavailable():
    async with raw_server([b"data: {not json\n\n"]) as url, make_backend(url) as client:
        with pytest.raises(BackendUnavailable):
            await collect(client.chat_stream(chat_body()))


# --- failures inside and before a stream --------------------------------------------------


async def test_error_event_mid_stream_is_unavailable_after_the_first_chunks(fake, backend):
    fake.error_mid_stream_next(after_chunks=2, message="CUDA out of memory")
    assert (await backend.chat(chat_body("unaffected")))["choices"][0]["message"]["content"] == "unaffected"
    received = []
    with pytest.raises(BackendUnavailable, match="CUDA out of memory") as caught:
        async for chunk in backend.chat_stream(chat_body()):
            received.append(chunk)
    assert len(received) == 2 and caught.value.status == 500
    assert not isinstance(caught.value, BackendTimeout)


async def test_connection_dropped_mid_stream_is_unavailable(fake, backend):
    fake.drop_next(after_chunks=2)
    received = []
    with pytest.raises(BackendUnavailable) as caught:
        async for chunk in backend.chat_stream(chat_body()):
            received.append(chunk)
    assert len(received) == 2 and not isinstance(caught.value, BackendTimeout)


async def test_stalled_stream_times_out_after_the_first_chunk(fake):
    fake.delay_next(2.0, after_chunks=1)
    async with make_backend(fake.base_url, timeouts=Timeouts(connect=2.0, read=0.3)) as client:
        stream = client.chat_stream(chat_body())
        await stream.__anext__()
        started = time.monotonic()
        with pytest.raises(BackendTimeout):
            await stream.__anext__()
        assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("script", "body", "error"),
    [
        (lambda f: f.drop_next(), chat_body(), BackendUnavailable),
        (lambda f: f.fail_next(1, 503), chat_body(), BackendUnavailable),
        (lambda f: None, chat_body(model="nope"), UpstreamRejected),
        (lambda f: None, chat_body(" ".join(["word"] * 80)), ContextLengthExceeded),
    ],
    ids=["dropped", "503", "unknown-model", "context-length"],
)
async def test_failure_before_the_first_chunk_is_raised_by_the_first_anext(fake, backend, script, body, error):
    script(fake)
    stream = backend.chat_stream(body)
    assert fake.requests == []  # nothing is sent until the caller iterates
    with pytest.raises(error):
        await stream.__anext__()
    assert len(fake.requests) == 1


@pytest.mark.parametrize("stop", ["aclose", "break"])
async def test_stopping_a_stream_early_gives_its_connection_back(fake, stop):
    fake.reply = " ".join(f"w{i}" for i in range(400))
    async with make_backend(fake.base_url, max_connections=2, timeouts=Timeouts(connect=1.0, read=5.0)) as client:
        for _ in range(20):
            if stop == "aclose":
                stream = client.chat_stream(chat_body())
                await stream.__anext__()
                await stream.aclose()
            else:
                async for _chunk in client.chat_stream(chat_body()):
                    break
        fake.reply = None
        for _ in range(20):
            assert (await client.chat(chat_body("still fine")))["choices"][0]["message"]["content"] == "still fine"


# --- error mapping ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses_are_unavailable(fake, backend, status):
    fake.fail_next(1, status)
    with pytest.raises(BackendUnavailable) as caught:
        await backend.chat(chat_body())
    assert caught.value.status == status and caught.value.backend == "gpu-1"
    assert not isinstance(caught.value, BackendTimeout)


async def test_unknown_model_is_rejected_with_vllms_404(backend):
    with pytest.raises(UpstreamRejected) as caught:
        await backend.chat(chat_body(model="nope"))
    error = caught.value
    assert (error.status, error.type, error.param, error.code) == (404, "NotFoundError", "model", "404")
    assert error.message == "The model `nope` does not exist."


async def test_prompt_longer_than_the_context_is_context_length_exceeded(backend):
    with pytest.raises(ContextLengthExceeded, match="maximum context length is 64 tokens"):
        await backend.chat(chat_body(" ".join(["word"] * 64)))


async def test_max_tokens_beyond_the_context_is_context_length_exceeded(backend):
    with pytest.raises(ContextLengthExceeded, match="'max_tokens' or 'max_completion_tokens' is too large"):
        await backend.chat(chat_body(max_tokens=100))


def openai_error(message: str, code: Any, type: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


@pytest.mark.parametrize(
    "body",
    [
        openai_error(
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
            "context_length_exceeded",
        ),
        openai_error("Too long.", "context_length_exceeded"),
        {  # vLLM before the {"error": ...} wrapper
            "object": "error",
            "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
            "(4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        },
        openai_error(
            "The decoder prompt (length 5000) is longer than the maximum model length of 4096. Make sure that "
            "`max_model_len` is no smaller than the number of text tokens.",
            400,
            "BadRequestError",
        ),
    ],
    ids=["openai", "openai-code-only", "old-vllm", "vllm-decoder-prompt"],
)
async def test_context_length_errors_of_known_servers(fake, backend, body):
    fake.fail_next(1, 400, body=body)
    with pytest.raises(ContextLengthExceeded):
        await backend.chat(chat_body())


async def test_other_4xx_is_rejected_with_the_upstreams_fields(fake, backend):
    error = {
        "message": "temperature must be <= 2",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "invalid_value",
    }
    fake.fail_next(1, 400, body={"error": error})
    with pytest.raises(UpstreamRejected) as caught:
        await backend.chat(chat_body())
    rejected = caught.value
    assert (rejected.status, rejected.message, rejected.type, rejected.param, rejected.code) == (
        400,
        "temperature must be <= 2",
        "invalid_request_error",
        "temperature",
        "invalid_value",
    )


async def test_vllm_validation_error_is_rejected(backend):
    with pytest.raises(UpstreamRejected) as caught:
        await backend.chat({"model": "base"})
    assert (caught.value.status, caught.value.type, caught.value.code) == (400, "BadRequestError", "400")


async def test_fastapi_detail_error_is_rejected_with_its_detail(fake, backend):
    fake.fail_next(1, 422, body={"detail": [{"loc": ["body", "messages"], "msg": "Field required"}]})
    with pytest.raises(UpstreamRejected, match="Field required") as caught:
        await backend.chat(chat_body())
    assert caught.value.status == 422


async def test_non_json_error_bodies_get_a_sane_message(fake, backend):
    fake.fail_next(1, 400, body="<html>bad request</html>")
    with pytest.raises(UpstreamRejected) as caught:
        await backend.chat(chat_body())
    assert caught.value.message == "upstream answered HTTP 400 Bad Request: <html>bad request</html>"
    assert caught.value.type == "invalid_request_error" and caught.value.code is None
    fake.fail_next(1, 502, body="")
    with pytest.raises(BackendUnavailable, match="HTTP 502") as unavailable:
        await backend.chat(chat_body())
    assert unavailable.value.status == 502


async def test_invalid_json_in_a_success_is_unavailable(fake, backend):
    fake.fail_next(1, 200, body="this is not json")
    with pytest.raises(BackendUnavailable, match="invalid JSON"):
        await backend.chat(chat_body())


async def test_refused_connection_is_unavailable_not_a_timeout():
    async with make_backend(f"http://127.0.0.1:{free_port()}/v1") as client:
        for call in (client.chat(chat_body()), client.chat_stream(chat_body()).__anext__(), client.health()):
            with pytest.raises(BackendUnavailable) as caught:
                await call
            assert not isinstance(caught.value, BackendTimeout)


@pytest.mark.parametrize("after_chunks", [None, 1], ids=["before-first-byte", "mid-body"])
async def test_dropped_connection_is_unavailable(fake, backend, after_chunks):
    fake.drop_next(after_chunks=after_chunks)
    with pytest.raises(BackendUnavailable) as caught:
        await backend.chat(chat_body())
    assert not isinstance(caught.value, BackendTimeout)
    assert (await backend.chat(chat_body("again")))["choices"][0]["message"]["content"] == "again"


async def test_slow_upstream_is_a_read_timeout(fake):
    fake.delay_next(2.0)
    async with make_backend(fake.base_url, timeouts=Timeouts(connect=2.0, read=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(BackendTimeout):
            await client.chat(chat_body())
        assert time.monotonic() - started < 1.5


async def test_waiting_for_a_pooled_connection_is_a_timeout(fake):
    fake.delay_next(3.0, after_chunks=1)
    async with make_backend(fake.base_url, max_connections=1, timeouts=Timeouts(connect=0.3, read=5.0)) as client:
        stream = client.chat_stream(chat_body())
        await stream.__anext__()  # holds the only connection
        with pytest.raises(BackendTimeout):
            await client.chat(chat_body())
        await stream.aclose()


# --- embeddings, health, models -----------------------------------------------------------


async def test_embeddings_pass_through_and_return_openai_shape(fake, backend):
    body = {"model": "base", "input": ["first text", "second"], "encoding_format": "float", "truncate_prompt_tokens": 8}
    result = await backend.embeddings(copy.deepcopy(body))
    parsed = CreateEmbeddingResponse.model_validate(result)
    assert [len(item.embedding) for item in parsed.data] == [8, 8]
    assert parsed.usage.prompt_tokens == 3
    assert fake.bodies("embeddings") == [body]


async def test_embeddings_in_base64_and_for_an_unknown_model(backend):
    result = await backend.embeddings({"model": "base", "input": "text", "encoding_format": "base64"})
    assert len(base64.b64decode(result["data"][0]["embedding"])) == 8 * 4
    with pytest.raises(UpstreamRejected) as caught:
        await backend.embeddings({"model": "nope", "input": "x"})
    assert caught.value.status == 404


async def test_health_passes_when_models_answers(fake, backend):
    await backend.health()
    assert fake.requests[-1].path == "/v1/models" and fake.requests[-1].method == "GET"


async def test_health_fails_on_5xx(fake, backend):
    fake.fail_next(1, 503, endpoints={"models"})
    with pytest.raises(BackendUnavailable) as caught:
        await backend.health()
    assert caught.value.status == 503


async def test_health_uses_a_short_deadline(fake):
    fake.delay_next(3.0, endpoints={"models"})
    async with make_backend(fake.base_url, timeouts=Timeouts(connect=1.0, read=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(BackendTimeout):
            await client.health()
        assert time.monotonic() - started < 1.5


async def test_list_models_includes_lora_adapters(backend):
    assert await backend.list_models() == ["base", "legal"]


async def test_list_models_maps_failures(fake, backend):
    fake.fail_next(1, 500, endpoints={"models"})
    with pytest.raises(BackendUnavailable):
        await backend.list_models()


async def test_backend_describes_itself():
    async with make_backend("http://127.0.0.1:1/v1/", kind="mlx") as client:
        assert (client.kind, client.name, client.models, client.base_url) == (
            "mlx",
            "test",
            ("base",),
            "http://127.0.0.1:1/v1",
        )
