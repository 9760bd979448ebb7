"""The tenant's guardrails on the request path: screen the prompt, then every answer, streams included."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gateway.guardrail_policies import PolicyBook
from gateway.guardrails import Flag, GuardrailEngine, GuardrailPolicy, GuardrailViolation, Vault
from gateway.metrics import Metrics

log = logging.getLogger("gateway.guardrails")


@dataclass(slots=True)
class Screened:
    """A request that passed its input guardrails: the body to send upstream and what the answer needs."""

    body: dict[str, Any]
    policy: GuardrailPolicy
    version: int | None
    """The policy version that screened it; ``None`` when guardrails are off for the gateway."""
    vault: Vault | None


class Guard:
    """Applies each tenant's policy with one engine per process; with ``enabled`` off it passes everything."""

    def __init__(self, engine: GuardrailEngine, policies: PolicyBook, metrics: Metrics, enabled: bool = True) -> None:
        self.engine = engine
        self.enabled = enabled
        self.policies = policies
        self.metrics = metrics

    def _blocked(self, tenant: str, error: GuardrailViolation, version: int | None, request_id: str) -> None:
        error.policy_version = version  # the ledger records which version refused the request
        self.metrics.guardrail_blocks.labels(tenant, error.blocked.check, error.blocked.direction).inc()
        log.info(
            "guardrail blocked",
            extra={
                "request_id": request_id,
                "tenant": tenant,
                "check": error.blocked.check,
                "direction": error.blocked.direction,
                "policy_version": version,
            },
        )

    def _flagged(self, tenant: str, flags: list[Flag], version: int | None, request_id: str) -> None:
        for flag in flags:
            self.metrics.guardrail_flags.labels(tenant, flag.check, flag.direction).inc()
        if flags:
            log.info(
                "guardrail flagged",
                extra={
                    "request_id": request_id,
                    "tenant": tenant,
                    "checks": [flag.check for flag in flags],
                    "direction": flags[0].direction,
                    "policy_version": version,
                },
            )

    async def screen_input(self, tenant_id: int, tenant: str, body: dict[str, Any], request_id: str) -> Screened:
        """Mask or block the prompt; raises ``GuardrailViolation`` (a 400 ``content_policy_violation``)."""
        version, policy = self.policies.for_tenant(tenant_id)
        if not self.enabled:
            return Screened(body, policy, None, None)
        verdict = await self.engine.check_input(policy, body["messages"])
        try:
            verdict.raise_for_block()
        except GuardrailViolation as error:
            self._blocked(tenant, error, version, request_id)
            raise
        self._flagged(tenant, verdict.flags, version, request_id)
        return Screened({**body, "messages": verdict.messages}, policy, version, verdict.vault)

    async def screen_context(self, screened: Screened, text: str) -> str:
        """Text the gateway adds to the prompt (retrieved context), PII-masked into the request's vault."""
        if not self.enabled or screened.vault is None:
            return text
        return await self.engine.mask_pii(screened.policy, screened.vault, text)

    async def screen_completion(
        self, screened: Screened, completion: dict[str, Any], tenant: str, request_id: str
    ) -> dict[str, Any]:
        """The answer as the client may see it (placeholders restored, new PII masked, disclaimers added)."""
        if not self.enabled:
            return completion
        choices = []
        for choice in completion.get("choices") or ():
            message = choice.get("message") or {}
            content = message.get("content")
            if isinstance(content, str):
                verdict = await self.engine.apply_output(screened.policy, screened.vault, content)
                try:
                    verdict.raise_for_block()
                except GuardrailViolation as error:
                    self._blocked(tenant, error, screened.version, request_id)
                    raise
                self._flagged(tenant, verdict.flags, screened.version, request_id)
                choice = {**choice, "message": {**message, "content": verdict.text}}
            choices.append(choice)
        return {**completion, "choices": choices}

    def stream_guard(self, screened: Screened, tenant: str, request_id: str) -> StreamGuard | None:
        return StreamGuard(self, screened, tenant, request_id) if self.enabled else None


@dataclass(slots=True)
class StreamGuard:
    """Per-choice output filters for one stream; holds back only what could still become PII."""

    guard: Guard
    screened: Screened
    tenant: str
    request_id: str
    filters: dict[int, Any] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)
    template: dict[str, Any] = field(default_factory=dict)

    def _filter(self, index: int):
        found = self.filters.get(index)
        if found is None:
            found = self.filters[index] = self.guard.engine.output_filter(self.screened.policy, self.screened.vault)
        return found

    async def transform(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The chunks to send for one upstream chunk (none, it, or held-back text before a finish)."""
        try:
            return await self._transform(chunk)
        except GuardrailViolation as error:
            self.guard._blocked(self.tenant, error, self.screened.version, self.request_id)
            raise

    async def flush(self) -> list[dict[str, Any]]:
        """Release what every unfinished choice still holds (masked), e.g. when the upstream fails."""
        chunks = []
        for index in sorted(self.filters):
            chunks += await self._finish(index, self.template)
        return chunks

    async def _finish(self, index: int, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        if index in self.finished:
            return []
        self.finished.add(index)
        output_filter = self._filter(index)
        tail = await output_filter.afinish()
        self.guard._flagged(self.tenant, output_filter.verdict().flags, self.screened.version, self.request_id)
        if not tail:
            return []
        choice = {"index": index, "delta": {"content": tail}, "logprobs": None, "finish_reason": None}
        return [{**chunk, "choices": [choice]}]

    async def _transform(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        choices = chunk.get("choices")
        if not choices:
            return [chunk]
        self.template = {k: v for k, v in chunk.items() if k not in ("choices", "usage", "attestation")}
        before: list[dict[str, Any]] = []
        kept = []
        for choice in choices:
            index = choice.get("index", 0)
            delta = dict(choice.get("delta") or {})
            if delta.get("content") and index not in self.finished:
                delta["content"] = await self._filter(index).afeed(delta["content"])
            if delta.get("tool_calls") or choice.get("finish_reason"):
                before += await self._finish(index, chunk)
            if delta.get("content") or set(delta) - {"content"} or choice.get("finish_reason"):
                kept.append({**choice, "delta": delta})
        if not kept:
            return before
        return [*before, {**chunk, "choices": kept}]
