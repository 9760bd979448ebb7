"""A fake Anthropic Messages API, as a plain ASGI app, for wire-level backend tests.

It speaks the real wire format: ``x-api-key`` (or, as newer SDKs send it, ``Authorization:
Bearer``) and ``anthropic-version`` headers, Anthropic's
error bodies (``{"type": "error", "error": {"type", "message"}}``), ``message`` responses, and
SSE streams with the exact event order (``message_start``, ``content_block_start``, ``ping``,
``content_block_delta``..., ``content_block_stop``, ``message_delta``, ``message_stop``).
It validates requests the way the API does, a little more strictly: roles must alternate,
and every ``tool_use`` needs its ``tool_result`` in the next user turn.

Tests script replies on a ``FakeAnthropic`` (``reply_text``, ``reply_tool_use``, ``fail``,
``overloaded``, ``prompt_too_long``, ``delay``, ``drop``, ``error_mid_stream``); with nothing
scripted it answers "Hello!". ``Script`` holds the less common knobs (``end_after_events``
ends a stream cleanly but early). Every request is recorded in ``requests``.

    with serve_in_thread(fake) as base_url: ...
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MESSAGE_BLOCK_TYPES = {"text", "image", "tool_use", "tool_result", "document", "thinking", "redacted_thinking"}
IMAGE_MEDIA_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
STATUS_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class RecordedRequest:
    """One request the fake received (headers lower-cased, body decoded when JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Script:
    """How the fake answers one ``POST /v1/messages``."""

    content: list[dict[str, Any]] = field(default_factory=lambda: [{"type": "text", "text": "Hello!"}])
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 12, "output_tokens": 6})
    model: str | None = None
    status: int = 200
    error_type: str | None = None
    error_message: str = ""
    delay: float = 0.0
    delay_after_events: int = 0
    drop_after_events: int | None = None
    end_after_events: int | None = None
    stream_error: tuple[str, str] | None = None
    stream_error_after_events: int = 0


class InvalidRequest(Exception):
    """A request the real API would refuse with 400 invalid_request_error."""


class FakeAnthropic:
    """ASGI app that answers like ``api.anthropic.com``, from a queue of scripted replies."""

    def __init__(
        self, api_key: str = "sk-ant-test", models: tuple[str, ...] = ("claude-opus-4-5", "claude-sonnet-4-5")
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.requests: list[RecordedRequest] = []
        self.models_status = 200
        self._scripts: deque[Script] = deque()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ scripting

    def reset(self) -> None:
        """Forget scripted replies and recorded requests."""
        self._scripts.clear()
        self.requests.clear()
        self.models_status = 200

    def script(self, script: Script) -> Script:
        """Queue one reply; returns it so callers can keep a handle."""
        self._scripts.append(script)
        return script

    def reply(self, content: list[dict[str, Any]], **options: Any) -> Script:
        """Queue a message reply with these Anthropic content blocks."""
        return self.script(Script(content=content, **options))

    def reply_text(self, text: str, **options: Any) -> Script:
        """Queue a text reply."""
        return self.reply([{"type": "text", "text": text}], **options)

    def reply_tool_use(
        self, name: str, input: dict[str, Any], *, text: str | None = None, tool_id: str = "toolu_01", **options: Any
    ) -> Script:
        """Queue a reply that calls one tool (optionally after some text)."""
        blocks = [{"type": "text", "text": text}] if text else []
        blocks.append({"type": "tool_use", "id": tool_id, "name": name, "input": input})
        return self.reply(blocks, **{"stop_reason": "tool_use", **options})

    def fail(self, status: int, message: str, error_type: str | None = None) -> Script:
        """Queue an HTTP error with Anthropic's error body."""
        return self.script(Script(status=status, error_type=error_type, error_message=message))

    def overloaded(self) -> Script:
        """Queue a 529 overloaded_error."""
        return self.fail(529, "Overloaded")

    def prompt_too_long(self, tokens: int = 210_000, maximum: int = 200_000) -> Script:
        """Queue the 400 Anthropic sends when the prompt does not fit the context window."""
        return self.fail(400, f"prompt is too long: {tokens} tokens > {maximum} maximum")

    def delay(self, seconds: float, after_events: int = 0, **options: Any) -> Script:
        """Queue a text reply that waits ``seconds`` first (or after ``after_events`` SSE events)."""
        return self.reply_text("late", delay=seconds, delay_after_events=after_events, **options)

    def drop(self, after_events: int = 3, **options: Any) -> Script:
        """Queue a reply whose connection closes mid-body (after that many SSE events when streaming)."""
        return self.reply_text("this reply will be cut off", drop_after_events=after_events, **options)

    def error_mid_stream(
        self, error_type: str = "overloaded_error", message: str = "Overloaded", after_events: int = 3
    ) -> Script:
        """Queue a stream that sends an ``error`` event after that many events."""
        return self.reply_text(
            "this stream fails", stream_error=(error_type, message), stream_error_after_events=after_events
        )

    @property
    def last_body(self) -> dict[str, Any]:
        """The JSON body of the most recent request."""
        return self.requests[-1].body

    # ------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body: Any = raw.decode("utf-8", "replace")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            pass
        self.requests.append(RecordedRequest(scope["method"], scope["path"], headers, body))
        await self._dispatch(scope["method"], scope["path"], headers, body, receive, send)

    async def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: Any, receive: Any, send: Any
    ) -> None:
        if self.api_key not in (headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer ")):
            return await _send_error(send, 401, "invalid x-api-key")
        if not headers.get("anthropic-version"):
            return await _send_error(send, 400, "anthropic-version: header is required")
        if method == "GET" and path == "/v1/models":
            return await self._models(send)
        if method != "POST" or path != "/v1/messages":
            return await _send_error(send, 404, "Not found")
        if not headers.get("content-type", "").startswith("application/json") or not isinstance(body, dict):
            return await _send_error(send, 400, "Invalid request: body must be a JSON object")
        try:
            validate_messages_request(body)
        except InvalidRequest as exc:
            return await _send_error(send, 400, str(exc))
        script = self._scripts.popleft() if self._scripts else Script()
        if script.delay and not script.delay_after_events and not await _wait(receive, script.delay):
            return
        if script.status != 200:
            return await _send_error(send, script.status, script.error_message, script.error_type)
        message = self._message(script, body)
        if body.get("stream"):
            return await self._stream(message, script, receive, send)
        await _send_message(send, message, script)

    async def _models(self, send: Any) -> None:
        if self.models_status != 200:
            return await _send_error(send, self.models_status, "models unavailable")
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"} for m in self.models
        ]
        page = {"data": data, "has_more": False, "first_id": self.models[0], "last_id": self.models[-1]}
        await _send_json(send, 200, page)

    def _message(self, script: Script, body: dict[str, Any]) -> dict[str, Any]:
        usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        usage.update(script.usage)
        return {
            "id": f"msg_fake{next(self._ids):06d}",
            "type": "message",
            "role": "assistant",
            "content": script.content,
            "model": script.model or body["model"],
            "stop_reason": script.stop_reason,
            "stop_sequence": script.stop_sequence,
            "usage": usage,
        }

    async def _stream(self, message: dict[str, Any], script: Script, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for count, event in enumerate(stream_events(message)):
            if count == script.drop_after_events:
                return  # leaves the chunked body incomplete: uvicorn closes the connection
            if count == script.end_after_events:
                break  # a complete HTTP body that lacks the rest of the events
            if script.stream_error and count == script.stream_error_after_events:
                error_type, error_message = script.stream_error
                await send(
                    {
                        "type": "http.response.body",
                        "body": sse("error", _error_body(error_type, error_message)),
                        "more_body": True,
                    }
                )
                break
            if script.delay and count == script.delay_after_events and not await _wait(receive, script.delay):
                return
            await send({"type": "http.response.body", "body": sse(event["type"], event), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


# ---------------------------------------------------------------- wire format


def stream_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE events Anthropic sends for ``message``, in order (``ping`` after the first block starts)."""
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
        if index == 0:
            events.insert(2, {"type": "ping"})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
            "usage": {"output_tokens": usage["output_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    if block["type"] == "text":
        first = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in re.findall(r"\S+\s*|\s+", block["text"])]
    elif block["type"] == "tool_use":
        first = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        encoded = json.dumps(block["input"])
        pieces = [""] + [encoded[i : i + 8] for i in range(0, len(encoded), 8)] if block["input"] else []
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
    else:
        raise ValueError(f"the fake cannot stream {block['type']!r} blocks")
    return [
        {"type": "content_block_start", "index": index, "content_block": first},
        *({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event as Anthropic frames it."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def validate_messages_request(body: dict[str, Any]) -> None:
    """Raise ``InvalidRequest`` for what the Messages API refuses (the rules a translator can break)."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: Field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise InvalidRequest("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: at least one message is required")
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise InvalidRequest("system: Input should be a valid string or list")
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        raise InvalidRequest("temperature: range: 0..1")
    stop = body.get("stop_sequences")
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) and s.strip() for s in stop)):
        raise InvalidRequest("stop_sequences: each stop sequence must contain non-whitespace")
    _validate_tools(body)
    previous_role = None
    pending_tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise InvalidRequest(
                f'messages: Unexpected role "{role}". The Messages API accepts a top-level `system` parameter, '
                'not "system" as an input message role.'
            )
        if role == previous_role:
            raise InvalidRequest(
                f'messages: roles must alternate between "user" and "assistant", but found multiple "{role}" roles in a row'
            )
        blocks = _validate_content(i, role, message.get("content"))
        results = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
        if pending_tool_ids and set(results) != pending_tool_ids:
            raise InvalidRequest(
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after"
            )
        if results and not pending_tool_ids:
            raise InvalidRequest(f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks")
        if any(b["type"] == "tool_result" for b in blocks[len(results) :]):
            raise InvalidRequest(f"messages.{i}.content: `tool_result` blocks must come first in the content")
        pending_tool_ids = {b["id"] for b in blocks if b["type"] == "tool_use"}
        previous_role = role


def _validate_content(i: int, role: str, content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise InvalidRequest(f"messages.{i}: all messages must have non-empty content")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        raise InvalidRequest(f"messages.{i}: all messages must have non-empty content")
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        where = f"messages.{i}.content.{j}"
        if kind not in MESSAGE_BLOCK_TYPES:
            raise InvalidRequest(
                f"{where}: Input tag '{kind}' found using 'type' does not match any of the expected tags"
            )
        if kind == "text" and not block.get("text"):
            raise InvalidRequest(f"{where}: text content blocks must be non-empty")
        if kind == "image":
            _validate_image(where, block.get("source") or {})
        if kind == "tool_use" and (
            role != "assistant" or not isinstance(block.get("input"), dict) or not block.get("id")
        ):
            raise InvalidRequest(f"{where}: tool_use blocks need an id and an input object, in assistant turns")
        if kind == "tool_result" and (role != "user" or not block.get("tool_use_id")):
            raise InvalidRequest(f"{where}: tool_result blocks need a tool_use_id, in user turns")
    return content


def _validate_image(where: str, source: dict[str, Any]) -> None:
    if source.get("type") == "url" and str(source.get("url", "")).startswith(("http://", "https://")):
        return
    if source.get("type") == "base64" and source.get("media_type") in IMAGE_MEDIA_TYPES and source.get("data"):
        return
    raise InvalidRequest(f"{where}.source: invalid image source")


def _validate_tools(body: dict[str, Any]) -> None:
    for k, tool in enumerate(body.get("tools") or []):
        if not tool.get("name") or not isinstance(tool.get("input_schema"), dict):
            raise InvalidRequest(f"tools.{k}: name and input_schema are required")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if choice.get("type") not in ("auto", "any", "tool", "none") or (
        choice["type"] == "tool" and not choice.get("name")
    ):
        raise InvalidRequest("tool_choice: invalid tool_choice")
    if not body.get("tools") and choice["type"] != "none":
        raise InvalidRequest("tool_choice may only be specified while providing tools")


# ---------------------------------------------------------------- ASGI plumbing


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _wait(receive: Any, seconds: float) -> bool:
    """Sleep ``seconds``; False (early) when the client hung up meanwhile."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
    except TimeoutError:
        return True
    return False


async def _send_json(send: Any, status: int, payload: dict[str, Any], extra: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_error(send: Any, status: int, message: str, error_type: str | None = None) -> None:
    body = _error_body(error_type or STATUS_ERROR_TYPES.get(status, "api_error"), message)
    body["request_id"] = "req_fake"
    await _send_json(send, status, body, [(b"request-id", b"req_fake")])


async def _send_message(send: Any, message: dict[str, Any], script: Script) -> None:
    data = json.dumps(message).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if script.drop_after_events is not None:
        await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
        return  # the promised content-length never arrives: uvicorn closes the connection
    await send({"type": "http.response.body", "body": data})
