"""Stored responses: ``store``, ``previous_response_id``, retrieve, delete, ``input_items``,
tenant scoping, retention and the size bound — on SQLite and PostgreSQL, through the openai SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest
from sqlalchemy import text
from sqlmodel import select

from gateway.responses.models import StoredResponse
from tests.fakes.vllm_server import Answer, ToolCall
from tests.gateway.harness import wait_for

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_a_multi_turn_conversation_through_previous_response_id(responses_stack):
    client = responses_stack.client()
    first = client.responses.create(model="qwen", input="my name is Ada", instructions="Be brief.")
    assert first.store is True and first.previous_response_id is None
    assert first.output_text == "my name is Ada"

    responses_stack.vllm.reply = "You are Ada."
    second = client.responses.create(
        model="qwen", input="what is my name?", previous_response_id=first.id, instructions="Answer in English."
    )
    assert second.previous_response_id == first.id and second.output_text == "You are Ada."
    assert responses_stack.sent()["messages"] == [
        {"role": "system", "content": "Answer in English."},  # the first turn's instructions are not carried over
        {"role": "user", "content": [{"type": "text", "text": "my name is Ada"}]},
        {"role": "assistant", "content": "my name is Ada"},
        {"role": "user", "content": [{"type": "text", "text": "what is my name?"}]},
    ]

    responses_stack.vllm.reply = "Goodbye Ada."
    third = client.responses.create(model="qwen", input="bye", previous_response_id=second.id)
    texts = [
        m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
        for m in responses_stack.sent()["messages"]
    ]
    assert texts == ["my name is Ada", "my name is Ada", "what is my name?", "You are Ada.", "bye"]
    assert third.output_text == "Goodbye Ada."


def test_a_function_call_continues_with_only_its_output(responses_stack):
    client = responses_stack.client()
    responses_stack.vllm.reply = Answer(tool_calls=(ToolCall("get_weather", {"city": "Oslo"}, id="call_oslo"),))
    asked = client.responses.create(model="qwen", input="weather in Oslo?", tools=[WEATHER_TOOL])
    (call,) = asked.output
    responses_stack.vllm.reply = "It is 3C in Oslo."
    answered = client.responses.create(
        model="qwen",
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "3C"}],
        tools=[WEATHER_TOOL],
    )
    assert answered.output_text == "It is 3C in Oslo."
    messages = responses_stack.sent()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"] == [
        {"id": "call_oslo", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    ]
    assert messages[2] == {"role": "tool", "tool_call_id": "call_oslo", "content": "3C"}


def test_a_streamed_response_is_stored_and_can_be_continued(responses_stack):
    client = responses_stack.client()
    responses_stack.vllm.reply = "streamed and stored"
    events = list(client.responses.create(model="qwen", input="go", metadata={"run": "7"}, stream=True))
    final = events[-1].response
    assert final.store is True
    stored = client.responses.retrieve(final.id)
    assert stored.model_dump() == final.model_dump() and stored.metadata == {"run": "7"}

    responses_stack.vllm.reply = "next"
    events = list(client.responses.create(model="qwen", input="more", previous_response_id=final.id, stream=True))
    assert events[-1].type == "response.completed" and events[-1].response.previous_response_id == final.id
    assert responses_stack.sent()["messages"][1] == {"role": "assistant", "content": "streamed and stored"}


def test_a_stored_response_is_replayed_as_the_stream_that_made_it(responses_stack):
    client = responses_stack.client()
    responses_stack.vllm.reply = "replayed word for word"
    live = list(client.responses.create(model="qwen", input="go", stream=True))
    final = live[-1].response
    replayed = list(client.responses.retrieve(final.id, stream=True))
    assert [e.type for e in replayed] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in replayed] == list(range(len(replayed)))
    assert "".join(e.delta for e in replayed if e.type == "response.output_text.delta") == "replayed word for word"
    assert replayed[2].item.id == final.output[0].id == replayed[-2].item.id
    assert replayed[-1].response.model_dump() == final.model_dump()
    resumed = list(client.responses.retrieve(final.id, stream=True, starting_after=5))
    assert [e.sequence_number for e in resumed] == [6, 7, 8]

    responses_stack.vllm.reply = Answer(tool_calls=(ToolCall("get_weather", {"city": "Oslo"}, id="call_oslo"),))
    asked = client.responses.create(model="qwen", input="weather in Oslo?", tools=[WEATHER_TOOL])
    events = list(client.responses.retrieve(asked.id, stream=True))
    (arguments,) = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert arguments.arguments == asked.output[0].arguments and arguments.item_id == asked.output[0].id
    refused = httpx.get(
        f"{responses_stack.gateway.url}/v1/responses/{asked.id}?stream=true&starting_after=-1",
        headers={"authorization": f"Bearer {responses_stack.key}"},
    )
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "starting_after"


def test_retrieve_delete_and_list_input_items(responses_stack):
    client = responses_stack.client()
    image = "data:image/png;base64,iVBORw0KGgo="
    created = client.responses.create(
        model="qwen",
        input=[
            {"role": "developer", "content": "You are terse."},
            {
                "role": "user",
                "content": [{"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": image}],
            },
            {"role": "assistant", "content": "Looking."},
            {"role": "user", "content": "well?"},
        ],
    )
    assert client.responses.retrieve(created.id).model_dump() == created.model_dump()
    original = client.responses.with_raw_response.create(model="qwen", input="attested")
    fetched = client.responses.with_raw_response.retrieve(original.parse().id)
    assert fetched.headers["x-attestation"] == original.headers["x-attestation"]
    assert fetched.headers["x-request-id"] != original.headers["x-request-id"]

    items = list(client.responses.input_items.list(created.id, limit=3))  # newest first, pages of 3
    assert [item.role for item in items] == ["user", "assistant", "user", "developer"]
    assert items[0].content[0].text == "well?" and items[1].content[0].type == "output_text"
    assert items[2].content[1].type == "input_image" and items[2].content[1].detail == "auto"
    assert len({item.id for item in items}) == 4 and all(item.status == "completed" for item in items)
    first_page = client.responses.input_items.list(created.id, limit=2, order="asc")
    assert [item.role for item in first_page.data] == ["developer", "user"] and first_page.has_more is True
    assert first_page.last_id == first_page.data[-1].id
    rest = client.responses.input_items.list(created.id, limit=10, order="asc", after=first_page.last_id)
    assert [item.role for item in rest.data] == ["assistant", "user"] and rest.has_more is False

    follow = client.responses.create(model="qwen", input="again", previous_response_id=created.id)
    chained = list(client.responses.input_items.list(follow.id, order="asc"))
    assert [item.type for item in chained] == ["message"] * 6  # four inputs, the answer, the new input
    assert chained[4].id == created.output[0].id and chained[4].role == "assistant"

    assert client.responses.delete(created.id) is None
    for call in (lambda: client.responses.retrieve(created.id), lambda: client.responses.delete(created.id)):
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        assert caught.value.code == "not_found"
    assert client.responses.retrieve(follow.id).id == follow.id  # its own copy of the conversation remains


def test_another_tenant_can_never_reach_a_response(responses_stack):
    mine = responses_stack.client().responses.create(model="qwen", input="a secret for acme")
    other = responses_stack.client(responses_stack.gateway.tenant("globex", rpm=100))
    attempts = [
        lambda: other.responses.retrieve(mine.id),
        lambda: other.responses.delete(mine.id),
        lambda: other.responses.input_items.list(mine.id),
        lambda: other.responses.retrieve("resp_does_not_exist"),
    ]
    bodies = []
    for attempt in attempts:
        with pytest.raises(openai.NotFoundError) as caught:
            attempt()
        bodies.append(caught.value.body)
    assert all(body["code"] == "not_found" and "secret" not in json.dumps(body) for body in bodies)
    assert bodies[0]["message"].replace(mine.id, "X") == bodies[3]["message"].replace("resp_does_not_exist", "X")
    with pytest.raises(openai.NotFoundError) as caught:
        other.responses.create(model="qwen", input="continue", previous_response_id=mine.id)
    assert caught.value.code == "previous_response_not_found" and caught.value.param == "previous_response_id"
    assert responses_stack.vllm.bodies("chat")[-1]["messages"][-1]["content"] == "a secret for acme"
    assert responses_stack.client().responses.retrieve(mine.id).output_text == "a secret for acme"


def test_store_false_keeps_nothing(responses_stack):
    client = responses_stack.client()
    response = client.responses.create(model="qwen", input="forget me", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="qwen", input="again", previous_response_id=response.id)
    assert (
        responses_stack.gateway.services.db.engine.connect()
        .execute(text("select count(*) from stored_response"))
        .scalar()
        == 0
    )


@pytest.mark.parametrize("responses_settings", [{"purge_interval_seconds": 0.2}])
def test_responses_past_retention_answer_404_and_are_purged(responses_stack):
    client = responses_stack.client()
    old = client.responses.create(model="qwen", input="old news")
    fresh = client.responses.create(model="qwen", input="fresh news")
    db = responses_stack.gateway.services.db
    with db.session() as session:
        session.get(StoredResponse, old.id).created_at = datetime.now(UTC) - timedelta(days=30, seconds=1)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(old.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="qwen", input="go on", previous_response_id=old.id)

    def ids() -> set[str]:
        with db.session() as session:
            return set(session.exec(select(StoredResponse.id)))

    assert wait_for(lambda: ids() == {fresh.id}, 5)
    assert client.responses.retrieve(fresh.id).output_text == "fresh news"


@pytest.mark.parametrize("responses_settings", [{"retention_days": 2}])
def test_retention_is_the_setting_as_it_is_now(responses_stack):
    client = responses_stack.client()
    created = client.responses.create(model="qwen", input="kept two days")
    db = responses_stack.gateway.services.db
    with db.session() as session:
        session.get(StoredResponse, created.id).created_at = datetime.now(UTC) - timedelta(days=1, hours=23)
    assert client.responses.retrieve(created.id).output_text == "kept two days"
    with db.session() as session:
        session.get(StoredResponse, created.id).created_at = datetime.now(UTC) - timedelta(days=2, minutes=1)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


@pytest.mark.parametrize("responses_settings", [{"max_stored_bytes": 2048}])
def test_the_size_bound(responses_stack):
    client = responses_stack.client()
    responses_stack.vllm.reply = "word " * 600
    big_answer = client.responses.create(model="qwen", input="talk a lot")
    assert big_answer.store is False and big_answer.output_text.startswith("word")
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(big_answer.id)

    responses_stack.vllm.reply = "ok"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="qwen", input="x" * 3000)
    assert caught.value.code == "conversation_too_large" and caught.value.param == "input"
    assert client.responses.create(model="qwen", input="x" * 3000, store=False).output_text == "ok"


def test_a_failed_store_write_still_delivers_the_answer(responses_stack, caplog):
    with responses_stack.gateway.services.db.engine.begin() as connection:
        connection.execute(text("drop table stored_response"))
    client = responses_stack.client()
    response = client.responses.create(model="qwen", input="still answered")
    assert response.output_text == "still answered" and response.store is False
    with client.responses.stream(model="qwen", input="streamed anyway") as stream:
        final = stream.get_final_response()
    assert final.output_text == "streamed anyway" and final.store is False
    failures = [record for record in caplog.records if record.getMessage() == "response not stored: the write failed"]
    assert len(failures) == 2 and "still answered" not in caplog.text and "streamed anyway" not in caplog.text


def test_bad_input_items_queries_are_400(responses_stack):
    created = responses_stack.client().responses.create(model="qwen", input="hi")
    url = f"{responses_stack.gateway.url}/v1/responses/{created.id}/input_items"
    headers = {"authorization": f"Bearer {responses_stack.key}"}
    for params, param in [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"after": "msg_unknown"}, "after"),
    ]:
        answer = httpx.get(url, params=params, headers=headers)
        assert answer.status_code == 400 and answer.json()["error"]["param"] == param, answer.text
    assert httpx.get(url).status_code == 401
