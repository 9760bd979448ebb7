"""The chat completion path: validate, route, dispatch, relay, account."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from backends.openai_protocol import ChatCompletionRequest
from gateway.directory import Caller
from gateway.dispatch import Dispatcher
from gateway.metrics import Metrics
from gateway.routing import Router, Target
from gateway.sse import StreamRelay
from gateway.validation import parse

log = logging.getLogger("gateway.access")
_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class ChatOutcome:
    """What the handler sends: headers plus either a JSON body or an SSE stream."""

    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None


def served_headers(target: Target, model: str | None) -> dict[str, str]:
    return {"x-gateway-backend": target.backend.name, "x-gateway-model": model or target.model}


class ChatService:
    """Runs ``POST /v1/chat/completions`` for an authenticated caller."""

    def __init__(self, router: Router, dispatcher: Dispatcher, metrics: Metrics) -> None:
        self.router = router
        self.dispatcher = dispatcher
        self.metrics = metrics

    async def complete(self, caller: Caller, raw_body: bytes, request_id: str) -> ChatOutcome:
        body, request = parse(raw_body, ChatCompletionRequest)
        plan = self.router.plan(caller.tenant, request.model)
        started = time.perf_counter()
        if request.stream:
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return await self._stream(caller, plan, body, include_usage, request_id, started)
        served = await self.dispatcher.chat(plan, body, caller.tenant.name)
        result: dict[str, Any] = served.result
        self._account(caller, served.target, result.get("usage"), request_id, started, status=200)
        return ChatOutcome(headers=served_headers(served.target, result.get("model")), body=_encode(result))

    async def _stream(
        self, caller: Caller, plan, body: dict[str, Any], include_usage: bool, request_id: str, started: float
    ) -> ChatOutcome:
        served = await self.dispatcher.open_stream(plan, body, caller.tenant.name)
        first, rest = served.result
        target = served.target

        def on_done(relay: StreamRelay) -> None:
            if relay.failed:
                self.dispatcher.record_stream_failure(target)
            status = 200 if relay.completed else (502 if relay.failed else 499)
            self._account(caller, target, relay.usage, request_id, started, status=status)

        relay = StreamRelay(first, rest, include_usage=include_usage, on_done=on_done)
        return ChatOutcome(headers=served_headers(target, relay.model), stream=relay.events())

    def _account(
        self, caller: Caller, target: Target, usage: dict | None, request_id: str, started: float, status: int
    ) -> None:
        elapsed = time.perf_counter() - started
        tenant = caller.tenant.name
        self.metrics.request(tenant, "chat", target.backend.name, status, elapsed)
        self.metrics.usage(tenant, target.backend.name, usage)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "chat completion",
                extra={
                    "request_id": request_id,
                    "tenant": tenant,
                    "key_id": caller.key.id,
                    "backend": target.backend.name,
                    "model": target.model,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "prompt_tokens": (usage or {}).get("prompt_tokens"),
                    "completion_tokens": (usage or {}).get("completion_tokens"),
                },
            )
