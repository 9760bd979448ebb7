"""Garbage-collector settings for a serving process.

Once started, the gateway's heap holds about 200,000 long-lived objects: modules, the app,
ORM metadata, compiled schemas. CPython's full collection walks every one of them, and under
load the objects of in-flight requests are promoted quickly enough to trigger one every half
second or so. On the overhead benchmark each full collection took about 120 ms of the event
loop's core, and the collector as a whole took close to 30% of the gateway's CPU and put
120–170 ms spikes into its p99.

``settle_heap`` runs after start-up (and again once a background warm-up, such as the
guardrail models', has loaded): it collects what start-up left behind, moves every
surviving object into the permanent generation (``gc.freeze``), which later collections do not
walk, and raises the young generation's threshold, so that a burst of in-flight requests does
not set off a collection by itself. Objects are still freed by reference counting as usual;
only a reference cycle among objects that were alive at start-up is never reclaimed.
"""

from __future__ import annotations

import gc

from litestar.config.app import AppConfig

from gateway.services import Services

YOUNG_GENERATION_THRESHOLD = 10_000


def settle_heap() -> None:
    """Collect once, freeze what survives start-up and raise the young generation's threshold.

    Run again (after a warm-up), it first unfreezes, so that what became garbage since the last
    time, such as a warm-up's temporary objects, is collected rather than frozen for good."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


def settle_heap_after_start(config: AppConfig, services: Services) -> None:
    """App extension (``gateway serve`` installs it): ``settle_heap`` after start-up and after the warm-up."""

    def settle() -> None:
        settle_heap()
        if services.warming is not None:
            services.warming.add_done_callback(lambda task: None if task.cancelled() else settle_heap())

    config.on_startup.append(settle)
