"""AnthropicBackend against a wire-level fake of the Messages API (nothing patched but the network)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import httpx
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from backends.anthropic import AnthropicBackend
from backends.base import Timeouts
from backends.errors import (
    BackendTimeout,
    BackendUnavailable,
    ContextLengthExceeded,
    UnsupportedOperation,
    UpstreamRejected,
)
from tests.fakes.anthropic_server import FakeAnthropic, Script
from tests.fakes.server import free_port, serve_in_thread

MODEL = "claude-opus-4-5"
DATED_MODEL = "claude-opus-4-5-20251101"
PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def served() -> Any:
    fake = FakeAnthropic()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(served: Any) -> FakeAnthropic:
    served[0].reset()
    return served[0]


@pytest.fixture
def url(served: Any) -> str:
    return served[1]


@pytest.fixture
async def make_backend(url: str) -> Any:
    """Build backends against the fake (or another URL); all are closed after the test."""
    made: list[AnthropicBackend] = []

    def make(base_url: str = url, api_key: str | None = "sk-ant-test", **options: Any) -> AnthropicBackend:
        made.append(AnthropicBackend("claude", (MODEL,), base_url, api_key, **options))
        return made[-1]

    yield make
    for backend in made:
        await backend.aclose()


@pytest.fixture
def backend(fake: FakeAnthropic, make_backend: Any) -> AnthropicBackend:
    return make_backend(timeouts=Timeouts(connect=2.0, read=5.0))


def sdk_client(url: str, api_key: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=api_key, base_url=url, max_retries=0)


def chat_body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": list(messages) or [{"role": "user", "content": "Hi"}], **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **extra}


async def collect(backend: AnthropicBackend, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [chunk async for chunk in backend.chat_stream(body)]


async def collect_until_error(backend: AnthropicBackend, body: dict[str, Any], error: type[Exception]) -> list[dict]:
    chunks: list[dict[str, Any]] = []
    with pytest.raises(error):
        async for chunk in backend.chat_stream(body):
            chunks.append(chunk)
    return chunks


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# ---------------------------------------------------------------- the fake speaks Anthropic


SDK_REQUEST: dict[str, Any] = {"model": MODEL, "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}


async def test_fake_replies_parse_with_the_anthropic_sdk(fake: FakeAnthropic, url: str) -> None:
    fake.reply_tool_use("get_weather", {"city": "Paris"}, text="Let me check.")
    async with sdk_client(url, fake.api_key) as client:
        message = await client.messages.create(**SDK_REQUEST)
    assert isinstance(message, anthropic.types.Message)
    assert [block.type for block in message.content] == ["text", "tool_use"]


async def test_fake_stream_is_the_sdks_event_sequence(fake: FakeAnthropic, url: str) -> None:
    fake.reply_tool_use("get_weather", {"city": "Paris"}, text="Let me check.")
    async with sdk_client(url, fake.api_key) as client, client.messages.stream(**SDK_REQUEST) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.content[1].input == {"city": "Paris"} and final.stop_reason == "tool_use"

    headers = {"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        raw = (await client.post("/v1/messages", json={**SDK_REQUEST, "stream": True})).text
    frames = [frame.split("\n") for frame in raw.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in frames]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names == [json.loads(lines[1].removeprefix("data: "))["type"] for lines in frames]


async def test_fake_errors_are_anthropic_shaped(fake: FakeAnthropic, url: str) -> None:
    async with sdk_client(url, "wrong") as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client.messages.create(**SDK_REQUEST)
    assert anthropic.types.ErrorResponse.model_validate(caught.value.body).error.type == "authentication_error"
    fake.overloaded()
    async with sdk_client(url, fake.api_key) as client:
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(**SDK_REQUEST)
    assert caught.value.status_code == 529
    assert anthropic.types.ErrorResponse.model_validate(caught.value.body).error.type == "overloaded_error"


# ---------------------------------------------------------------- request translation


async def test_sends_messages_request_with_anthropic_headers(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    await backend.chat(chat_body())
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }


async def test_base_url_may_end_in_v1(fake: FakeAnthropic, url: str, make_backend: Any) -> None:
    await make_backend(url + "/v1/").chat(chat_body())
    assert fake.requests[-1].path == "/v1/messages"


async def test_system_and_developer_messages_become_top_level_system(
    backend: AnthropicBackend, fake: FakeAnthropic
) -> None:
    await backend.chat(
        chat_body(
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            user("Hi"),
        )
    )
    assert fake.last_body["system"] == "You are terse.\n\nAnswer in French."
    assert [m["role"] for m in fake.last_body["messages"]] == ["user"]


async def test_consecutive_same_role_messages_are_merged(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    await backend.chat(chat_body(user("one"), user("two"), assistant("three"), assistant("four"), user("five")))
    turns = fake.last_body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["text"] for b in turns[0]["content"]] == ["one", "two"]
    assert [b["text"] for b in turns[1]["content"]] == ["three", "four"]


async def test_image_parts_become_image_blocks(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    parts = [
        {"type": "text", "text": "Compare these."},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_BASE64}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
    ]
    await backend.chat(chat_body(user(parts)))
    assert fake.last_body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare these."},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize(
    "url",
    ["data:image/bmp;base64,Qk0=", "data:image/png,not-base64", "ftp://example.com/a.png"],
    ids=["unsupported-type", "not-base64", "bad-scheme"],
)
async def test_unusable_images_are_rejected_before_calling(
    backend: AnthropicBackend, fake: FakeAnthropic, url: str
) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await backend.chat(chat_body(user([{"type": "image_url", "image_url": {"url": url}}])))
    assert caught.value.status == 400 and caught.value.param == "messages"
    assert fake.requests == []


async def test_tools_translate_to_input_schemas(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    bare_tool = {"type": "function", "function": {"name": "now"}}
    await backend.chat(chat_body(tools=[WEATHER_TOOL, bare_tool]))
    assert fake.last_body["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        },
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in fake.last_body


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None, {"type": "tool", "name": "get_weather"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
async def test_tool_choice(
    backend: AnthropicBackend, fake: FakeAnthropic, tool_choice: Any, parallel: Any, expected: dict
) -> None:
    extra: dict[str, Any] = {"tools": [WEATHER_TOOL]}
    if tool_choice is not None:
        extra["tool_choice"] = tool_choice
    if parallel is not None:
        extra["parallel_tool_calls"] = parallel
    await backend.chat(chat_body(**extra))
    assert fake.last_body["tool_choice"] == expected


async def test_tool_calls_and_results_round_trip(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
    ]
    await backend.chat(
        chat_body(
            user("Weather in Paris and Rome?"),
            assistant(None, tool_calls=calls),
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "24C"}]},
            user("Which is warmer?"),
            tools=[WEATHER_TOOL],
        )
    )
    turns = fake.last_body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "24C"},
        {"type": "text", "text": "Which is warmer?"},
    ]


async def test_tool_results_lead_their_merged_user_turn(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    await backend.chat(
        chat_body(
            user("Weather?"),
            assistant("Checking.", tool_calls=[call]),
            user("(the user typed while the tool ran)"),
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            tools=[WEATHER_TOOL],
        )
    )
    assistant_turn, last_turn = fake.last_body["messages"][1:]
    assert assistant_turn["content"][1]["input"] == {}
    assert [b["type"] for b in last_turn["content"]] == ["tool_result", "text"]


async def test_sampling_parameters(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    await backend.chat(chat_body(temperature=1.6, top_p=0.9, stop="END", max_tokens=100, user="user-42"))
    body = fake.last_body
    assert body["temperature"] == 1.0
    assert (body["top_p"], body["stop_sequences"], body["max_tokens"]) == (0.9, ["END"], 100)
    assert body["metadata"] == {"user_id": "user-42"}


async def test_low_temperature_and_stop_list_pass_through(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    await backend.chat(chat_body(temperature=0.3, stop=["\n\nHuman:", "END"], max_tokens=100, max_completion_tokens=7))
    body = fake.last_body
    assert body["temperature"] == 0.3
    assert body["stop_sequences"] == ["\n\nHuman:", "END"]
    assert body["max_tokens"] == 7


async def test_default_max_tokens_is_configurable(fake: FakeAnthropic, make_backend: Any) -> None:
    await make_backend(default_max_tokens=321, anthropic_version="2024-01-01").chat(chat_body())
    assert fake.last_body["max_tokens"] == 321
    assert fake.requests[-1].headers["anthropic-version"] == "2024-01-01"


async def test_response_format_json_schema_becomes_a_system_instruction(
    backend: AnthropicBackend, fake: FakeAnthropic
) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    await backend.chat(
        chat_body({"role": "system", "content": "Be brief."}, user("Hi"), response_format=response_format)
    )
    system = fake.last_body["system"]
    assert system.startswith("Be brief.\n\n") and "JSON" in system
    assert json.dumps(schema, separators=(",", ":")) in system


async def test_n_above_one_is_refused(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await backend.chat(chat_body(n=2))
    assert (caught.value.status, caught.value.param) == (400, "n")
    with pytest.raises(UpstreamRejected):
        await anext(backend.chat_stream(chat_body(n=3, stream=True)))
    assert fake.requests == []


# ---------------------------------------------------------------- response translation


async def test_text_reply_is_a_chat_completion(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.reply([{"type": "text", "text": "Hello "}, {"type": "text", "text": "there."}], model=DATED_MODEL)
    result = await backend.chat(chat_body())
    completion = ChatCompletion.model_validate(result)
    assert completion.id.startswith("chatcmpl-msg_fake")
    assert completion.model == DATED_MODEL
    assert completion.choices[0].message.content == "Hello there."
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 12,
        "completion_tokens": 6,
        "total_tokens": 18,
    }


async def test_tool_use_reply_becomes_tool_calls(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.reply_tool_use("get_weather", {"city": "Paris", "units": "C"}, text="Checking.", tool_id="toolu_abc")
    completion = ChatCompletion.model_validate(await backend.chat(chat_body(tools=[WEATHER_TOOL])))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    (call,) = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("toolu_abc", "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris", "units": "C"}


async def test_tool_use_only_reply_has_null_content(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.reply_tool_use("get_weather", {"city": "Oslo"})
    result = await backend.chat(chat_body(tools=[WEATHER_TOOL]))
    assert result["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
async def test_stop_reasons(
    backend: AnthropicBackend, fake: FakeAnthropic, stop_reason: str, finish_reason: str
) -> None:
    fake.reply_text("ok", stop_reason=stop_reason)
    completion = ChatCompletion.model_validate(await backend.chat(chat_body()))
    assert completion.choices[0].finish_reason == finish_reason


async def test_cache_tokens_count_as_prompt_tokens(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    usage = {"input_tokens": 10, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 20, "output_tokens": 7}
    fake.reply_text("ok", usage=usage)
    completion = ChatCompletion.model_validate(await backend.chat(chat_body()))
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        35,
        7,
        42,
    )
    assert completion.usage.prompt_tokens_details.cached_tokens == 20


# ---------------------------------------------------------------- streaming


async def test_text_stream_chunk_sequence(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.reply_text("The quick brown fox jumps.", model=DATED_MODEL, usage={"input_tokens": 9, "output_tokens": 5})
    chunks = await collect(backend, chat_body(stream=True))
    parsed = [ChatCompletionChunk.model_validate(c) for c in chunks]

    assert fake.last_body["stream"] is True
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert content_of(chunks) == "The quick brown fox jumps."
    assert len([c for c in chunks[1:-2] if c["choices"][0]["delta"].get("content")]) == 5
    finish, usage = parsed[-2], parsed[-1]
    assert finish.choices[0].finish_reason == "stop" and finish.choices[0].delta.content is None
    assert usage.choices == [] and usage.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 9,
        "completion_tokens": 5,
        "total_tokens": 14,
    }
    assert all(c.finish_reason is None for chunk in parsed[:-2] for c in chunk.choices)
    assert {c.id for c in parsed} == {parsed[0].id} and parsed[0].id.startswith("chatcmpl-msg_fake")
    assert {c.model for c in parsed} == {DATED_MODEL}


async def test_tool_call_stream_deltas(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    arguments = {"city": "São Paulo", "units": "celsius", "days": 3}
    fake.reply_tool_use("get_weather", arguments, text="Let me look.", tool_id="toolu_xyz")
    chunks = await collect(backend, chat_body(tools=[WEATHER_TOOL], stream=True))
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)

    assert content_of(chunks) == "Let me look."
    tool_deltas = [d for c in chunks if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls", [])]
    first, rest = tool_deltas[0], tool_deltas[1:]
    assert first == {
        "index": 0,
        "id": "toolu_xyz",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert len(rest) > 1 and all(set(d) == {"index", "function"} and d["index"] == 0 for d in rest)
    assert json.loads("".join(d["function"]["arguments"] for d in rest)) == arguments
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 18


async def test_parallel_tool_calls_stream_with_their_own_indexes(
    backend: AnthropicBackend, fake: FakeAnthropic
) -> None:
    fake.reply(
        [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
        ],
        stop_reason="tool_use",
    )
    chunks = await collect(backend, chat_body(tools=[WEATHER_TOOL], stream=True))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks[:-1]:
        for delta in chunk["choices"][0]["delta"].get("tool_calls", []):
            call = calls.setdefault(delta["index"], {"id": "", "arguments": ""})
            call["id"] += delta.get("id", "")
            call["arguments"] += delta["function"]["arguments"]
    assert calls == {0: {"id": "toolu_1", "arguments": '{"city": "Paris"}'}, 1: {"id": "toolu_2", "arguments": "{}"}}


async def test_stream_without_usage_still_ends_with_usage_chunk(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.reply_text("hi", stop_reason="max_tokens", usage={"input_tokens": 3, "output_tokens": 1})
    chunks = await collect(backend, chat_body(stream=True, stream_options={"include_usage": False}))
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1] == {
        **chunks[-1],
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


# ---------------------------------------------------------------- errors


ERROR_CASES = [
    (529, "Overloaded", BackendUnavailable),
    (500, "Internal server error", BackendUnavailable),
    (503, "Service unavailable", BackendUnavailable),
    (429, "Number of request tokens has exceeded your per-minute rate limit", BackendUnavailable),
    (401, "invalid x-api-key", BackendUnavailable),
    (403, "Your API key does not have permission to use the specified resource.", BackendUnavailable),
    (400, "max_tokens: 999999 > 64000, which is the maximum allowed number of output tokens", UpstreamRejected),
    (404, "model: claude-nope", UpstreamRejected),
    (400, "prompt is too long: 210000 tokens > 200000 maximum", ContextLengthExceeded),
]


@pytest.mark.parametrize(("status", "message", "error"), ERROR_CASES)
async def test_http_errors_map_to_backend_errors(
    backend: AnthropicBackend, fake: FakeAnthropic, status: int, message: str, error: type[Exception]
) -> None:
    fake.fail(status, message)
    with pytest.raises(error) as caught:
        await backend.chat(chat_body())
    assert type(caught.value) is error
    assert message in caught.value.message and caught.value.backend == "claude"
    if error is not ContextLengthExceeded:
        assert caught.value.status == status
    if error is UpstreamRejected:
        assert (caught.value.message, caught.value.type) == (message, "invalid_request_error")


@pytest.mark.parametrize(("status", "message", "error"), ERROR_CASES)
async def test_stream_errors_raise_from_the_first_chunk(
    backend: AnthropicBackend, fake: FakeAnthropic, status: int, message: str, error: type[Exception]
) -> None:
    fake.fail(status, message)
    stream = backend.chat_stream(chat_body(stream=True))
    assert fake.requests == []
    with pytest.raises(error) as caught:
        await anext(stream)
    assert type(caught.value) is error and message in caught.value.message


async def test_fake_validation_errors_reach_the_caller(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await backend.chat(chat_body(stop=["   "]))
    assert caught.value.status == 400 and "stop_sequences" in caught.value.message


async def test_wrong_api_key_is_a_backend_failure(fake: FakeAnthropic, make_backend: Any) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        await make_backend(api_key="sk-ant-wrong").chat(chat_body())
    assert caught.value.status == 401 and "invalid x-api-key" in caught.value.message


async def test_connection_refused(make_backend: Any) -> None:
    backend = make_backend(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable):
        await backend.chat(chat_body())
    with pytest.raises(BackendUnavailable):
        await anext(backend.chat_stream(chat_body(stream=True)))
    with pytest.raises(BackendUnavailable):
        await backend.health()


async def test_slow_reply_times_out(fake: FakeAnthropic, make_backend: Any) -> None:
    fake.delay(2.0)
    backend = make_backend(timeouts=Timeouts(connect=1.0, read=0.2))
    with pytest.raises(BackendTimeout):
        await backend.chat(chat_body())


async def test_slow_stream_start_times_out_on_first_chunk(fake: FakeAnthropic, make_backend: Any) -> None:
    fake.delay(2.0)
    backend = make_backend(timeouts=Timeouts(connect=1.0, read=0.2))
    with pytest.raises(BackendTimeout):
        await anext(backend.chat_stream(chat_body(stream=True)))


async def test_stream_stalling_midway_times_out(fake: FakeAnthropic, make_backend: Any) -> None:
    fake.delay(2.0, after_events=4)
    backend = make_backend(timeouts=Timeouts(connect=1.0, read=0.2))
    chunks = await collect_until_error(backend, chat_body(stream=True), BackendTimeout)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"


async def test_dropped_connection_mid_stream(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.drop(after_events=5)
    chunks = await collect_until_error(backend, chat_body(stream=True), BackendUnavailable)
    assert content_of(chunks) and not any(c["choices"] == [] for c in chunks)


async def test_dropped_connection_mid_body(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.drop()
    with pytest.raises(BackendUnavailable) as caught:
        await backend.chat(chat_body())
    assert not isinstance(caught.value, BackendTimeout)


async def test_stream_ending_before_message_stop_is_a_failure(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.script(Script(content=[{"type": "text", "text": "cut short here"}], end_after_events=5))
    chunks = await collect_until_error(backend, chat_body(stream=True), BackendUnavailable)
    assert content_of(chunks)


async def test_error_event_mid_stream(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.error_mid_stream("overloaded_error", "Overloaded", after_events=4)
    chunks = await collect_until_error(backend, chat_body(stream=True), BackendUnavailable)
    assert chunks and content_of(chunks)
    assert fake.requests[-1].body["stream"] is True


async def test_error_event_before_any_content_raises_on_first_chunk(
    backend: AnthropicBackend, fake: FakeAnthropic
) -> None:
    fake.error_mid_stream("api_error", "Internal server error", after_events=0)
    with pytest.raises(BackendUnavailable) as caught:
        await anext(backend.chat_stream(chat_body(stream=True)))
    assert caught.value.status == 500 and "Internal server error" in caught.value.message


# ---------------------------------------------------------------- health, pooling, the rest


async def test_health_asks_the_models_endpoint(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    await backend.health()
    request = fake.requests[-1]
    assert (request.method, request.path, request.headers["x-api-key"]) == ("GET", "/v1/models", "sk-ant-test")


async def test_health_fails_on_server_errors(backend: AnthropicBackend, fake: FakeAnthropic) -> None:
    fake.models_status = 503
    with pytest.raises(BackendUnavailable) as caught:
        await backend.health()
    assert caught.value.status == 503


async def test_health_counts_a_client_error_as_reachable(fake: FakeAnthropic, make_backend: Any) -> None:
    await make_backend(api_key="sk-ant-wrong").health()
    assert fake.requests[-1].path == "/v1/models"


async def test_concurrent_calls_through_a_small_pool(fake: FakeAnthropic, make_backend: Any) -> None:
    backend = make_backend(max_connections=2)
    results = await asyncio.gather(*(backend.chat(chat_body(user(f"q{i}"))) for i in range(6)))
    assert len({r["id"] for r in results}) == 6
    assert len(fake.requests) == 6


async def test_closed_backend_makes_no_more_calls(fake: FakeAnthropic, make_backend: Any) -> None:
    backend = make_backend()
    await backend.aclose()
    with pytest.raises((BackendUnavailable, RuntimeError)):
        await backend.chat(chat_body())
    assert fake.requests == []


async def test_embeddings_are_not_served(backend: AnthropicBackend) -> None:
    assert backend.kind == "anthropic"
    with pytest.raises(UnsupportedOperation):
        await backend.embeddings({"model": MODEL, "input": "hi"})
