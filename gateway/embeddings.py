"""``POST /v1/embeddings``: routed like chat, to backends that serve embeddings."""

from __future__ import annotations

import time

import msgspec

from backends.openai_protocol import EmbeddingsRequest
from gateway.chat import ChatOutcome, served_headers
from gateway.directory import Caller
from gateway.dispatch import Dispatcher
from gateway.metrics import Metrics
from gateway.routing import Router
from gateway.validation import parse

_encode = msgspec.json.Encoder().encode


class EmbeddingsService:
    """Runs ``POST /v1/embeddings`` for an authenticated caller."""

    def __init__(self, router: Router, dispatcher: Dispatcher, metrics: Metrics) -> None:
        self.router = router
        self.dispatcher = dispatcher
        self.metrics = metrics

    async def embed(self, caller: Caller, raw_body: bytes) -> ChatOutcome:
        body, request = parse(raw_body, EmbeddingsRequest)
        plan = self.router.plan(caller.tenant, request.model)
        started = time.perf_counter()
        served = await self.dispatcher.embeddings(plan, body, caller.tenant.name)
        result = served.result
        self.metrics.request(
            caller.tenant.name, "embeddings", served.target.backend.name, 200, time.perf_counter() - started
        )
        self.metrics.usage(caller.tenant.name, served.target.backend.name, result.get("usage"))
        return ChatOutcome(headers=served_headers(served.target, result.get("model")), body=_encode(result))
