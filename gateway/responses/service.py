"""``POST /v1/responses`` on top of the chat path: translate, run, translate back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from backends.openai_protocol import ChatCompletionRequest
from gateway.chat import ChatService
from gateway.directory import Caller
from gateway.responses.protocol import ResponsesRequest
from gateway.responses.request import chat_body
from gateway.responses.response import ResponseFrame, from_completion
from gateway.responses.stream import ResponseStream, response_events
from gateway.validation import check, decode_object

_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class ResponsesOutcome:
    """Headers plus either the finished ``response`` object or the stream of its events."""

    headers: dict[str, str] = field(default_factory=dict)
    response: dict[str, Any] | None = None
    events: AsyncIterator[bytes] | None = None

    def body(self) -> bytes:
        return _encode(self.response)


class ResponsesService:
    """Runs a Responses API request as a chat completion, through the same limits, routing and ledger."""

    def __init__(self, chat: ChatService) -> None:
        self.chat = chat

    async def create(self, caller: Caller, raw_body: bytes, request_id: str) -> ResponsesOutcome:
        raw = decode_object(raw_body)
        request = check(raw, ResponsesRequest)
        body = chat_body(raw, request)
        frame = ResponseFrame.for_request(request_id, raw, request)
        outcome = await self.chat.run(
            caller, body, check(body, ChatCompletionRequest), request_id, endpoint="responses"
        )
        if outcome.relay is not None:
            frame.model = outcome.relay.model or frame.model
            stream = ResponseStream(frame)
            return ResponsesOutcome(headers=outcome.headers, events=response_events(stream, outcome.relay))
        return ResponsesOutcome(headers=outcome.headers, response=from_completion(frame, outcome.completion))
