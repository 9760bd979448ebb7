"""The single-process limiter: exact, because nothing awaits between checking and counting."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.limits.limiter import (
    BUCKET_SECONDS,
    WINDOW_SECONDS,
    Admission,
    Headroom,
    Limiter,
    Subject,
    day_number,
    month_number,
    refusal,
    seconds_to_next_day,
    seconds_to_next_month,
)


@dataclass(slots=True)
class _State:
    admissions: deque[float] = field(default_factory=deque)
    bucket: float | None = None
    bucket_at: float = 0.0
    day: int = -1
    day_used: int = 0
    in_flight: dict[str, float] = field(default_factory=dict)
    month: int = -1
    month_spent: float = 0.0


class InMemoryLimiter(Limiter):
    """Limits kept in this process's memory (one replica, or a fallback when Redis is away)."""

    def __init__(
        self, reset_hour_utc: int = 0, lease_seconds: float = 600.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.reset_hour_utc = reset_hour_utc
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._states: dict[str, _State] = {}

    def _state(self, scope: str) -> _State:
        state = self._states.get(scope)
        if state is None:
            state = self._states[scope] = _State()
        return state

    def _refresh(self, subject: Subject, state: _State, now: float, day: int) -> None:
        cutoff = now - WINDOW_SECONDS
        while state.admissions and state.admissions[0] <= cutoff:
            state.admissions.popleft()
        if state.in_flight:
            for request_id in [r for r, expiry in state.in_flight.items() if expiry <= now]:
                del state.in_flight[request_id]
        if subject.tps is not None:
            capacity = subject.tps * BUCKET_SECONDS
            if state.bucket is None:
                state.bucket = capacity
            else:
                state.bucket = min(capacity, state.bucket + (now - state.bucket_at) * subject.tps)
            state.bucket_at = now
        if state.day != day:
            state.day, state.day_used = day, 0

    def _headroom(self, subjects: tuple[Subject, ...], now: float) -> Headroom:
        headroom = Headroom()
        for subject in subjects:
            state = self._state(subject.scope)
            if subject.rpm is not None:
                remaining = subject.rpm - len(state.admissions)
                if headroom.remaining_requests is None or remaining < headroom.remaining_requests:
                    headroom.limit_requests, headroom.remaining_requests = subject.rpm, remaining
                    headroom.reset_requests = state.admissions[0] + WINDOW_SECONDS - now if state.admissions else 0.0
            if subject.tps is not None and state.bucket is not None:
                capacity = subject.tps * BUCKET_SECONDS
                remaining = int(state.bucket)
                if headroom.remaining_tokens is None or remaining < headroom.remaining_tokens:
                    headroom.limit_tokens, headroom.remaining_tokens = int(capacity), remaining
                    headroom.reset_tokens = max(0.0, (capacity - state.bucket) / subject.tps)
        return headroom

    async def admit(
        self, request_id: str, subjects: tuple[Subject, ...], tokens: int, cost: float = 0.0
    ) -> Admission:
        now = self._clock()
        day, month = day_number(now, self.reset_hour_utc), month_number(now)
        for subject in subjects:
            state = self._state(subject.scope)
            self._refresh(subject, state, now, day)
            if subject.monthly_budget is not None:
                if state.month != month:
                    state.month, state.month_spent = month, 0.0
                if state.month_spent >= subject.monthly_budget:
                    wait = seconds_to_next_month(now)
                    raise refusal("budget", subject.monthly_budget, wait, self._headroom(subjects, now))
            if subject.rpm is not None and len(state.admissions) >= subject.rpm:
                wait = state.admissions[0] + WINDOW_SECONDS - now if state.admissions else WINDOW_SECONDS
                raise refusal("requests", subject.rpm, wait, self._headroom(subjects, now))
            if subject.max_concurrency is not None and len(state.in_flight) >= subject.max_concurrency:
                raise refusal("concurrency", subject.max_concurrency, 1.0, self._headroom(subjects, now))
            if subject.tps is not None:
                capacity = subject.tps * BUCKET_SECONDS
                needed = min(tokens, capacity)
                if state.bucket < needed:
                    wait = (needed - state.bucket) / subject.tps
                    raise refusal("tokens", int(capacity), wait, self._headroom(subjects, now))
            if subject.daily_tokens is not None and state.day_used + tokens > subject.daily_tokens:
                wait = seconds_to_next_day(now, self.reset_hour_utc)
                raise refusal("daily_tokens", subject.daily_tokens, wait, self._headroom(subjects, now))
        for subject in subjects:
            state = self._state(subject.scope)
            if subject.rpm is not None:
                state.admissions.append(now)
            if subject.max_concurrency is not None:
                state.in_flight[request_id] = now + self.lease_seconds
            if subject.tps is not None:
                state.bucket -= tokens
            if subject.daily_tokens is not None:
                state.day_used += tokens
            if subject.monthly_budget is not None:
                state.month_spent += cost
        return Admission(
            request_id, subjects, tokens, day, self._headroom(subjects, now), self, reserved_cost=cost, month=month
        )

    async def seed_month(self, scope: str, month: int, spent: float) -> None:
        state = self._state(scope)
        state.month, state.month_spent = month, spent

    async def settle(self, admission: Admission, used_tokens: int, used_cost: float | None = None) -> None:
        if admission.settled:
            return
        admission.settled = True
        difference = used_tokens - admission.reserved_tokens
        cost_difference = 0.0 if used_cost is None else used_cost - admission.reserved_cost
        for subject in admission.subjects:
            state = self._state(subject.scope)
            state.in_flight.pop(admission.request_id, None)
            if subject.tps is not None and state.bucket is not None:
                state.bucket = min(subject.tps * BUCKET_SECONDS, state.bucket - difference)
            if subject.daily_tokens is not None and state.day == admission.day:
                state.day_used = max(0, state.day_used + difference)
            if subject.monthly_budget is not None and state.month == admission.month:
                state.month_spent = max(0.0, state.month_spent + cost_difference)
