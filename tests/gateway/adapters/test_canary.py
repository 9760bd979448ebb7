"""The canary monitor's verdicts on synthetic outcomes (a hand-driven clock, no real timing) and the split's bucket."""

from __future__ import annotations

import asyncio

from gateway.adapters.book import AdapterChoice, ServedAdapter, bucket
from gateway.adapters.canary import CanaryMonitor, Window
from gateway.adapters.settings import AdapterSettings

STABLE = ServedAdapter(1, "legal-v1", "qwen", "peft", "a" * 64)
CANARY = ServedAdapter(2, "legal-v2", "qwen", "peft", "b" * 64)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def monitor(clock: Clock, calls: list, **settings) -> CanaryMonitor:
    config = AdapterSettings(canary_min_requests=20, canary_min_latency_samples=50, **settings)
    return CanaryMonitor(
        config,
        rollback=lambda tenant_id, alias, note: calls.append(("rollback", tenant_id, alias, note))
        or {"tenant": "acme"},
        audit=lambda kind, subject, detail: calls.append(("audit", kind, subject, detail)),
        clock=clock,
    )


def arm(name: str) -> AdapterChoice:
    return AdapterChoice(7, "legal", name, CANARY if name == "canary" else STABLE, True)


def feed(m: CanaryMonitor, name: str, n: int, ok: bool = True, seconds: float = 0.1) -> None:
    for _ in range(n):
        m.record(arm(name), ok, seconds)


def test_errors_above_the_stable_rate_roll_the_canary_back_with_figures():
    calls: list = []

    async def run() -> None:
        m = monitor(Clock(), calls)
        feed(m, "stable", 100)
        feed(m, "canary", 19, ok=False)
        assert m.verdict(7, "legal") is None  # fewer than canary_min_requests
        feed(m, "canary", 1, ok=False)
        await m.aclose()

    asyncio.run(run())
    rollback, audit = calls
    assert rollback[:3] == ("rollback", 7, "legal") and "error rate 100.0% vs stable 0.0%" in rollback[3]
    assert audit[1] == "adapter.rollback" and audit[3]["change"]["canary"]["errors"] == 20


def test_a_slow_canary_is_judged_on_p99_only_with_enough_samples():
    clock, calls = Clock(), []
    m = monitor(clock, calls)
    feed(m, "stable", 60, seconds=0.1)
    canary = m.windows[(7, "legal", "canary")] = Window()
    for _ in range(49):
        canary.add(clock(), True, 0.5, 300)
    assert m.verdict(7, "legal") is None  # 49 canary answers < canary_min_latency_samples
    canary.add(clock(), True, 0.5, 300)
    verdict = m.verdict(7, "legal")
    assert verdict is not None and "p99 5.00×" in verdict["reason"]
    assert verdict["stable"]["p99_seconds"] == 0.1 and verdict["canary"]["p99_seconds"] == 0.5


def test_a_slightly_slower_canary_and_old_outcomes_do_not_count():
    clock, calls = Clock(), []
    m = monitor(clock, calls, canary_window_seconds=60)
    feed(m, "stable", 60, seconds=0.1)
    canary = m.windows[(7, "legal", "canary")] = Window()
    for _ in range(60):
        canary.add(clock(), False, 0, 60)
    assert m.verdict(7, "legal") is not None
    clock.now += 61  # the window slides past every outcome
    assert m.verdict(7, "legal") is None
    feed(m, "stable", 60, seconds=0.1)
    for _ in range(60):
        canary.add(clock(), True, 0.15, 60)
    assert m.verdict(7, "legal") is None and calls == []


def test_the_bucket_is_deterministic_and_even():
    assert bucket("legal", "req_1") == bucket("legal", "req_1")
    buckets = [bucket("legal", f"req_{i}") for i in range(20_000)]
    share = sum(b < 1000 for b in buckets) / len(buckets)
    assert 0.09 < share < 0.11
    assert bucket("legal", "ayse") != bucket("support", "ayse") or bucket("legal", "can") != bucket("support", "can")
