"""Watching canaries: stable and canary outcomes over a sliding window, and the automatic rollback.

After every canary outcome, once the canary has ``min_requests`` in the window: it is rolled
back when its error rate exceeds the stable version's by more than ``max_error_rate_increase``,
or (when both arms have ``min_latency_samples`` answers) its p99 latency is above
``max_p99_ratio`` × the stable version's (p99 over fewer samples is mostly noise). The rollback (percent 0, status ``rolled_back``) is
written to the database, so every replica follows, and to the audit chain with the figures.
Each replica judges from its own traffic.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gateway.adapters.book import AdapterChoice
from gateway.adapters.settings import AdapterSettings
from gateway.errors import GatewayError

log = logging.getLogger("gateway.adapters.canary")


@dataclass(slots=True)
class Window:
    """Outcomes of one arm: ``(monotonic time, ok, seconds)``."""

    samples: deque = field(default_factory=deque)

    def add(self, now: float, ok: bool, seconds: float, horizon: float) -> None:
        self.samples.append((now, ok, seconds))
        self.trim(now, horizon)

    def trim(self, now: float, horizon: float) -> None:
        while self.samples and self.samples[0][0] < now - horizon:
            self.samples.popleft()

    def figures(self) -> dict[str, Any]:
        count = len(self.samples)
        errors = sum(1 for _, ok, _ in self.samples if not ok)
        latencies = sorted(s for _, ok, s in self.samples if ok)
        p99 = latencies[max(0, math.ceil(0.99 * len(latencies)) - 1)] if latencies else None
        rate = errors / count if count else 0.0
        return {"requests": count, "errors": errors, "error_rate": rate, "answered": len(latencies), "p99_seconds": p99}


def counts_as_error(error: BaseException) -> bool:
    """Failures that are the served version's fault: upstream failures and a missing adapter (404)."""
    status = getattr(error, "status", 500)
    return not isinstance(error, GatewayError) or status >= 500 or status == 404


class CanaryObservation:
    """One dispatch of a plan with an adapter arm: call it with the upstream model that answered."""

    __slots__ = ("_monitor", "_choice", "answered", "_deferred", "_pending")

    def __init__(self, monitor: CanaryMonitor | None, choice: AdapterChoice | None, deferred: bool) -> None:
        self._monitor, self._choice, self._deferred = monitor, choice, deferred
        self.answered = choice.adapter.served_name if choice is not None else ""
        self._pending: tuple[bool, float] | None = None

    def __call__(self, model: str) -> None:
        self.answered = model

    def _record(self, ok: bool, seconds: float) -> None:
        if self._deferred and ok:
            self._pending = (ok, seconds)
            return
        self._monitor.record(self._choice, ok, seconds)

    def settle(self, completed: bool, failed: bool) -> None:
        """For a stream: its end. A stream the upstream broke after its first chunk counts as the arm's
        failure; one the client left is counted by how it began; once only."""
        if self._pending is None:
            return
        ok, seconds = self._pending
        self._pending = None
        self._monitor.record(self._choice, ok and (completed or not failed), seconds)


@contextmanager
def observe_canary(monitor: CanaryMonitor | None, plan: Any, *, stream: bool = False) -> Iterator[CanaryObservation]:
    """Time the block (one dispatch of ``plan``) and record its outcome for the plan's adapter arm.

    Call the yielded observation with the upstream model that answered: an answer from anything but
    the chosen adapter (a fallback) counts as that arm's failure, as does an error raised here. With
    ``stream``, a good start is recorded only when ``settle`` is called at the stream's end (the time
    recorded is still the time to the first chunk).
    """
    choice = getattr(plan, "adapter", None)
    if monitor is None or choice is None or not choice.canary_live:
        yield CanaryObservation(None, None, stream)
        return
    observation = CanaryObservation(monitor, choice, stream)
    started = monitor.clock()
    try:
        yield observation
    except asyncio.CancelledError:
        raise
    except BaseException as error:
        monitor.record(choice, not counts_as_error(error), monitor.clock() - started)
        raise
    observation._record(observation.answered == choice.adapter.served_name, monitor.clock() - started)


class CanaryMonitor:
    """Per (tenant, alias): a window for the stable arm and one for the canary arm."""

    def __init__(
        self,
        settings: AdapterSettings,
        rollback: Callable[[int, str, str], dict | None],
        audit: Callable[[str, str, dict], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._rollback = rollback
        self._audit = audit
        self.clock = clock
        self.windows: dict[tuple[int, str, str], Window] = {}
        self._tripped: set[tuple[int, str]] = set()
        self._tasks: set[asyncio.Task] = set()

    def record(self, choice: AdapterChoice, ok: bool, seconds: float) -> None:
        """One outcome; a canary outcome may trigger the rollback (run in a worker thread)."""
        if not choice.canary_live:
            return
        now = self.clock()
        window = self.windows.setdefault((choice.tenant_id, choice.alias, choice.arm), Window())
        window.add(now, ok, seconds, self.settings.canary_window_seconds)
        if choice.arm != "canary":
            return
        verdict = self.verdict(choice.tenant_id, choice.alias)
        key = (choice.tenant_id, choice.alias)
        if verdict is not None and key not in self._tripped:
            self._tripped.add(key)
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._roll_back, choice, verdict))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def figures(self, tenant_id: int, alias: str) -> dict[str, dict[str, Any]]:
        now = self.clock()
        result = {}
        for arm in ("stable", "canary"):
            window = self.windows.get((tenant_id, alias, arm), Window())
            window.trim(now, self.settings.canary_window_seconds)
            result[arm] = window.figures()
        return result

    def verdict(self, tenant_id: int, alias: str) -> dict[str, Any] | None:
        """Why the canary should be rolled back now (with the figures), or ``None``."""
        figures = self.figures(tenant_id, alias)
        stable, canary = figures["stable"], figures["canary"]
        minimum = self.settings.canary_min_requests
        if canary["requests"] < minimum:
            return None
        reasons = []
        increase = canary["error_rate"] - stable["error_rate"]
        if increase > self.settings.canary_max_error_rate_increase:
            reasons.append(
                f"canary error rate {canary['error_rate']:.1%} vs stable {stable['error_rate']:.1%} "
                f"(allowed increase {self.settings.canary_max_error_rate_increase:.1%})"
            )
        enough = self.settings.canary_min_latency_samples
        if stable["answered"] >= enough and canary["answered"] >= enough:
            ratio = canary["p99_seconds"] / stable["p99_seconds"]
            if ratio > self.settings.canary_max_p99_ratio:
                reasons.append(
                    f"canary p99 {ratio:.2f}× the stable version's (allowed {self.settings.canary_max_p99_ratio}×)"
                )
        if not reasons:
            return None
        return {"reason": "; ".join(reasons), "window_seconds": self.settings.canary_window_seconds, **figures}

    def _roll_back(self, choice: AdapterChoice, verdict: dict[str, Any]) -> None:
        key = (choice.tenant_id, choice.alias)
        try:
            view = self._rollback(choice.tenant_id, choice.alias, f"automatic rollback: {verdict['reason']}")
            if view is not None:
                subject = f"tenant:{view['tenant']}/adapter:{choice.alias}"
                self._audit("adapter.rollback", subject, {"actor": "canary-monitor", "change": {
                    "canary": choice.adapter.served_name, "automatic": True, **verdict}})  # fmt: skip
                log.warning("canary rolled back", extra={"alias": choice.alias, "reason": verdict["reason"]})
        except Exception:
            log.exception("canary rollback failed")
        finally:
            for arm in ("stable", "canary"):
                self.windows.pop((*key, arm), None)
            self._tripped.discard(key)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
