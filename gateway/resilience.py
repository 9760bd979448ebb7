"""Circuit breaking and retry backoff for upstream calls."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; after ``cooldown`` lets one probe through.

    A successful probe closes it; a failed one opens it for another cooldown.
    """

    def __init__(self, failure_threshold: int = 5, cooldown: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = CLOSED
        self._probe_in_flight = False
        self._probe_started = 0.0

    @property
    def state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown:
            return HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """Whether a request may go to this backend now (claims the probe when half-open)."""
        state = self.state
        if state == CLOSED:
            return True
        now = self._clock()
        if state == HALF_OPEN and (not self._probe_in_flight or now - self._probe_started >= self.cooldown):
            self._state = HALF_OPEN
            self._probe_in_flight = True
            self._probe_started = now
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._state = CLOSED
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        self._probe_in_flight = False
        if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
            self._state = OPEN
            self._opened_at = self._clock()


def backoff_delay(attempt: int, base: float, rng: random.Random = random._inst) -> float:
    """Full-jitter exponential backoff: uniform in [0, base * 2**attempt]."""
    return rng.uniform(0, base * (2**attempt))
