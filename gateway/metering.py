"""Everything that happens around a request's upstream call: admission before, accounting after.

Before: the request is admitted against its tenant's (and key's) limits with a token estimate.
After: the reservation is settled to the real usage, the ledger gets its record (durably,
before the response completes), and metrics and the access log are updated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gateway.accounting.ledger import Ledger
from gateway.accounting.pricing import PriceBook
from gateway.directory import Caller
from gateway.errors import GatewayError
from gateway.limits.limiter import Admission, Limiter, month_number, month_start, subjects_for
from gateway.metrics import Metrics

log = logging.getLogger("gateway.access")


@dataclass(slots=True)
class Metered:
    """One request being metered: who, what it reserved, and what it turned out to use."""

    caller: Caller
    request_id: str
    endpoint: str
    route: str
    admission: Admission | None
    policy_version: int | None = None
    """The version of the tenant's guardrail policy that screened the request, once known."""
    started: float = field(default_factory=time.perf_counter)
    created_at: float = field(default_factory=time.time)

    @property
    def headers(self) -> dict[str, str]:
        return self.admission.headroom.headers() if self.admission else {}


class AccountFailure:
    """``async with meter.on_failure(metered):`` (a class, not a generator: it wraps several steps of every request)."""

    __slots__ = ("_meter", "_metered", "_details")

    def __init__(self, meter: Meter, metered: Metered, details: dict[str, Any]) -> None:
        self._meter = meter
        self._metered = metered
        self._details = details

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, _traceback: Any) -> bool:
        if isinstance(error, GatewayError):
            metered = self._metered
            if metered.policy_version is None:
                metered.policy_version = getattr(error, "policy_version", None)
            await self._meter.finish(metered, status=error.status, **self._details)
            error.headers = {**metered.headers, **error.headers}
        return False


class Meter:
    """Admits and accounts for requests."""

    def __init__(self, limiter: Limiter, ledger: Ledger, prices: PriceBook, metrics: Metrics) -> None:
        self.limiter = limiter
        self.ledger = ledger
        self.prices = prices
        self.metrics = metrics
        self._seeded: set[tuple[int, int]] = set()

    async def admit(
        self,
        caller: Caller,
        request_id: str,
        endpoint: str,
        route: str,
        tokens: int,
        target: Any = None,
        prompt_tokens: int | None = None,
    ) -> Metered:
        """Admit the request or raise ``RateLimited`` (a 429 with its headers).

        With a monthly budget, the cost of ``tokens`` (``prompt_tokens`` of them input) at the price of
        ``target`` (the route's first backend and model) is reserved against it."""
        subjects = subjects_for(caller)
        if not subjects:
            return Metered(caller, request_id, endpoint, route, None)
        cost = 0.0
        if getattr(caller.tenant, "monthly_budget", None) is not None:
            await self._seed_month(caller.tenant.id)
            if target is not None:
                prompt = tokens if prompt_tokens is None else min(prompt_tokens, tokens)
                price = self.prices.price(target.backend.name, target.model)
                cost = price.cost(prompt, tokens - prompt, 0.0)
        admission = await self.limiter.admit(request_id, subjects, tokens, cost)
        return Metered(caller, request_id, endpoint, route, admission)

    async def _seed_month(self, tenant_id: int) -> None:
        """Start this month's budget counter from the ledger, once per tenant and month in this process."""
        month = month_number(time.time())
        if (tenant_id, month) in self._seeded:
            return
        first_day = datetime.fromtimestamp(month_start(month), timezone.utc).date()
        spent = await asyncio.to_thread(self.ledger.spent_since, tenant_id, first_day)
        await self.limiter.seed_month(f"tenant:{tenant_id}", month, spent)
        self._seeded.add((tenant_id, month))

    def on_failure(self, metered: Metered, **details: Any) -> AccountFailure:
        """Around a step of the request: if it raises a ``GatewayError``, account the request as failed
        (with ``details``: backend, model, usage …) and give the error the rate-limit headers."""
        return AccountFailure(self, metered, details)

    async def finish(
        self,
        metered: Metered,
        *,
        status: int,
        backend: str = "",
        model: str = "",
        usage: dict[str, Any] | None = None,
        ttft: float | None = None,
        fell_back: bool = False,
    ) -> None:
        """Settle, record in the ledger, count and log one finished request."""
        elapsed = time.perf_counter() - metered.started
        prompt = int((usage or {}).get("prompt_tokens") or 0)
        completion = int((usage or {}).get("completion_tokens") or 0)
        tenant = metered.caller.tenant
        cost = self.prices.cost(backend, model, prompt, completion, elapsed) if backend and usage else 0.0
        self.ledger.record(
            {
                "request_id": metered.request_id,
                "tenant_id": tenant.id,
                "key_id": metered.caller.key.id,
                "endpoint": metered.endpoint,
                "route": metered.route,
                "backend": backend,
                "model": model,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "cost": cost,
                "latency_ms": round(elapsed * 1000, 3),
                "ttft_ms": None if ttft is None else round(ttft * 1000, 3),
                "status": status,
                "fallback": fell_back,
                "policy_version": metered.policy_version,
                "created_at": metered.created_at,
            }
        )
        if metered.admission is not None:
            await self.limiter.settle(metered.admission, prompt + completion, cost)
        self.metrics.request(tenant.name, metered.endpoint, backend, status, elapsed)
        self.metrics.usage(tenant.name, backend, usage)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "request_id": metered.request_id,
                    "tenant": tenant.name,
                    "key_id": metered.caller.key.id,
                    "endpoint": metered.endpoint,
                    "route": metered.route,
                    "backend": backend,
                    "model": model,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "cost": cost,
                },
            )
