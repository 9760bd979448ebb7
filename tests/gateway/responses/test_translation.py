"""``POST /v1/responses``, driven with the official openai SDK through the running gateway.

Against a fake vLLM (chat completions upstream) and a fake Claude (Messages API, through the
Claude backend's translation): text and tool-call answers, streamed and not, the typed stream
helper, structured output, limits and ledger, bad input and a failure mid-stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from backends.openai_protocol import chat_chunk
from gateway.responses.protocol import ResponsesRequest
from gateway.responses.response import ResponseFrame
from gateway.responses.stream import ResponseStream, response_events
from gateway.sse import StreamRelay
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.server import serve_in_thread
from tests.fakes.vllm_server import Answer, FakeVLLM, ToolCall
from tests.gateway.harness import RunningGateway, running_gateway, settings_for, wait_for

CLAUDE_KEY_ENV = "PARAMGATE_TEST_ANTHROPIC_KEY"
CLAUDE = "claude-sonnet-4-5"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}
TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
]
TEXT_DONE = ["response.output_text.done", "response.content_part.done", "response.output_item.done"]


@dataclass
class Stack:
    gateway: RunningGateway
    vllm: FakeVLLM
    claude: FakeAnthropic
    key: str

    def client(self) -> openai.OpenAI:
        return self.gateway.openai(self.key, _strict_response_validation=True)

    def sent(self) -> dict[str, Any]:
        """The chat body the fake vLLM received last."""
        return self.vllm.bodies("chat")[-1]


@pytest.fixture
def stack(sqlite_url, tmp_path, monkeypatch) -> Iterator[Stack]:
    monkeypatch.setenv(CLAUDE_KEY_ENV, "sk-ant-test")
    vllm = FakeVLLM(models=["qwen"])
    claude = FakeAnthropic(api_key="sk-ant-test")
    with vllm.serve() as vllm_url, serve_in_thread(claude) as claude_url:
        backends = [
            {"name": "gpu-1", "kind": "vllm", "base_url": vllm_url, "models": ["qwen"], "read_timeout": 5.0},
            {
                "name": "claude",
                "kind": "anthropic",
                "base_url": claude_url,
                "api_key_env": CLAUDE_KEY_ENV,
                "models": [CLAUDE],
            },
        ]
        settings = settings_for(
            sqlite_url,
            tmp_path,
            backends,
            resilience={"retry_backoff_seconds": 0.001, "health_check_interval_seconds": 60},
            ledger={"flush_interval_seconds": 0.1},
        )
        with running_gateway(settings) as gateway:
            key = gateway.tenant("acme", rpm=100)
            vllm.requests.clear()
            claude.requests.clear()
            yield Stack(gateway, vllm, claude, key)


def raw_events(stack: Stack, **params: Any) -> list[dict[str, Any]]:
    """The streamed events as plain dicts, in wire order."""
    with stack.client().responses.create(stream=True, **params) as stream:
        return [event.to_dict() for event in stream]


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def assert_numbered(events: list[dict[str, Any]]) -> None:
    assert [event["sequence_number"] for event in events] == list(range(len(events)))


# ---------------------------------------------------------------- non-streaming, vLLM


def test_a_string_input_gets_a_completed_response(stack):
    raw = stack.client().responses.with_raw_response.create(
        model="qwen",
        input="hello there friend",
        instructions="Be brief.",
        temperature=0.3,
        top_p=0.9,
        max_output_tokens=50,
        metadata={"ticket": "T-1"},
        user="u-7",
    )
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "hello there friend"
    (message,) = response.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert message.content[0].type == "output_text" and message.id.startswith("msg_")
    assert response.usage.input_tokens == 5 and response.usage.output_tokens == 3
    assert response.usage.total_tokens == 8
    assert response.incomplete_details is None and response.error is None
    assert response.metadata == {"ticket": "T-1"} and response.user == "u-7" and response.instructions == "Be brief."
    assert (response.temperature, response.top_p, response.max_output_tokens) == (0.3, 0.9, 50)
    assert response.model == "qwen" and response.id == "resp_" + raw.headers["x-request-id"].removeprefix("req_")
    assert raw.headers["x-gateway-backend"] == "gpu-1" and raw.headers["x-gateway-model"] == "qwen"
    assert raw.headers["x-ratelimit-limit-requests"] == "100"
    assert int(raw.headers["x-ratelimit-remaining-requests"]) < 100
    assert stack.sent() == {
        "model": "qwen",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there friend"}],
        "temperature": 0.3,
        "top_p": 0.9,
        "user": "u-7",
        "max_completion_tokens": 50,
    }


def test_input_items_become_chat_messages(stack):
    client = stack.client()
    image = "data:image/png;base64,iVBORw0KGgo="
    client.responses.create(
        model="qwen",
        input=[
            {"role": "developer", "content": "You are a weather bot."},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "weather in Paris?"},
                    {"type": "input_image", "image_url": image, "detail": "low"},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
                "status": "completed",
            },
            {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": '{"city":"Lyon"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
            {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "21C"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
        ],
        tools=[WEATHER_TOOL],
    )
    assert stack.sent()["messages"] == [
        {"role": "system", "content": "You are a weather bot."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "weather in Paris?"},
                {"type": "image_url", "image_url": {"url": image, "detail": "low"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "21C"},
    ]


def test_tools_tool_choice_and_text_format_are_translated(stack):
    client = stack.client()
    other = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    response = client.responses.create(
        model="qwen",
        input="hi",
        tools=[WEATHER_TOOL, other],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "point", "schema": schema, "strict": True}},
    )
    sent = stack.sent()
    assert sent["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": WEATHER_TOOL["parameters"],
            "strict": True,
        },
    }
    assert sent["tools"][1] == {"type": "function", "function": {"name": "get_time", "parameters": other["parameters"]}}
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "point", "schema": schema, "strict": True},
    }
    assert response.tool_choice.name == "get_weather" and [t.name for t in response.tools] == [
        "get_weather",
        "get_time",
    ]
    assert response.text.format.type == "json_schema" and response.parallel_tool_calls is False

    client.responses.create(
        model="qwen",
        input="hi",
        tools=[WEATHER_TOOL, other],
        tool_choice={"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "get_time"}]},
        text={"format": {"type": "json_object"}},
    )
    sent = stack.sent()
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_time"] and sent["tool_choice"] == "required"
    assert sent["response_format"] == {"type": "json_object"}

    client.responses.create(
        model="qwen", input="hi", tools=[WEATHER_TOOL], tool_choice="none", text={"format": {"type": "text"}}
    )
    assert stack.sent()["tool_choice"] == "none" and "response_format" not in stack.sent()


def test_unknown_fields_pass_through_to_the_upstream(stack):
    stack.client().responses.create(
        model="qwen",
        input="hi",
        extra_body={"top_k": 20, "repetition_penalty": 1.1},
        store=False,
        include=["message.output_text.logprobs"],
    )
    sent = stack.sent()
    assert sent["top_k"] == 20 and sent["repetition_penalty"] == 1.1
    assert "store" not in sent and "include" not in sent and "input" not in sent


def test_a_tool_call_becomes_a_function_call_item(stack):
    stack.vllm.reply = Answer(tool_calls=(ToolCall("get_weather", {"city": "Paris", "unit": "c"}, id="call_abc"),))
    response = stack.client().responses.create(model="qwen", input="weather in Paris?", tools=[WEATHER_TOOL])
    assert response.status == "completed"
    (call,) = response.output
    assert call.type == "function_call" and call.call_id == "call_abc" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris", "unit": "c"} and call.id.startswith("fc_")
    assert response.output_text == ""


def test_text_then_tool_calls_give_a_message_and_function_calls(stack):
    stack.vllm.reply = Answer(
        "Let me check.",
        (ToolCall("get_weather", {"city": "A", "unit": "c"}), ToolCall("get_weather", {"city": "B", "unit": "f"})),
    )
    response = stack.client().responses.create(model="qwen", input="two cities", tools=[WEATHER_TOOL])
    assert [item.type for item in response.output] == ["message", "function_call", "function_call"]
    assert response.output_text == "Let me check."
    assert [json.loads(item.arguments)["city"] for item in response.output[1:]] == ["A", "B"]


def test_max_output_tokens_makes_the_response_incomplete(stack):
    stack.vllm.reply = "one two three four five six"
    response = stack.client().responses.create(model="qwen", input="count", max_output_tokens=3)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "one two three" and response.output[0].status == "incomplete"
    assert response.usage.output_tokens == 3


# ---------------------------------------------------------------- streaming, vLLM


def test_a_streamed_text_answer_has_the_documented_event_sequence(stack):
    stack.vllm.reply = "the quick brown fox"
    raw = stack.client().responses.with_raw_response.create(model="qwen", input="go", stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["x-ratelimit-limit-requests"] == "100" and raw.headers["x-gateway-backend"] == "gpu-1"
    events = [event.to_dict() for event in raw.parse()]
    deltas = ["response.output_text.delta"] * 4
    assert types_of(events) == TEXT_EVENTS + deltas + TEXT_DONE + ["response.completed"]
    assert_numbered(events)
    created, in_progress = events[0]["response"], events[1]["response"]
    assert created["status"] == in_progress["status"] == "in_progress" and created["output"] == []
    assert created["id"] == events[-1]["response"]["id"] == "resp_" + raw.headers["x-request-id"][4:]
    item_id = events[2]["item"]["id"]
    assert events[2]["item"] == {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    assert all(e["item_id"] == item_id and e["output_index"] == 0 for e in events[3:-2])
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "the quick brown fox"
    assert events[-4]["text"] == "the quick brown fox" and events[-3]["part"]["text"] == "the quick brown fox"
    assert events[-2]["item"]["status"] == "completed"
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["output"] == [events[-2]["item"]]
    assert final["usage"]["input_tokens"] == 1 and final["usage"]["output_tokens"] == 4
    assert stack.sent()["stream"] is True and stack.sent()["stream_options"] == {"include_usage": True}


def test_the_typed_stream_helper_collects_the_final_response(stack):
    stack.vllm.reply = "streamed words arrive"
    with stack.client().responses.stream(model="qwen", input="go", instructions="Be nice.") as stream:
        texts = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == "streamed words arrive"
    assert final.status == "completed" and final.output_text == "streamed words arrive"
    assert final.usage.output_tokens == 3 and final.instructions == "Be nice."


class Weather(BaseModel):
    city: str
    degrees: int


def test_structured_output_against_a_json_schema_parses(stack):
    stack.vllm.reply = '{"city": "Paris", "degrees": 18}'
    client = stack.client()
    with client.responses.stream(model="qwen", input="weather?", text_format=Weather) as stream:
        final = stream.get_final_response()
    assert final.output_parsed == Weather(city="Paris", degrees=18)
    sent = stack.sent()
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == "Weather"
    assert sent["response_format"]["json_schema"]["schema"]["properties"]["degrees"]["type"] == "integer"
    parsed = client.responses.parse(model="qwen", input="weather?", text_format=Weather)
    assert parsed.output_parsed == Weather(city="Paris", degrees=18)


def test_a_streamed_function_call_assembles_into_valid_json(stack):
    arguments = {"city": "São Paulo", "unit": "c"}
    stack.vllm.reply = Answer(tool_calls=(ToolCall("get_weather", arguments, id="call_sp"),))
    events = raw_events(stack, model="qwen", input="weather?", tools=[WEATHER_TOOL])
    assert_numbered(events)
    kinds = types_of(events)
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[3:-3] == ["response.function_call_arguments.delta"] * (len(kinds) - 6)
    assert kinds[-3:] == ["response.function_call_arguments.done", "response.output_item.done", "response.completed"]
    added = events[2]["item"]
    assert added["type"] == "function_call" and added["call_id"] == "call_sp" and added["arguments"] == ""
    streamed = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert json.loads(streamed) == arguments == json.loads(events[-3]["arguments"])
    assert events[-1]["response"]["output"][0]["arguments"] == streamed

    with stack.client().responses.stream(model="qwen", input="weather?", tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call" and json.loads(call.arguments) == arguments and call.call_id == "call_sp"


def test_text_then_a_tool_call_stream_as_two_items(stack):
    stack.vllm.reply = Answer("Checking now.", (ToolCall("get_weather", {"city": "Rome", "unit": "c"}),))
    events = raw_events(stack, model="qwen", input="weather?", tools=[WEATHER_TOOL])
    assert_numbered(events)
    added = [e for e in events if e["type"] == "response.output_item.added"]
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert [(e["output_index"], e["item"]["type"]) for e in added] == [(0, "message"), (1, "function_call")]
    assert [(e["output_index"], e["item"]["type"]) for e in done] == [(0, "message"), (1, "function_call")]
    assert events.index(done[0]) < events.index(added[1]), "the message closes before the call opens"
    assert [item["type"] for item in events[-1]["response"]["output"]] == ["message", "function_call"]


def test_a_stream_cut_by_max_output_tokens_ends_incomplete(stack):
    stack.vllm.reply = "one two three four five six"
    events = raw_events(stack, model="qwen", input="count", max_output_tokens=2)
    assert_numbered(events)
    assert events[-1]["type"] == "response.incomplete"
    final = events[-1]["response"]
    assert final["status"] == "incomplete" and final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete" and final["output"][0]["content"][0]["text"] == "one two"


def test_a_failure_mid_stream_ends_with_response_failed(stack):
    stack.vllm.reply = "this answer will break"
    stack.vllm.error_mid_stream_next(after_chunks=3, message="GPU fell over")
    events = raw_events(stack, model="qwen", input="go")
    assert_numbered(events)
    kinds = types_of(events)
    assert kinds[:4] == TEXT_EVENTS and kinds[-2:] == ["error", "response.failed"]
    assert "response.completed" not in kinds
    error = events[-2]
    assert error["code"] == "upstream_stream_error" and "GPU fell over" in error["message"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert "GPU fell over" in failed["error"]["message"]
    assert failed["output"][0]["status"] == "incomplete" and failed["output"][0]["content"][0]["text"] == "this answer"

    stack.vllm.error_mid_stream_next(after_chunks=2)
    with stack.client().responses.stream(model="qwen", input="go") as stream:
        seen = [event.type for event in stream]
        with pytest.raises(RuntimeError, match="response.completed"):
            stream.get_final_response()
    assert seen[-1] == "response.failed"


def test_a_failure_before_the_stream_starts_is_an_http_error(stack):
    stack.vllm.fail_next(
        3, status=400, body={"error": {"message": "bad things", "type": "BadRequestError", "param": None, "code": 400}}
    )
    with pytest.raises(openai.BadRequestError) as caught:
        stack.client().responses.create(model="qwen", input="go", stream=True)
    assert caught.value.response.headers["x-ratelimit-limit-requests"] == "100"


# ---------------------------------------------------------------- Claude


def test_claude_answers_text_and_tool_calls(stack):
    client = stack.client()
    stack.claude.reply_text("Bonjour!")
    response = client.responses.create(model=CLAUDE, input="hello", instructions="Speak French.", max_output_tokens=64)
    assert response.output_text == "Bonjour!" and response.status == "completed" and response.model == CLAUDE
    assert response.usage.input_tokens == 12 and response.usage.output_tokens == 6
    assert stack.claude.last_body["system"] == "Speak French." and stack.claude.last_body["max_tokens"] == 64

    stack.claude.reply_tool_use("get_weather", {"city": "Paris", "unit": "c"}, tool_id="toolu_42")
    response = client.responses.create(
        model=CLAUDE, input="weather in Paris?", tools=[WEATHER_TOOL], tool_choice="required"
    )
    (call,) = response.output
    assert call.type == "function_call" and call.call_id == "toolu_42" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris", "unit": "c"}
    sent = stack.claude.last_body
    assert sent["tools"][0]["name"] == "get_weather" and sent["tool_choice"] == {"type": "any"}

    stack.claude.reply_text("It is 18C in Paris.")
    follow_up = client.responses.create(
        model=CLAUDE,
        input=[
            {"role": "user", "content": "weather in Paris?"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "18C"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert follow_up.output_text == "It is 18C in Paris."
    turns = stack.claude.last_body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_42",
        "name": "get_weather",
        "input": {"city": "Paris", "unit": "c"},
    }
    assert turns[2]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_42", "content": "18C"}


def test_claude_streams_text_and_tool_calls(stack):
    stack.claude.reply_text("Streaming from Claude works")
    with stack.client().responses.stream(model=CLAUDE, input="hi") as stream:
        events = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_text == "Streaming from Claude works" and final.usage.output_tokens == 6
    assert events[:4] == TEXT_EVENTS and events[-1] == "response.completed"

    arguments = {"city": "Paris", "unit": "c", "note": "a longer note to split"}
    stack.claude.reply_tool_use("get_weather", arguments, text="Let me look.", tool_id="toolu_7")
    events = raw_events(stack, model=CLAUDE, input="weather?", tools=[WEATHER_TOOL])
    assert_numbered(events)
    streamed = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert json.loads(streamed) == arguments
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "function_call"]
    assert output[0]["content"][0]["text"] == "Let me look." and output[1]["call_id"] == "toolu_7"


def test_claude_failing_mid_stream_ends_with_response_failed(stack):
    stack.claude.error_mid_stream(after_events=4)
    events = raw_events(stack, model=CLAUDE, input="hi")
    assert_numbered(events)
    assert types_of(events)[-2:] == ["error", "response.failed"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
        ({"truncation": "auto"}, "truncation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tools": [WEATHER_TOOL, {"type": "function"}]}, "tools[1].name"),
        ({"tool_choice": {"type": "function", "name": "nope"}, "tools": [WEATHER_TOOL]}, "tool_choice.name"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": -1}, "top_p"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"metadata": {"k": "v" * 513}}, "metadata[...]"),
        ({"metadata": {str(i): "v" for i in range(17)}}, "metadata"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"input": []}, "input"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].image_url",
        ),
        (
            {"input": [{"role": "user", "content": "hi"}, {"type": "function_call_output", "output": "x"}]},
            "input[1].call_id",
        ),
        ({"input": [{"role": "wizard", "content": "hi"}]}, "input[0].role"),
        ({"input": [{"type": ["message"], "role": "user", "content": "hi"}]}, "input[0].type"),
        ({"input": ["hi"]}, "input[0]"),
        (
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {
                    "type": "allowed_tools",
                    "mode": "auto",
                    "tools": [{"type": "function", "name": ["x"]}],
                },
            },
            "tool_choice.tools[0]",
        ),
        ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
    ],
)
def test_bad_or_unsupported_input_is_a_400_naming_the_parameter(stack, params, param):
    body = {"model": "qwen", "input": "hi", **params}
    with pytest.raises(openai.BadRequestError) as caught:
        stack.client().responses.create(**body)
    assert caught.value.status_code == 400 and caught.value.param == param, caught.value.body
    assert caught.value.type == "invalid_request_error" and param.split("[")[0].split(".")[0] in caught.value.message
    assert stack.vllm.bodies("chat") == []


def test_malformed_bodies_and_unknown_models(stack):
    url = f"{stack.gateway.url}/v1/responses"
    headers = {"authorization": f"Bearer {stack.key}"}
    assert httpx.post(url, content=b"{nope", headers=headers).status_code == 400
    missing = httpx.post(url, json={"model": "qwen"}, headers=headers)
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input"
    assert httpx.post(url, json={"model": "qwen", "input": "hi"}).status_code == 401
    with pytest.raises(openai.NotFoundError):
        stack.client().responses.create(model="no-such-model", input="hi")


# ---------------------------------------------------------------- limits and ledger


def test_rate_limits_apply_and_are_reported(stack):
    key = stack.gateway.tenant("tiny", rpm=1)
    client = stack.gateway.openai(key)
    first = client.responses.with_raw_response.create(model="qwen", input="hi")
    assert first.headers["x-ratelimit-limit-requests"] == "1"
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="qwen", input="hi", stream=True)
    assert caught.value.response.headers.get("retry-after")


def ledger_rows(stack: Stack, ids: set[str]) -> list[dict]:
    today = date.today().isoformat()
    params = {"start": today, "end": today, "tenant": "acme", "group": "requests"}
    rows = stack.gateway.admin.get("/admin/api/usage", params=params).json()["data"]
    return [row for row in rows if row["request_id"] in ids]


def test_every_response_has_a_ledger_row(stack):
    client = stack.client()
    plain = client.responses.with_raw_response.create(model="qwen", input="hello there")
    streamed = client.responses.with_raw_response.create(model="qwen", input="hello there", stream=True)
    list(streamed.parse())
    ids = {plain.headers["x-request-id"], streamed.headers["x-request-id"]}
    assert wait_for(lambda: len(ledger_rows(stack, ids)) == 2, 5)
    for row in ledger_rows(stack, ids):
        assert row["endpoint"] == "responses" and row["status"] == 200 and row["backend"] == "gpu-1"
        assert (row["prompt_tokens"], row["completion_tokens"]) == (2, 2)


def test_a_client_leaving_mid_stream_is_still_charged(stack):
    stack.vllm.delay_next(0.5, after_chunks=3)
    body = {"model": "qwen", "stream": True, "input": "one two three four five six"}
    headers = {"authorization": f"Bearer {stack.key}"}
    with httpx.stream("POST", f"{stack.gateway.url}/v1/responses", headers=headers, json=body) as response:
        request_id = response.headers["x-request-id"]
        lines = response.iter_lines()
        received = [next(lines) for _ in range(15)]  # five events (the fifth a text delta): three lines each
    assert any('"type":"response.output_text.delta"' in line for line in received)
    assert wait_for(lambda: len(ledger_rows(stack, {request_id})) == 1, 5)
    (row,) = ledger_rows(stack, {request_id})
    assert row["status"] == 499 and row["completion_tokens"] >= 1 and row["endpoint"] == "responses"


# ---------------------------------------------------------------- trailers (unit level)


async def test_trailers_are_sent_as_events_before_the_final_event():
    def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
        choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return chat_chunk(id="c1", model="m", created=1, choices=choices, usage=usage)

    async def rest():
        yield chunk({"content": "hi"})
        yield chunk({}, "stop")
        yield chunk({}, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})

    async def on_done(relay: StreamRelay) -> None:
        relay.trailers.append({"object": "attestation", "signature": "sig"})

    relay = StreamRelay(chunk({"role": "assistant", "content": ""}), rest(), include_usage=True, on_done=on_done)
    request = ResponsesRequest(model="m", input="x")
    stream = ResponseStream(ResponseFrame.for_request("req_abc", {"model": "m", "input": "x"}, request))
    frames = [frame async for frame in response_events(stream, relay)]
    events = [json.loads(frame.split(b"\ndata: ", 1)[1]) for frame in frames]
    assert all(frame.startswith(b"event: " + e["type"].encode() + b"\n") for frame, e in zip(frames, events))
    assert types_of(events)[-3:] == ["response.output_item.done", "paramgate.trailer", "response.completed"]
    assert events[-2]["trailer"] == {"object": "attestation", "signature": "sig"}
    assert_numbered(events)
    assert events[-1]["response"]["id"] == "resp_abc" and events[-1]["response"]["usage"]["total_tokens"] == 2
