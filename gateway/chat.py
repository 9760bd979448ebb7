"""The chat completion path: validate, route, admit, dispatch, relay, account."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from backends.openai_protocol import ChatCompletionRequest
from gateway.attestation.payload import Output, OutputCollector, messages_sha256
from gateway.attestation.service import AttestationService
from gateway.adapters.canary import CanaryMonitor, observe_canary
from gateway.attestation.signer import Attestation
from gateway.directory import Caller
from gateway.dispatch import Dispatcher
from gateway.guarding import Guard, Screened
from gateway.limits.estimate import completion_reservation, estimate_messages
from gateway.metering import Meter, Metered
from gateway.routing import Plan, Router, Target
from gateway.sse import StreamRelay
from gateway.traffic_samples import TrafficSampler
from gateway.validation import parse

if TYPE_CHECKING:
    from gateway.knowledge.request_path import Context, RequestKnowledge

_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class ChatOutcome:
    """A finished chat run: headers plus either the ``chat.completion`` or the stream's relay."""

    headers: dict[str, str] = field(default_factory=dict)
    completion: dict[str, Any] | None = None
    relay: StreamRelay | None = None
    attestation: Attestation | None = None

    def body(self) -> bytes:
        return _encode(self.completion)

    def events(self) -> AsyncIterator[bytes]:
        return self.relay.events()


def served_headers(target: Target, model: str | None) -> dict[str, str]:
    return {"x-gateway-backend": target.backend.name, "x-gateway-model": model or target.model}


class ChatService:
    """Runs ``POST /v1/chat/completions`` for an authenticated caller."""

    def __init__(
        self,
        router: Router,
        dispatcher: Dispatcher,
        meter: Meter,
        attestations: AttestationService,
        guard: Guard,
        default_completion_tokens: int,
    ) -> None:
        self.router = router
        self.dispatcher = dispatcher
        self.meter = meter
        self.attestations = attestations
        self.guard = guard
        self.default_completion_tokens = default_completion_tokens
        self.sampler: TrafficSampler | None = None
        self.knowledge: RequestKnowledge | None = None
        self.canary: CanaryMonitor | None = None

    def _prompt_tokens(self, plan: Plan, body: dict[str, Any]) -> int:
        counted = plan.targets[0].backend.count_prompt_tokens(body) if plan.targets else None
        return counted if counted is not None else estimate_messages(body["messages"], body.get("tools"))

    async def complete(
        self, caller: Caller, raw_body: bytes, request_id: str, attestation_in_body: bool = False
    ) -> ChatOutcome:
        """``POST /v1/chat/completions``: validate the raw body, then run it."""
        body, request = parse(raw_body, ChatCompletionRequest)
        outcome = await self.run(caller, body, request, request_id)
        if attestation_in_body and outcome.completion is not None and outcome.attestation is not None:
            outcome.completion = {**outcome.completion, "attestation": outcome.attestation.as_dict()}
        return outcome

    async def run(
        self,
        caller: Caller,
        body: dict[str, Any],
        request: ChatCompletionRequest,
        request_id: str,
        endpoint: str = "chat",
    ) -> ChatOutcome:
        """Route, admit, dispatch, attest and account one validated chat request (other endpoints build on this)."""
        choice = await self.knowledge.choose(caller.tenant, request.model, body, request_id) if self.knowledge else None
        user = str(body.get("user") or caller.key.id)
        plan = self.router.plan(caller.tenant, choice.alias if choice else request.model, request_id, user)
        digest = messages_sha256(body["messages"])
        prompt_tokens = self._prompt_tokens(plan, body)
        rag_tokens = self.knowledge.context_reservation(caller.tenant, choice) if self.knowledge else 0
        reserve = prompt_tokens + rag_tokens + completion_reservation(body, self.default_completion_tokens)
        first_target = plan.targets[0] if plan.targets else None
        metered = await self.meter.admit(
            caller, request_id, endpoint, request.model, reserve, first_target, prompt_tokens + rag_tokens
        )
        tenant = caller.tenant
        async with self.meter.on_failure(metered):
            screened = await self.guard.screen_input(tenant.id, tenant.name, body, request_id)
        metered.policy_version = screened.version
        body = screened.body
        context = None
        if self.knowledge is not None:
            screen = functools.partial(self.guard.screen_context, screened)
            context = await self.knowledge.augment(tenant, body, choice, screen)
        if context is not None:
            screened.body = body = context.body
            if context.documents:
                prompt_tokens = self._prompt_tokens(plan, body)  # a stream without usage is charged this
        extra_headers = {**(choice.headers() if choice else {}), **(context.headers() if context else {})}
        if request.stream:
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return await self._stream(
                metered, plan, screened, request, include_usage, prompt_tokens, digest, context, extra_headers
            )
        async with self.meter.on_failure(metered):
            with observe_canary(self.canary, plan) as answered_by:
                served = await self.dispatcher.chat(plan, body, caller.tenant.name)
                answered_by(served.target.model)
        upstream = {"backend": served.target.backend.name, "model": served.target.model}
        async with self.meter.on_failure(metered, usage=served.result.get("usage"), **upstream):
            result = await self.guard.screen_completion(screened, served.result, tenant.name, request_id)
        model = result.get("model") or served.target.model
        await self.meter.finish(
            metered,
            status=200,
            backend=served.target.backend.name,
            model=model,
            usage=result.get("usage"),
            fell_back=served.fell_back,
        )
        rag = context.attested() if context else None
        attestation = self._attest(metered, request, body, served.target, Output.from_completion(result), digest, rag)
        if context is not None and context.documents:
            result = {**result, "paramgate": context.extension()}
        if self.sampler is not None:
            self.sampler.offer(tenant.id, request_id, request.model, body["messages"], _first_text(result))
        headers = {
            **metered.headers,
            **served_headers(served.target, model),
            **extra_headers,
            "x-attestation": attestation.compact(),
        }
        return ChatOutcome(headers=headers, completion=result, attestation=attestation)

    def _attest(
        self,
        metered: Metered,
        request: ChatCompletionRequest,
        body: dict[str, Any],
        target: Target,
        output: Output,
        digest: str,
        rag: dict[str, Any] | None = None,
    ):
        tenant = metered.caller.tenant
        return self.attestations.attest(
            request_id=metered.request_id,
            tenant_id=tenant.id,
            tenant=tenant.name,
            model=request.model,
            backend=target.backend.name,
            upstream_model=target.model,
            adapter_sha256=self.router.adapter_sha256(target),
            request=body,
            output=output,
            messages_sha256=digest,
            rag=rag,
            guardrail_policy_version=metered.policy_version,
        )

    async def _stream(
        self,
        metered: Metered,
        plan: Plan,
        screened: Screened,
        request: ChatCompletionRequest,
        include_usage: bool,
        prompt_tokens: int,
        digest: str,
        context: Context | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> ChatOutcome:
        body = screened.body
        async with self.meter.on_failure(metered):
            with observe_canary(self.canary, plan, stream=True) as canary:
                served = await self.dispatcher.open_stream(plan, body, metered.caller.tenant.name)
                canary(served.target.model)
        first, rest = served.result
        target = served.target
        ttft = time.perf_counter() - metered.started
        collector = OutputCollector()

        async def on_done(relay: StreamRelay) -> None:
            if relay.completed:
                rag = context.attested() if context else None
                attestation = self._attest(metered, request, body, target, collector.output(), digest, rag)
                relay.final_fields["attestation"] = attestation.as_dict()
                if self.sampler is not None:
                    texts = [choice.content for choice in collector.output().choices]
                    answer = texts[0] if texts else None
                    tenant_id = metered.caller.tenant.id
                    self.sampler.offer(tenant_id, metered.request_id, request.model, body["messages"], answer)
            if relay.failed:
                self.dispatcher.record_stream_failure(target)
            canary.settle(relay.completed, bool(relay.failed))
            status = 200 if relay.completed else (502 if relay.failed else 499)
            usage = relay.usage or {"prompt_tokens": prompt_tokens, "completion_tokens": relay.deltas_seen}
            await self.meter.finish(
                metered,
                status=status,
                backend=target.backend.name,
                model=relay.model or target.model,
                usage=usage,
                ttft=ttft,
                fell_back=served.fell_back,
            )

        stream_guard = self.guard.stream_guard(screened, metered.caller.tenant.name, metered.request_id)
        relay = StreamRelay(
            first,
            rest,
            include_usage=include_usage,
            on_done=on_done,
            observers=(collector.observe,),
            transform=stream_guard.transform if stream_guard else None,
            flush=stream_guard.flush if stream_guard else None,
        )
        headers = {**metered.headers, **served_headers(target, relay.model), **(extra_headers or {})}
        return ChatOutcome(headers=headers, relay=relay)


def _first_text(completion: dict[str, Any]) -> str | None:
    choices = completion.get("choices") or ()
    return (choices[0].get("message") or {}).get("content") if choices else None
