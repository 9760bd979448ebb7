"""Redis with a configured answer to its absence: fail open (a local limiter) or fail closed (503)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gateway.errors import UpstreamFailed
from gateway.limits.limiter import Admission, Limiter, Subject

log = logging.getLogger("gateway.limits")

_RETRY_REDIS_AFTER_SECONDS = 2.0


class LimiterUnavailable(UpstreamFailed):
    """Fail-closed refusal while the shared limiter cannot be reached."""

    code = "rate_limiter_unavailable"

    def __init__(self) -> None:
        super().__init__("The rate limiter is unavailable; retry shortly.", status=503)


class ResilientLimiter(Limiter):
    """Uses ``shared`` while it answers; on failure either ``local`` (fail open) or a 503 (fail closed).

    After a failure, Redis is not tried again for a couple of seconds, so an outage costs one
    timeout per interval rather than one per request. Every switch is logged and counted.
    """

    def __init__(
        self,
        shared: Limiter,
        local: Limiter,
        fail_open: bool,
        on_fallback: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = local
        self.fail_open = fail_open
        self._on_fallback = on_fallback
        self._clock = clock
        self._down_until = 0.0

    async def admit(
        self, request_id: str, subjects: tuple[Subject, ...], tokens: int, cost: float = 0.0
    ) -> Admission:
        if self._clock() >= self._down_until:
            try:
                return await self.shared.admit(request_id, subjects, tokens, cost)
            except (ConnectionError, TimeoutError, OSError) as exc:
                self._mark_down(exc)
            except Exception as exc:
                if not _is_redis_error(exc):
                    raise
                self._mark_down(exc)
        self._on_fallback("open" if self.fail_open else "closed")
        if not self.fail_open:
            raise LimiterUnavailable()
        return await self.local.admit(request_id, subjects, tokens, cost)

    async def seed_month(self, scope: str, month: int, spent: float) -> None:
        await self.local.seed_month(scope, month, spent)
        try:
            await self.shared.seed_month(scope, month, spent)
        except Exception as exc:
            if not _is_redis_error(exc) and not isinstance(exc, (ConnectionError, TimeoutError, OSError)):
                raise
            self._mark_down(exc)

    async def settle(self, admission: Admission, used_tokens: int, used_cost: float | None = None) -> None:
        try:
            await (admission.limiter or self.shared).settle(admission, used_tokens, used_cost)
        except Exception as exc:
            if not _is_redis_error(exc) and not isinstance(exc, (ConnectionError, TimeoutError, OSError)):
                raise
            log.warning("limiter: could not settle a request in Redis", extra={"error": type(exc).__name__})

    def _mark_down(self, exc: Exception) -> None:
        if self._down_until == 0.0 or self._clock() >= self._down_until:
            log.warning(
                "limiter: Redis unreachable, failing %s",
                "open" if self.fail_open else "closed",
                extra={"error": type(exc).__name__},
            )
        self._down_until = self._clock() + _RETRY_REDIS_AFTER_SECONDS

    async def start(self) -> None:
        await self.shared.start()

    async def aclose(self) -> None:
        await self.shared.aclose()
        await self.local.aclose()


def _is_redis_error(exc: Exception) -> bool:
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError)
