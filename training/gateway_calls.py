"""Completions for the learning loop through the gateway's own routing and backends (no HTTP hop).

A call resolves ``model`` with the tenant's routes (canary splits, fallbacks and circuit breakers
included) and sends a non-streaming chat body through the dispatcher, the same way the request path does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import GatewayError


class GenerationError(RuntimeError):
    """The gateway could not produce an answer (unknown model, every backend failed, empty reply)."""


@dataclass(slots=True)
class Completion:
    text: str
    backend: str
    upstream_model: str


class GatewayCompleter:
    """``await complete(tenant_id, model, messages, temperature=...)`` → the answer text and where it came from."""

    def __init__(self, services: Any) -> None:
        self.services = services

    def tenant(self, tenant_id: int):
        record = self.services.directory.snapshot.tenants.get(tenant_id)
        if record is None:
            raise GenerationError(f"no tenant with id {tenant_id}")
        return record

    def check_model(self, tenant_id: int, model: str) -> None:
        """Raise :class:`GenerationError` unless the tenant may use ``model``."""
        try:
            self.services.router.plan(self.tenant(tenant_id), model)
        except GatewayError as exc:
            raise GenerationError(f"{model}: {exc}") from exc

    async def complete(
        self,
        tenant_id: int,
        model: str,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        tenant = self.tenant(tenant_id)
        body: dict[str, Any] = {"model": model, "messages": messages}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        try:
            plan = self.services.router.plan(tenant, model)
            served = await self.services.chat.dispatcher.chat(plan, body, tenant.name)
        except GatewayError as exc:
            raise GenerationError(f"{model}: {exc}") from exc
        choices = served.result.get("choices") or []
        text = (choices[0].get("message") or {}).get("content") if choices else None
        if not isinstance(text, str) or not text.strip():
            raise GenerationError(f"{model} returned no text")
        return Completion(text, served.target.backend.name, served.target.model)
