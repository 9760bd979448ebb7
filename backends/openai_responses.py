"""An OpenAI-compatible backend that serves ``POST /v1/responses`` natively (OpenAI, newer vLLM).

The gateway runs every Responses API request through its one chat path (limits, guardrails,
routing, fallback, attestation, ledger) and marks it with :func:`responses_request`. A backend
of this kind sends such a request to the upstream's own ``/v1/responses`` instead of
``/chat/completions``: the client's Responses fields as sent (``tools``, ``tool_choice``,
``text``, ``reasoning``, ``include``, sampling, unknown fields …) with ``model`` set to the
upstream's name, ``input`` rebuilt from the screened chat messages (the whole conversation,
``instructions`` first as a ``system`` message) and ``store: false`` — conversation state
stays in the gateway. The upstream's answer comes back in chat shapes (text, tool calls,
finish reason, usage), so the gateway's path goes on unchanged. Chat completions requests
to the same backend still go to ``/chat/completions``.

Streams: ``response.output_text.delta`` → content deltas, a ``function_call`` output item →
a tool call (``call_id`` as its id), ``response.function_call_arguments.delta`` → argument
deltas, ``response.completed`` / ``response.incomplete`` → the finish chunk and a usage
chunk; ``error`` and ``response.failed`` → ``BackendUnavailable``. Upstream reasoning items
and built-in tool calls are not carried back.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from backends.errors import BackendUnavailable
from backends.http import TransportError, UpstreamResponse
from backends.openai_compat import OpenAICompatibleBackend
from backends.openai_protocol import chat_chunk
from backends.sse import SSEDecoder

_REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "paramgate_responses_request", default=None
)
_GATEWAY_FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "previous_response_id",
        "store",
        "stream",
        "stream_options",
        "metadata",
        "conversation",
        "background",
        "paramgate",
    }
)
_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete"})
_FINISH_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}

_decode = msgspec.json.decode
_encode = msgspec.json.encode


@contextmanager
def responses_request(raw: dict[str, Any]) -> Iterator[None]:
    """Mark the chat calls made inside as serving this Responses API request (``raw``: its body)."""
    token = _REQUEST.set(raw)
    try:
        yield
    finally:
        _REQUEST.reset(token)


class OpenAIResponsesBackend(OpenAICompatibleBackend):
    """``responses_api = "native"``: Responses API requests go to the upstream's ``/responses``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._responses_url = f"{self.base_url}/responses"

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """A Responses API request: POST ``/responses``, answer as a ``chat.completion``; else as the parent."""
        original = _REQUEST.get()
        if original is None:
            return await super().chat(body)
        response = await self._post_json(self._responses_url, native_body(body, original, stream=False))
        if response.get("status") == "failed":
            raise self._stream_error(response.get("error") or {"message": "the upstream response failed"})
        return completion_of(response)

    async def chat_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """A Responses API request: stream ``/responses`` as ``chat.completion.chunk`` dicts; else as the parent."""
        original = _REQUEST.get()
        if original is None:
            async for chunk in super().chat_stream(body):
                yield chunk
            return
        chunks = _Chunks(body["model"])
        payload = _encode(native_body(body, original, stream=True))
        try:
            async with self._client.stream("POST", self._responses_url, payload) as response:
                if response.status >= 400:
                    content = await response.read()
                    raise self._status_error(UpstreamResponse(response.status, response.reason, content))
                decoder = SSEDecoder()
                async for raw in response.chunks():
                    for data in decoder.feed(raw):
                        for chunk in chunks.feed(self._event(data)):
                            yield chunk
                        if chunks.done:
                            return
                for data in decoder.close():
                    for chunk in chunks.feed(self._event(data)):
                        yield chunk
        except TransportError as exc:
            raise self._transport_error(exc) from exc
        if not chunks.done:
            raise BackendUnavailable("upstream ended the response stream before its final event", backend=self.name)

    def _event(self, data: bytes) -> dict[str, Any]:
        try:
            event = _decode(data)
        except msgspec.DecodeError as exc:
            raise BackendUnavailable("upstream sent an invalid stream event", backend=self.name) from exc
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "error":
            raise self._stream_error(event)
        if kind == "response.failed":
            raise self._stream_error((event.get("response") or {}).get("error") or {"message": "response failed"})
        return event


# ---------------------------------------------------------------- requests


def native_body(chat: dict[str, Any], original: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The upstream ``/responses`` body: the client's fields, the chat's model and messages as ``input``."""
    body = {key: value for key, value in original.items() if key not in _GATEWAY_FIELDS}
    body["model"] = chat["model"]
    body["input"] = input_of(chat["messages"])
    body["store"] = False
    if stream:
        body["stream"] = True
    return body


def input_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages as Responses input items (the inverse of the gateway's translation)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message["tool_call_id"],
                    "output": _text(message["content"]),
                }
            )
            continue
        content = message.get("content")
        if role == "user" and isinstance(content, list):
            items.append({"role": "user", "content": [_part(part) for part in content]})
        elif content:
            items.append({"role": role, "content": _text(content)})
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments") or "",
                }
            )
    return items


def _part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "image_url":
        image = part.get("image_url") or {}
        return {"type": "input_image", "image_url": image.get("url"), "detail": image.get("detail") or "auto"}
    return {"type": "input_text", "text": part.get("text") or ""}


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return content or ""


# ---------------------------------------------------------------- answers


def completion_of(response: dict[str, Any]) -> dict[str, Any]:
    """An upstream ``response`` object as a ``chat.completion``."""
    texts, refusals, calls = [], [], []
    for item in response.get("output") or ():
        if item.get("type") == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    refusals.append(part.get("refusal") or "")
        elif item.get("type") == "function_call":
            calls.append(
                {
                    "id": item.get("call_id"),
                    "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments") or ""},
                }
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if refusals:
        message["refusal"] = "".join(refusals)
    if calls:
        message["tool_calls"] = calls
    return {
        "id": response.get("id") or "",
        "object": "chat.completion",
        "created": int(response.get("created_at") or time.time()),
        "model": response.get("model") or "",
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(response, bool(calls))}],
        "usage": _usage(response.get("usage")),
    }


def _finish_reason(response: dict[str, Any], called: bool) -> str:
    reason = (response.get("incomplete_details") or {}).get("reason")
    if response.get("status") == "incomplete" and reason in _FINISH_REASONS:
        return _FINISH_REASONS[reason]
    return "tool_calls" if called else "stop"


def _usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    if not usage:
        return None
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


class _Chunks:
    """Upstream Responses stream events → ``chat.completion.chunk`` dicts for one choice."""

    def __init__(self, model: str) -> None:
        self.id = ""
        self.model = model
        self.created = int(time.time())
        self.calls: dict[int, int] = {}  # output_index → tool call index
        self.done = False

    def _chunk(self, delta: dict[str, Any] | None, finish: str | None = None, usage: dict | None = None) -> dict:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return chat_chunk(id=self.id, model=self.model, created=self.created, choices=choices, usage=usage)

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "response.created":
            response = event.get("response") or {}
            self.id = response.get("id") or self.id
            self.model = response.get("model") or self.model
            self.created = int(response.get("created_at") or self.created)
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "response.output_text.delta" and event.get("delta"):
            return [self._chunk({"content": event["delta"]})]
        if kind == "response.output_item.added" and (event.get("item") or {}).get("type") == "function_call":
            item = event["item"]
            index = self.calls.setdefault(event.get("output_index", len(self.calls)), len(self.calls))
            call = {
                "index": index,
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if kind == "response.function_call_arguments.delta" and event.get("output_index") in self.calls:
            call = {"index": self.calls[event["output_index"]], "function": {"arguments": event.get("delta") or ""}}
            return [self._chunk({"tool_calls": [call]})]
        if kind in _FINAL_EVENTS:
            self.done = True
            response = event.get("response") or {}
            finish = self._chunk({}, _finish_reason(response, bool(self.calls)))
            usage = _usage(response.get("usage"))
            return [finish, self._chunk(None, usage=usage)] if usage else [finish]
        return []
