"""Backends with ``responses_api = "native"``: the request goes to the upstream's own ``/v1/responses``
(``store: false``, the whole conversation as ``input``), and limits, ledger, attestation,
request ids and stored responses work as on every other backend."""

from __future__ import annotations

import json
from datetime import date

import httpx
import openai
import pytest
from pydantic import ValidationError

from gateway.settings import BackendSettings
from tests.fakes.vllm_server import Answer, ToolCall
from tests.gateway.harness import wait_for
from tests.gateway.responses.conftest import NATIVE


@pytest.fixture
def database_url(sqlite_url):
    """The native path does not touch the database differently: SQLite only."""
    return sqlite_url


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_a_request_is_passed_through_to_the_upstreams_responses_endpoint(responses_stack):
    raw = responses_stack.client().responses.with_raw_response.create(
        model=NATIVE,
        input="hello native world",
        instructions="Be brief.",
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        text={"format": {"type": "json_object"}},
        temperature=0.2,
        top_p=0.8,
        max_output_tokens=40,
        metadata={"ticket": "N-1"},
        user="u-9",
        reasoning={"effort": "low"},
        extra_body={"top_k": 5},
    )
    response = raw.parse()
    (sent,) = responses_stack.native.bodies("responses")
    assert sent == {
        "model": NATIVE,
        "input": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello native world"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
        "text": {"format": {"type": "json_object"}},
        "temperature": 0.2,
        "top_p": 0.8,
        "max_output_tokens": 40,
        "user": "u-9",
        "reasoning": {"effort": "low"},
        "top_k": 5,
        "store": False,
    }
    assert responses_stack.native.bodies("chat") == []
    assert response.status == "completed" and response.output_text == "hello native world"
    assert [item.type for item in response.output] == ["message"]  # the upstream's reasoning item stays upstream
    assert response.usage.input_tokens == 5 and response.usage.output_tokens == 3
    assert response.metadata == {"ticket": "N-1"} and response.store is True
    assert response.id == "resp_" + raw.headers["x-request-id"].removeprefix("req_")
    assert raw.headers["x-gateway-backend"] == "openai-1" and raw.headers["x-ratelimit-limit-requests"] == "100"
    attestation = httpx.get(
        f"{responses_stack.gateway.url}/v1/attestations/{raw.headers['x-request-id']}",
        headers={"authorization": f"Bearer {responses_stack.key}"},
    ).json()
    assert attestation["compact"] == raw.headers["x-attestation"]


def test_a_conversation_continues_on_a_native_backend(responses_stack):
    client = responses_stack.client()
    responses_stack.native.reply = Answer(
        tool_calls=(ToolCall("get_weather", {"city": "Rome", "unit": "c"}, id="call_r"),)
    )
    asked = client.responses.create(model=NATIVE, input="weather in Rome?", tools=[WEATHER_TOOL])
    (call,) = asked.output
    assert call.type == "function_call" and call.call_id == "call_r"
    assert json.loads(call.arguments) == {"city": "Rome", "unit": "c"}

    responses_stack.native.reply = "It is 20C in Rome."
    answered = client.responses.create(
        model=NATIVE,
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": "call_r", "output": "20C"}],
        tools=[WEATHER_TOOL],
    )
    assert answered.output_text == "It is 20C in Rome." and answered.previous_response_id == asked.id
    sent = responses_stack.native.bodies("responses")[-1]
    assert sent["store"] is False and "previous_response_id" not in sent
    assert sent["input"] == [
        {"role": "user", "content": [{"type": "input_text", "text": "weather in Rome?"}]},
        {
            "type": "function_call",
            "call_id": "call_r",
            "name": "get_weather",
            "arguments": '{"city":"Rome","unit":"c"}',
        },
        {"type": "function_call_output", "call_id": "call_r", "output": "20C"},
    ]


def test_a_streamed_function_call_assembles_into_valid_json(responses_stack):
    arguments = {"city": "Zürich", "unit": "c"}
    responses_stack.native.reply = Answer("Checking.", (ToolCall("get_weather", arguments, id="call_z"),))
    client = responses_stack.client()
    raw = client.responses.with_raw_response.create(model=NATIVE, input="weather?", tools=[WEATHER_TOOL], stream=True)
    events = [event.to_dict() for event in raw.parse()]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    streamed = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert json.loads(streamed) == arguments
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "function_call"] and output[1]["call_id"] == "call_z"
    payload = events[-1]["attestation"]["payload"]
    assert payload["request_id"] == raw.headers["x-request-id"] and payload["backend"] == "openai-1"
    assert responses_stack.native.bodies("responses")[-1]["stream"] is True

    with client.responses.stream(model=NATIVE, input="weather?", tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_response()
    assert json.loads(final.output[1].arguments) == arguments
    assert client.responses.retrieve(final.id).output[1].call_id == "call_z"


def test_max_output_tokens_makes_a_native_response_incomplete(responses_stack):
    responses_stack.native.reply = "one two three four five"
    client = responses_stack.client()
    response = client.responses.create(model=NATIVE, input="count", max_output_tokens=2)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "one two"
    events = list(client.responses.create(model=NATIVE, input="count", max_output_tokens=2, stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.output_text == "one two"


def test_upstream_failures(responses_stack):
    client = responses_stack.client()
    responses_stack.native.reply = "this will not finish in time"
    responses_stack.native.fail_stream_after(5)
    events = [event.to_dict() for event in client.responses.create(model=NATIVE, input="go", stream=True)]
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    assert "upstream exploded" in events[-1]["response"]["error"]["message"]

    responses_stack.native.fail_next(503)
    responses_stack.native.fail_next(503)
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model=NATIVE, input="go")
    assert caught.value.status_code == 502 and caught.value.body["type"] == "upstream_error"


def test_chat_completions_to_a_native_backend_still_use_chat(responses_stack):
    completion = responses_stack.client().chat.completions.create(
        model=NATIVE, messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "chat: hi"
    assert responses_stack.native.bodies("responses") == [] and len(responses_stack.native.bodies("chat")) == 1


def test_native_responses_are_in_the_ledger(responses_stack):
    client = responses_stack.client()
    plain = client.responses.with_raw_response.create(model=NATIVE, input="count these four words")
    streamed = client.responses.with_raw_response.create(model=NATIVE, input="count these four words", stream=True)
    list(streamed.parse())
    ids = {plain.headers["x-request-id"], streamed.headers["x-request-id"]}
    today = date.today().isoformat()
    params = {"start": today, "end": today, "tenant": "acme", "group": "requests"}

    def rows() -> list[dict]:
        data = responses_stack.gateway.admin.get("/admin/api/usage", params=params).json()["data"]
        return [row for row in data if row["request_id"] in ids]

    assert wait_for(lambda: len(rows()) == 2, 5)
    for row in rows():
        assert row["endpoint"] == "responses" and row["backend"] == "openai-1" and row["status"] == 200
        assert (row["prompt_tokens"], row["completion_tokens"]) == (4, 4)


def test_native_needs_an_openai_compatible_backend():
    with pytest.raises(ValidationError, match="responses_api"):
        BackendSettings(name="c", kind="anthropic", base_url="http://x", models=["m"], responses_api="native")
    with pytest.raises(ValidationError):
        BackendSettings(name="v", kind="vllm", base_url="http://x", models=["m"], responses_api="sometimes")


def test_guardrails_screen_what_a_native_backend_receives(responses_stack):
    email = "ayse.yilmaz@example.com"
    response = responses_stack.client().responses.create(model=NATIVE, input=f"write to {email} please")
    sent = json.dumps(responses_stack.native.bodies("responses")[-1]["input"])
    assert email not in sent and "[EMAIL_1]" in sent
    assert email not in response.output_text


def test_a_failing_native_backend_falls_back_to_a_translated_one(responses_stack):
    responses_stack.gateway.route(
        "acme",
        "assistant",
        [{"backend": "openai-1", "model": NATIVE}],
        fallback=[{"backend": "gpu-1", "model": "qwen"}],
    )
    client = responses_stack.client()
    assert wait_for(lambda: "assistant" in {model.id for model in client.models.list()})
    image = "data:image/png;base64,iVBORw0KGgo="
    conversation = [
        {"role": "developer", "content": "Describe images."},
        {
            "role": "user",
            "content": [{"type": "input_text", "text": "what is this"}, {"type": "input_image", "image_url": image}],
        },
    ]
    served = client.responses.with_raw_response.create(model="assistant", input=conversation)
    assert served.headers["x-gateway-backend"] == "openai-1"
    assert responses_stack.native.bodies("responses")[-1]["input"] == [
        {"role": "system", "content": "Describe images."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is this"},
                {"type": "input_image", "image_url": image, "detail": "auto"},
            ],
        },
    ]

    responses_stack.native.fail_next(503)
    responses_stack.native.fail_next(503)
    fell_back = client.responses.with_raw_response.create(
        model="assistant", input="and now?", previous_response_id=served.parse().id
    )
    assert fell_back.headers["x-gateway-backend"] == "gpu-1" and fell_back.parse().output_text == "and now?"
    assert [m["role"] for m in responses_stack.sent()["messages"]] == ["system", "user", "assistant", "user"]
