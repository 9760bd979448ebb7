"""What every limiter implements, and the shapes that cross its boundary.

The rules, the same for every implementation:

* requests per minute — a sliding 60-second log: at most ``rpm`` admissions in any 60 s;
* tokens per second — a token bucket refilled at ``tps`` tokens/s that holds up to 60 s worth
  (``tps * 60``, reported as the tokens-per-minute limit); a request takes its estimate at
  admission, and when it ends the difference to the real usage is given back or taken;
  a request larger than the whole bucket is admitted only when the bucket is full;
* concurrency — at most ``max_concurrency`` requests in flight (each holds a lease that a
  crashed replica's requests lose after ``lease_seconds``);
* daily tokens — estimates are reserved against the day's quota (a day starts at the
  configured UTC hour) and settled to real usage; a request whose estimate does not fit what
  is left is refused.
* monthly budget (tenants only, in the pricing currency) — a request's estimated cost (its
  prompt and reserved completion tokens at the route's token prices; GPU-seconds are not known
  before the call) is reserved at admission and settled to the real cost when it ends; once
  what the calendar month (UTC) has spent and reserved reaches the budget, requests are refused
  (``budget_exceeded``) until the next month. The month's counter starts from the ledger's sum
  (``seed_month``), so a restart or a new Redis does not forget what was spent.

A request is checked against every subject (its tenant and, when the key has limits of its
own, its key) in one atomic step: either all counters move or none.
"""

from __future__ import annotations

import abc
import calendar
import math
import time
from dataclasses import dataclass, field

from gateway.directory import Caller
from gateway.errors import RateLimited

WINDOW_SECONDS = 60.0
BUCKET_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Subject:
    """One set of limits a request counts against (``tenant:<id>`` or ``key:<id>``)."""

    scope: str
    rpm: int | None = None
    tps: int | None = None
    daily_tokens: int | None = None
    max_concurrency: int | None = None
    monthly_budget: float | None = None

    @property
    def limited(self) -> bool:
        limits = (self.rpm, self.tps, self.daily_tokens, self.max_concurrency, self.monthly_budget)
        return any(v is not None for v in limits)


def subjects_for(caller: Caller) -> tuple[Subject, ...]:
    """The tenant's limits, plus the key's own when it has any."""
    tenant = caller.tenant
    subjects = [
        Subject(
            f"tenant:{tenant.id}",
            tenant.rpm,
            tenant.tps,
            tenant.daily_tokens,
            tenant.max_concurrency,
            getattr(tenant, "monthly_budget", None),
        )
    ]
    key = caller.key
    own = Subject(f"key:{key.id}", key.rpm, key.tps, key.daily_tokens, key.max_concurrency)
    if own.limited:
        subjects.append(own)
    return tuple(s for s in subjects if s.limited)


@dataclass(slots=True)
class Headroom:
    """What is left after an admission, for the ``x-ratelimit-*`` headers."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float = 0.0
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float = 0.0

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.limit_requests is not None:
            headers["x-ratelimit-limit-requests"] = str(self.limit_requests)
            headers["x-ratelimit-remaining-requests"] = str(max(0, self.remaining_requests or 0))
            headers["x-ratelimit-reset-requests"] = format_duration(self.reset_requests)
        if self.limit_tokens is not None:
            headers["x-ratelimit-limit-tokens"] = str(self.limit_tokens)
            headers["x-ratelimit-remaining-tokens"] = str(max(0, self.remaining_tokens or 0))
            headers["x-ratelimit-reset-tokens"] = format_duration(self.reset_tokens)
        return headers


@dataclass(slots=True)
class Admission:
    """A request let in: what it reserved, so it can be settled, and the headers to send."""

    request_id: str
    subjects: tuple[Subject, ...]
    reserved_tokens: int
    day: int
    headroom: Headroom = field(default_factory=Headroom)
    limiter: Limiter | None = None
    settled: bool = False
    reserved_cost: float = 0.0
    month: int = 0


REFUSAL_CODES = {
    "requests": ("rate_limit_exceeded", "requests per minute (rpm)"),
    "tokens": ("rate_limit_exceeded", "tokens per minute (tpm)"),
    "concurrency": ("concurrency_limit_exceeded", "concurrent requests"),
    "daily_tokens": ("insufficient_quota", "tokens per day"),
    "budget": ("budget_exceeded", "monthly budget"),
}


def refusal(reason: str, limit: float, retry_after: float, headroom: Headroom) -> RateLimited:
    """The 429 for a refused admission, with ``Retry-After`` and the ``x-ratelimit-*`` headers."""
    code, what = REFUSAL_CODES[reason]
    wait = format_duration(retry_after)
    if reason == "budget":
        message = f"The tenant's monthly budget ({limit:g}) is spent. It renews in {wait} (the next month, UTC)."
    else:
        message = f"Rate limit reached for {what}: limit {limit}. Please try again in {wait}."
    error = RateLimited(message, code=code)
    if reason in ("daily_tokens", "budget"):
        error.type = "insufficient_quota"
    error.headers = {"retry-after": str(max(1, math.ceil(retry_after))), **headroom.headers()}
    return error


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds < 1:
        return f"{max(0, int(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


def day_number(now: float, reset_hour_utc: int) -> int:
    """Which quota day ``now`` falls in, days starting at ``reset_hour_utc``."""
    return int((now - reset_hour_utc * 3600) // 86400)


def seconds_to_next_day(now: float, reset_hour_utc: int) -> float:
    start = (day_number(now, reset_hour_utc) + 1) * 86400 + reset_hour_utc * 3600
    return start - now


def month_number(now: float) -> int:
    """Which calendar month (UTC) ``now`` falls in, counted from January 1970."""
    moment = time.gmtime(now)
    return (moment.tm_year - 1970) * 12 + moment.tm_mon - 1


def month_start(month: int) -> float:
    """Unix time of the first second of ``month`` (a ``month_number``)."""
    year, index = divmod(month, 12)
    return float(calendar.timegm((1970 + year, index + 1, 1, 0, 0, 0)))


def seconds_to_next_month(now: float) -> float:
    return month_start(month_number(now) + 1) - now


class Limiter(abc.ABC):
    """Admits requests against their subjects' limits and settles them when they end."""

    @abc.abstractmethod
    async def admit(
        self, request_id: str, subjects: tuple[Subject, ...], tokens: int, cost: float = 0.0
    ) -> Admission:
        """Count the request and reserve ``tokens`` (and ``cost`` against budgets); raise ``RateLimited``
        (with headers) if any limit is full."""

    @abc.abstractmethod
    async def settle(self, admission: Admission, used_tokens: int, used_cost: float | None = None) -> None:
        """The request ended having used ``used_tokens`` (costing ``used_cost``; ``None``: as reserved):
        correct the reservations and free its slot."""

    @abc.abstractmethod
    async def seed_month(self, scope: str, month: int, spent: float) -> None:
        """Start ``scope``'s counter for ``month`` at ``spent`` (from the ledger) unless it already runs."""

    async def start(self) -> None:
        """Connect, if there is anything to connect to."""

    async def aclose(self) -> None:
        """Release connections."""
