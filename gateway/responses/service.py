"""``POST /v1/responses`` on top of the chat path, and the stored responses behind it.

A request is translated onto chat completions and run through ``ChatService.run`` (limits,
guardrails, routing, fallback, attestation, ledger); the answer is translated back. With
``previous_response_id`` the conversation is rebuilt first: the previous response's input
items, then its output, then this request's input (its ``instructions`` are not carried
over). With ``store`` (on unless ``false``) the finished response is kept for its tenant.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from backends.openai_protocol import ChatCompletionRequest
from backends.openai_responses import responses_request
from gateway.chat import ChatService
from gateway.directory import Caller
from gateway.errors import InvalidRequest, NotFound
from gateway.responses.items import input_items, output_as_input, page
from gateway.responses.protocol import ResponsesRequest
from gateway.responses.replay import replay_events
from gateway.responses.request import chat_body
from gateway.responses.response import ResponseFrame, from_completion
from gateway.responses.store import ResponseStore
from gateway.responses.stream import ResponseStream, response_events, sse
from gateway.validation import check, decode_object

_encode = msgspec.json.Encoder().encode


class ResponseNotFound(NotFound):
    """A response id the caller's tenant has no live stored response for (another tenant's included)."""

    type = "invalid_request_error"
    code = "not_found"

    def __init__(self, response_id: str, param: str | None = None) -> None:
        super().__init__(f"Response with id '{response_id}' not found.", param=param)


class PreviousResponseNotFound(ResponseNotFound):
    code = "previous_response_not_found"

    def __init__(self, response_id: str) -> None:
        NotFound.__init__(self, f"Previous response with id '{response_id}' not found.", param="previous_response_id")


@dataclass(slots=True)
class ResponsesOutcome:
    """Headers plus either the finished ``response`` object or the stream of its events."""

    headers: dict[str, str] = field(default_factory=dict)
    response: dict[str, Any] | None = None
    events: AsyncIterator[bytes] | None = None

    def body(self) -> bytes:
        return _encode(self.response)


class ResponsesService:
    """Runs Responses API requests as chat completions and keeps the stored ones."""

    def __init__(self, chat: ChatService, store: ResponseStore) -> None:
        self.chat = chat
        self.store = store

    async def create(self, caller: Caller, raw_body: bytes, request_id: str) -> ResponsesOutcome:
        raw = decode_object(raw_body)
        request, body, conversation = await self._conversation(caller, raw, check(raw, ResponsesRequest))
        store = request.store is not False
        if store and not self.store.fits(conversation):
            raise InvalidRequest(
                "This conversation is too large to store; send store: false or start a new conversation.",
                param="previous_response_id" if request.previous_response_id else "input",
                code="conversation_too_large",
            )
        frame = ResponseFrame.for_request(request_id, raw, request)
        frame.previous_response_id, frame.store = request.previous_response_id, store
        tenant_id = caller.tenant.id

        async def keep(response: dict[str, Any]) -> None:
            if not await self.store.save(tenant_id, request_id, response, conversation):
                response["store"] = False

        with responses_request(raw):
            outcome = await self.chat.run(
                caller, body, check(body, ChatCompletionRequest), request_id, endpoint="responses"
            )
        if outcome.relay is not None:
            frame.model = outcome.relay.model or frame.model
            events = response_events(ResponseStream(frame), outcome.relay, keep if store else None)
            return ResponsesOutcome(headers=outcome.headers, events=events)
        response = from_completion(frame, outcome.completion)
        if store:
            await keep(response)
        return ResponsesOutcome(headers=outcome.headers, response=response)

    async def _conversation(
        self, caller: Caller, raw: dict[str, Any], request: ResponsesRequest
    ) -> tuple[ResponsesRequest, dict[str, Any], list[dict[str, Any]]]:
        """The request with its whole conversation as ``input``, its chat body, and the conversation's items."""
        body = chat_body(raw, request)  # checks this request's own input, so a 400 names its own items
        conversation = input_items(request.input)
        if request.previous_response_id is None:
            return request, body, conversation
        previous = await self.store.get(caller.tenant.id, request.previous_response_id)
        if previous is None:
            raise PreviousResponseNotFound(request.previous_response_id)
        conversation = previous.input_items + output_as_input(previous.response.get("output") or []) + conversation
        request = msgspec.structs.replace(request, input=conversation)
        return request, chat_body({**raw, "input": conversation}, request), conversation

    async def retrieve(
        self, caller: Caller, response_id: str, *, stream: bool = False, starting_after: int | None = None
    ) -> ResponsesOutcome:
        """``GET /v1/responses/{id}``: the response as its client received it, with its ``x-attestation``;
        with ``stream``, its events replayed (after sequence number ``starting_after``)."""
        stored = await self._stored(caller, response_id)
        attestation = await asyncio.to_thread(self.chat.attestations.get, stored.request_id, caller.tenant.id)
        headers = {"x-attestation": attestation.compact()} if attestation is not None else {}
        if not stream:
            return ResponsesOutcome(headers=headers, response=stored.response)
        return ResponsesOutcome(headers=headers, events=_replayed(replay_events(stored.response, starting_after)))

    async def input_items(
        self, caller: Caller, response_id: str, *, after: str | None, limit: int, order: str
    ) -> dict[str, Any]:
        """``GET /v1/responses/{id}/input_items``: one page of the conversation that produced the response."""
        stored = await self._stored(caller, response_id)
        return page(stored.input_items, after=after, limit=limit, order=order)

    async def delete(self, caller: Caller, response_id: str) -> dict[str, Any]:
        """``DELETE /v1/responses/{id}``."""
        if not await self.store.delete(caller.tenant.id, response_id):
            raise ResponseNotFound(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def _stored(self, caller: Caller, response_id: str):
        stored = await self.store.get(caller.tenant.id, response_id)
        if stored is None:
            raise ResponseNotFound(response_id)
        return stored


async def _replayed(events: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for event in events:
        yield sse(event)
