"""Sending a request along its plan: retries, circuit breakers, fallback and context-window fallback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from backends.errors import (
    BackendTimeout,
    BackendUnavailable,
    ContextLengthExceeded,
    UnsupportedOperation,
    UpstreamRejected,
)
from gateway.errors import GatewayError, InvalidRequest, UpstreamFailed
from gateway.metrics import Metrics
from gateway.resilience import CLOSED, CircuitBreaker, backoff_delay
from gateway.routing import Plan, Target

log = logging.getLogger("gateway.dispatch")

T = TypeVar("T")

_RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(slots=True)
class BackendState:
    """What the dispatcher knows about one backend between requests."""

    breaker: CircuitBreaker
    retries: int
    healthy: bool = True


@dataclass(slots=True)
class Served:
    """A result and the target that produced it."""

    result: Any
    target: Target
    fell_back: bool


class UpstreamError(GatewayError):
    """An upstream's own 4xx, passed to the client with its status and fields."""

    def __init__(self, rejected: UpstreamRejected) -> None:
        super().__init__(rejected.message, param=rejected.param, code=rejected.code)
        self.status = rejected.status
        self.type = rejected.type


def _retry_same_backend(error: BackendUnavailable) -> bool:
    """Retry on the same backend only when the request surely did no work there."""
    if isinstance(error, BackendTimeout):
        return False
    return error.status is None or error.status in _RETRYABLE_STATUSES


class Dispatcher:
    """Tries a plan's targets in order until one answers."""

    def __init__(self, states: dict[str, BackendState], metrics: Metrics, backoff_base: float = 0.05) -> None:
        self.states = states
        self.metrics = metrics
        self.backoff_base = backoff_base

    async def chat(self, plan: Plan, body: dict[str, Any], tenant: str) -> Served:
        """A non-streaming completion from the first target that gives one."""
        return await self._run(plan, body, tenant, lambda target, upstream: target.backend.chat(upstream))

    async def open_stream(self, plan: Plan, body: dict[str, Any], tenant: str) -> Served:
        """Open a stream on the first target that produces a first chunk.

        ``Served.result`` is ``(first_chunk, iterator)``; nothing has reached the client yet.
        """
        return await self._run(plan, body, tenant, _first_chunk)

    async def embeddings(self, plan: Plan, body: dict[str, Any], tenant: str) -> Served:
        """Embeddings from the first target whose backend serves them."""
        return await self._run(plan, body, tenant, lambda target, upstream: target.backend.embeddings(upstream))

    def record_stream_failure(self, target: Target) -> None:
        self.states[target.backend.name].breaker.record_failure()

    def _ordered(self, plan: Plan) -> list[Target]:
        healthy = [t for t in plan.targets if self.states[t.backend.name].healthy]
        unhealthy = [t for t in plan.targets if not self.states[t.backend.name].healthy]
        return healthy + unhealthy

    async def _run(
        self,
        plan: Plan,
        body: dict[str, Any],
        tenant: str,
        call: Callable[[Target, dict[str, Any]], Awaitable[T]],
    ) -> Served:
        first_backend = plan.targets[0].backend.name if plan.targets else ""
        too_long_for: int | None = None
        last_error: Exception | None = None
        skipped_open = 0
        for position, target in enumerate(self._ordered(plan)):
            if too_long_for is not None and target.context_window is not None and target.context_window <= too_long_for:
                continue
            state = self.states[target.backend.name]
            if not state.breaker.allow():
                skipped_open += 1
                continue
            upstream_body = {**body, "model": target.model}
            for attempt in range(state.retries + 1):
                try:
                    result = await call(target, upstream_body)
                except BackendUnavailable as error:
                    state.breaker.record_failure()
                    self.metrics.upstream_error(target.backend.name, type(error).__name__)
                    last_error = error
                    log.warning(
                        "upstream failed",
                        extra={"backend": target.backend.name, "error": error.message, "attempt": attempt},
                    )
                    if attempt < state.retries and _retry_same_backend(error) and state.breaker.state == CLOSED:
                        await asyncio.sleep(backoff_delay(attempt, self.backoff_base))
                        continue
                    break
                except ContextLengthExceeded as error:
                    state.breaker.record_success()
                    last_error = error
                    too_long_for = target.context_window or 0
                    break
                except UnsupportedOperation as error:
                    last_error = error
                    break
                except UpstreamRejected as error:
                    state.breaker.record_success()
                    raise UpstreamError(error) from error
                else:
                    state.breaker.record_success()
                    fell_back = position > 0
                    if fell_back:
                        self.metrics.fallback(tenant, first_backend, target.backend.name)
                    return Served(result, target, fell_back)
        raise _final_error(last_error, skipped_open)


async def _first_chunk(target: Target, body: dict[str, Any]) -> tuple[dict[str, Any], AsyncIterator[dict[str, Any]]]:
    iterator = target.backend.chat_stream(body).__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        raise BackendUnavailable("upstream closed the stream without a chunk", backend=target.backend.name) from None
    return first, iterator


def _final_error(last_error: Exception | None, skipped_open: int) -> GatewayError:
    if isinstance(last_error, ContextLengthExceeded):
        return InvalidRequest(
            f"This request exceeds the context window of every model it may be routed to: {last_error.message}",
            param="messages",
            code="context_length_exceeded",
        )
    if isinstance(last_error, UnsupportedOperation):
        return InvalidRequest(f"This model does not support this endpoint: {last_error.message}", param="model")
    if last_error is None and skipped_open:
        return UpstreamFailed("Every backend for this model is unavailable (circuit open); retry shortly.", status=503)
    detail = f": {last_error.message}" if isinstance(last_error, BackendUnavailable) else ""
    return UpstreamFailed(f"No backend could serve this request{detail}", status=502)
