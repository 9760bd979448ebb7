"""A fake OpenAI-style server that serves ``POST /v1/responses`` natively, at the wire level.

It answers as OpenAI's Responses API does (and vLLM's ``/v1/responses``):

- non-streaming: the ``response`` object (``output`` items: an optional ``reasoning`` item,
  a ``message`` with one ``output_text`` part, then ``function_call`` items), ``status``
  ``incomplete`` with ``incomplete_details.reason`` ``max_output_tokens`` when the reply has
  more words than ``max_output_tokens``;
- streaming: ``event: <type>`` + ``data: {...}`` pairs with ``sequence_number``: created,
  in_progress, per item added → deltas → done, then ``response.completed`` /
  ``response.incomplete``; a scripted failure sends ``response.failed`` after N events;
- ``POST /v1/chat/completions`` (a plain echo, so chat requests can be told apart) and
  ``GET /v1/models``; errors as ``{"error": {"message", "type", "param", "code"}}``.

Tokens are whitespace-separated words. The reply is ``reply`` (text or an ``Answer`` with
tool calls) or, by default, the text of the last user input item.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tests.fakes.server import serve_in_thread
from tests.fakes.vllm_server import Answer


@dataclass(slots=True)
class _Script:
    fail_status: list[int] = field(default_factory=list)
    fail_after_events: list[int] = field(default_factory=list)


class FakeOpenAIResponses:
    """``.app`` is the ASGI app; ``serve()`` runs it; ``bodies("responses")`` is what it received."""

    def __init__(self, models: tuple[str, ...] = ("gpt-fake",), *, reasoning: bool = True) -> None:
        self.models = list(models)
        self.reasoning = reasoning
        self.reply: str | Answer | None = None
        self.requests: list[tuple[str, Any]] = []
        self._script = _Script()

        async def app(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
            await self._handle(scope, receive, send)

        self.app = app

    @contextmanager
    def serve(self) -> Iterator[str]:
        with serve_in_thread(self.app) as root:
            yield f"{root}/v1"

    def bodies(self, endpoint: str = "responses") -> list[Any]:
        return [body for name, body in self.requests if name == endpoint]

    def fail_next(self, status: int = 503) -> None:
        self._script.fail_status.append(status)

    def fail_stream_after(self, events: int) -> None:
        self._script.fail_after_events.append(events)

    # ------------------------------------------------------------ HTTP

    async def _handle(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = msgspec.json.decode(raw) if raw else None
        if method == "GET" and path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
            return await _json(send, 200, {"object": "list", "data": data})
        if method != "POST" or path not in ("/v1/responses", "/v1/chat/completions"):
            return await _json(send, 404, _error(f"no route {method} {path}", "invalid_request_error", None))
        endpoint = "responses" if path == "/v1/responses" else "chat"
        self.requests.append((endpoint, body))
        if self._script.fail_status:
            status = self._script.fail_status.pop(0)
            return await _json(send, status, _error(f"scripted failure (HTTP {status})", "server_error", None))
        if body.get("model") not in self.models:
            message = f"The model `{body.get('model')}` does not exist."
            return await _json(send, 404, _error(message, "invalid_request_error", "model", "model_not_found"))
        if endpoint == "chat":
            return await _json(send, 200, _chat_completion(body))
        answer = self._answer(body)
        if body.get("stream"):
            events = self._events(body, answer)
            cut = self._script.fail_after_events.pop(0) if self._script.fail_after_events else None
            return await _sse(send, events, cut)
        return await _json(send, 200, self._response(body, answer)[0])

    def _answer(self, body: dict[str, Any]) -> Answer:
        if isinstance(self.reply, Answer):
            return self.reply
        if self.reply is not None:
            return Answer(self.reply)
        for item in reversed(body.get("input") or []):
            if item.get("role") == "user":
                return Answer(_item_text(item))
        return Answer()

    # ------------------------------------------------------------ the response object

    def _response(self, body: dict[str, Any], answer: Answer) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        words = answer.text.split()
        limit = body.get("max_output_tokens")
        cut = limit is not None and len(words) > limit
        text = " ".join(words[:limit] if cut else words)
        output: list[dict[str, Any]] = []
        if self.reasoning:
            output.append({"id": _id("rs"), "type": "reasoning", "summary": [], "status": "completed"})
        if text or not answer.tool_calls:
            content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
            status = "incomplete" if cut else "completed"
            output.append(
                {"id": _id("msg"), "type": "message", "role": "assistant", "status": status, "content": content}
            )
        if not cut:
            for call in answer.tool_calls:
                wire = call.wire()
                output.append(
                    {
                        "id": _id("fc"),
                        "type": "function_call",
                        "status": "completed",
                        "call_id": wire["id"],
                        "name": wire["function"]["name"],
                        "arguments": wire["function"]["arguments"],
                    }
                )
        prompt = sum(len(_item_text(item).split()) for item in body.get("input") or [])
        completion = len(text.split()) + sum(len(c.wire()["function"]["arguments"]) // 8 for c in answer.tool_calls)
        response = {
            "id": _id("resp"),
            "object": "response",
            "created_at": int(time.time()),
            "status": "incomplete" if cut else "completed",
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
            "model": body["model"],
            "output": output,
            "store": body.get("store", True),
            "usage": {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            },
        }
        return response, output

    def _events(self, body: dict[str, Any], answer: Answer) -> list[dict[str, Any]]:
        final, output = self._response(body, answer)
        opening = {**final, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
        events = [
            {"type": "response.created", "response": opening},
            {"type": "response.in_progress", "response": opening},
        ]
        for index, item in enumerate(output):
            where = {"output_index": index, "item_id": item["id"]}
            if item["type"] == "message":
                events.append(
                    {"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}}
                )
                part = {"type": "output_text", "text": "", "annotations": []}
                events.append({"type": "response.content_part.added", **where, "content_index": 0, "part": part})
                text = item["content"][0]["text"]
                for piece in _pieces(text):
                    events.append({"type": "response.output_text.delta", **where, "content_index": 0, "delta": piece})
                events.append({"type": "response.output_text.done", **where, "content_index": 0, "text": text})
                events.append(
                    {"type": "response.content_part.done", **where, "content_index": 0, "part": item["content"][0]}
                )
            elif item["type"] == "function_call":
                events.append(
                    {
                        "type": "response.output_item.added",
                        "output_index": index,
                        "item": {**item, "arguments": "", "status": "in_progress"},
                    }
                )
                for start in range(0, len(item["arguments"]), 7):
                    delta = item["arguments"][start : start + 7]
                    events.append({"type": "response.function_call_arguments.delta", **where, "delta": delta})
                events.append(
                    {"type": "response.function_call_arguments.done", **where, "arguments": item["arguments"]}
                )
            else:
                events.append({"type": "response.output_item.added", "output_index": index, "item": item})
            events.append({"type": "response.output_item.done", "output_index": index, "item": item})
        events.append({"type": f"response.{final['status']}", "response": final})
        return events


def _chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    text = ""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            text = message["content"]
            break
    message = {"role": "assistant", "content": f"chat: {text}"}
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [choice],
        "usage": usage,
    }


def _item_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(item.get("output") or "")


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words) if word or i == 0]


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _error(message: str, type: str, param: str | None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


async def _json(send: Callable, status: int, payload: Any) -> None:
    data = msgspec.json.encode(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _sse(send: Callable, events: list[dict[str, Any]], fail_after: int | None) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    numbers = itertools.count()
    for index, event in enumerate(events):
        if fail_after is not None and index == fail_after:
            failed = {
                **events[0]["response"],
                "status": "failed",
                "error": {"code": "server_error", "message": "upstream exploded"},
            }
            event = {"type": "response.failed", "response": failed}
        event = {**event, "sequence_number": next(numbers)}
        frame = b"event: " + event["type"].encode() + b"\ndata: " + msgspec.json.encode(event) + b"\n\n"
        await send({"type": "http.response.body", "body": frame, "more_body": True})
        if event["type"] == "response.failed":
            break
    await send({"type": "http.response.body", "body": b""})
