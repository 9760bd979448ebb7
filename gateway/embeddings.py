"""``POST /v1/embeddings``: routed, admitted and accounted like chat, to backends that serve embeddings."""

from __future__ import annotations

from backends.openai_protocol import EmbeddingsRequest
from gateway.chat import ChatOutcome, served_headers
from gateway.directory import Caller
from gateway.dispatch import Dispatcher
from gateway.limits.estimate import estimate_embedding_input
from gateway.metering import Meter
from gateway.routing import Router
from gateway.validation import parse


class EmbeddingsService:
    """Runs ``POST /v1/embeddings`` for an authenticated caller."""

    def __init__(self, router: Router, dispatcher: Dispatcher, meter: Meter) -> None:
        self.router = router
        self.dispatcher = dispatcher
        self.meter = meter

    async def embed(self, caller: Caller, raw_body: bytes, request_id: str) -> ChatOutcome:
        body, request = parse(raw_body, EmbeddingsRequest)
        plan = self.router.plan(caller.tenant, request.model)
        tokens = estimate_embedding_input(body["input"])
        metered = await self.meter.admit(
            caller, request_id, "embeddings", request.model, tokens, plan.targets[0] if plan.targets else None
        )
        async with self.meter.on_failure(metered):
            served = await self.dispatcher.embeddings(plan, body, caller.tenant.name)
        result = served.result
        model = result.get("model") or served.target.model
        usage = result.get("usage") or {}
        await self.meter.finish(
            metered,
            status=200,
            backend=served.target.backend.name,
            model=model,
            usage={"prompt_tokens": usage.get("prompt_tokens", 0), "completion_tokens": 0},
            fell_back=served.fell_back,
        )
        return ChatOutcome(headers={**metered.headers, **served_headers(served.target, model)}, completion=result)
