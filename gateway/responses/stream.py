"""Chat completion chunks turned into the Responses API's streaming events.

Events go out as ``event: <type>`` + ``data: <json>`` pairs, each with a ``sequence_number``
counting from 0, in the order OpenAI sends them::

    response.created → response.in_progress
    for a text answer:  response.output_item.added (message) → response.content_part.added
                        → response.output_text.delta … → response.output_text.done
                        → response.content_part.done → response.output_item.done
    for a tool call:    response.output_item.added (function_call)
                        → response.function_call_arguments.delta …
                        → response.function_call_arguments.done → response.output_item.done
    response.completed (or response.incomplete when the answer was cut by max_output_tokens)

Each output item is closed before the next one is opened (text before a tool call ends the
message item; text after a tool call opens a new one). When the upstream fails after the
stream has begun, an ``error`` event (``code``, ``message``, ``param`` of the gateway's error)
is sent, then ``response.failed`` whose ``response.error`` is ``{"code": "server_error",
"message"}`` and whose output holds what was produced so far. A gateway trailer (such as an
output attestation) is sent as its own event, ``{"type": "paramgate.trailer", "trailer": {...},
"sequence_number"}``, after the output items are done and before the final event. No
``[DONE]`` line is sent: the final event ends the stream, as on OpenAI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gateway.responses.protocol import (
    function_call_item,
    message_item,
    new_id,
    output_text_part,
    usage_from_chat,
)
from gateway.responses.response import INCOMPLETE_REASONS, ResponseFrame
from gateway.sse import StreamFailure, StreamRelay

TRAILER_EVENT = "paramgate.trailer"
FinalHook = Callable[[dict[str, Any]], Awaitable[None]]
_encode = msgspec.json.Encoder().encode


def sse(event: dict[str, Any]) -> bytes:
    """One Responses API server-sent event."""
    return b"event: " + event["type"].encode() + b"\ndata: " + _encode(event) + b"\n\n"


@dataclass(slots=True)
class _Message:
    """An assistant message item being streamed (one ``output_text`` part)."""

    id: str
    output_index: int
    text: list[str] = field(default_factory=list)
    status: str = "in_progress"

    def item(self, status: str) -> dict[str, Any]:
        content = [output_text_part("".join(self.text))] if self.text or self.status != "in_progress" else []
        return message_item(self.id, content, status)


@dataclass(slots=True)
class _FunctionCall:
    """A function call item being streamed."""

    id: str
    output_index: int
    call_id: str
    name: str
    arguments: list[str] = field(default_factory=list)
    status: str = "in_progress"

    def item(self, status: str) -> dict[str, Any]:
        return function_call_item(self.id, self.call_id, self.name, "".join(self.arguments), status)


class ResponseStream:
    """The state of one streamed response: output items, finish reason, usage, sequence numbers.

    ``start`` gives the opening events; ``feed`` the events for one chat chunk; ``fail``,
    ``trailer`` and ``finish`` the rest. Each returns event dicts; ``sse`` frames them.
    """

    def __init__(self, frame: ResponseFrame) -> None:
        self.frame = frame
        self.items: list[_Message | _FunctionCall] = []
        self._open: _Message | _FunctionCall | None = None
        self._calls: dict[int, _FunctionCall] = {}
        self._sequence = 0
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None

    # ------------------------------------------------------------ events

    def _event(self, type: str, **fields: Any) -> dict[str, Any]:
        event = {"type": type, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        return event

    def _output(self) -> list[dict[str, Any]]:
        """The output items as they stand; one still open is ``incomplete``."""
        return [item.item("incomplete" if item.status == "in_progress" else item.status) for item in self.items]

    def start(self) -> list[dict[str, Any]]:
        """``response.created`` and ``response.in_progress``."""
        snapshot = self.frame.snapshot("in_progress", [])
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The events one ``chat.completion.chunk`` produces."""
        if chunk.get("model"):
            self.frame.model = chunk["model"]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        events: list[dict[str, Any]] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text(delta["content"])
            for call in delta.get("tool_calls") or ():
                events += self._call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _text(self, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        message = self._open
        if not isinstance(message, _Message):
            events += self._close()
            message, opened = self._open_message()
            events += opened
        message.text.append(text)
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=message.id,
                output_index=message.output_index,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _open_message(self) -> tuple[_Message, list[dict[str, Any]]]:
        message = _Message(new_id("msg"), len(self.items))
        self.items.append(message)
        self._open = message
        added = self._event(
            "response.output_item.added", output_index=message.output_index, item=message.item("in_progress")
        )
        part = self._event(
            "response.content_part.added",
            item_id=message.id,
            output_index=message.output_index,
            content_index=0,
            part=output_text_part(""),
        )
        return message, [added, part]

    def _call(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        index = delta.get("index", 0)
        function = delta.get("function") or {}
        call = self._calls.get(index)
        if call is None:
            events += self._close()
            call = _FunctionCall(
                new_id("fc"), len(self.items), delta.get("id") or new_id("call"), function.get("name") or ""
            )
            self._calls[index] = call
            self.items.append(call)
            self._open = call
            events.append(
                self._event("response.output_item.added", output_index=call.output_index, item=call.item("in_progress"))
            )
        elif function.get("name") and not call.name:
            call.name = function["name"]
        if function.get("arguments"):
            call.arguments.append(function["arguments"])
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.id,
                    output_index=call.output_index,
                    delta=function["arguments"],
                )
            )
        return events

    def _close(self, status: str = "completed") -> list[dict[str, Any]]:
        """Finish the open item (if any) with ``status``."""
        item, self._open = self._open, None
        if item is None:
            return []
        item.status = status
        events: list[dict[str, Any]] = []
        if isinstance(item, _Message):
            text = "".join(item.text)
            where = {"item_id": item.id, "output_index": item.output_index, "content_index": 0}
            events.append(self._event("response.output_text.done", **where, text=text, logprobs=[]))
            events.append(self._event("response.content_part.done", **where, part=output_text_part(text)))
        else:
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    output_index=item.output_index,
                    name=item.name,
                    arguments="".join(item.arguments),
                )
            )
        done = self._event("response.output_item.done", output_index=item.output_index, item=item.item(status))
        return events + [done]

    def fail(self, failure: StreamFailure) -> list[dict[str, Any]]:
        """The ``error`` event for a failure after the stream began (``response.failed`` comes at ``finish``)."""
        error = failure.body.get("error") or {}
        message = error.get("message") or "The upstream failed mid-stream."
        self.error = {"code": "server_error", "message": message}
        return [self._event("error", code=error.get("code"), message=message, param=error.get("param"))]

    def trailer(self, trailer: dict[str, Any]) -> list[dict[str, Any]]:
        """A gateway trailer (e.g. an attestation), after the output is done."""
        events = self._close(self._final_status()) if self.error is None else []
        return events + [self._event(TRAILER_EVENT, trailer=trailer)]

    def _final_status(self) -> str:
        return "incomplete" if self.finish_reason in INCOMPLETE_REASONS else "completed"

    def finish(self) -> list[dict[str, Any]]:
        """Close what is open and send the final event: completed, incomplete or failed."""
        usage = usage_from_chat(self.usage)
        if self.error is not None:
            snapshot = self.frame.snapshot("failed", self._output(), usage=usage, error=self.error)
            return [self._event("response.failed", response=snapshot)]
        reason = INCOMPLETE_REASONS.get(self.finish_reason or "")
        events = self._close(self._final_status())
        if not self.items:  # an empty answer still gets one empty message item, as a non-streamed one does
            events += self._open_message()[1] + self._close()
        if reason:
            snapshot = self.frame.snapshot("incomplete", self._output(), usage=usage, incomplete_reason=reason)
            return events + [self._event("response.incomplete", response=snapshot)]
        snapshot = self.frame.snapshot("completed", self._output(), usage=usage)
        return events + [self._event("response.completed", response=snapshot)]


async def response_events(
    stream: ResponseStream, relay: StreamRelay, on_final: FinalHook | None = None
) -> AsyncIterator[bytes]:
    """The SSE bytes for a chat stream's relay: its chunks, at most one failure, then its trailers.

    ``on_final`` sees the final ``response`` object before the final event goes out (to store it)
    and may change it in place.

    The answer's attestation (carried on the chat stream's last chunk) rides on the final event
    (``response.completed`` / ``response.incomplete``) as an extra ``attestation`` member, where the
    SDK's typed events keep it; no event type of our own appears in an ordinary stream.
    """
    for event in stream.start():
        yield sse(event)
    attestation = None
    async with aclosing(relay.items()) as items:
        async for item in items:
            if isinstance(item, StreamFailure):
                events = stream.fail(item)
            elif item.get("object") != "chat.completion.chunk":
                events = stream.trailer(item)
            else:
                events = stream.feed(item)
                attestation = item.get("attestation") or attestation
            for event in events:
                yield sse(event)
    final = stream.finish()
    if on_final is not None and final:
        await on_final(final[-1]["response"])
    if attestation is not None and final:
        final[-1] = {**final[-1], "attestation": attestation}
    for event in final:
        yield sse(event)
