"""``gateway serve`` settles its heap after start-up: survivors frozen, young threshold raised."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace

import httpx
import pytest
from litestar.config.app import AppConfig

from gateway.cli import served_app
from gateway.heap import YOUNG_GENERATION_THRESHOLD, settle_heap, settle_heap_after_start
from tests.fakes.server import serve_in_thread
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import settings_for


@pytest.fixture
def unsettled_heap():
    """Start from a heap with nothing frozen and the default thresholds; leave it that way."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _walked_by_the_collector(obj: object) -> bool:
    return any(tracked is obj for tracked in gc.get_objects())


def test_settle_heap_freezes_what_survives_and_raises_the_young_threshold(unsettled_heap):
    survivor = [[] for _ in range(3)]
    assert gc.get_freeze_count() == 0 and _walked_by_the_collector(survivor)
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert not _walked_by_the_collector(survivor)
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, 10, 10)
    later = [[] for _ in range(3)]
    assert _walked_by_the_collector(later)


def test_the_served_app_settles_its_heap_once_started(unsettled_heap, sqlite_url, tmp_path):
    with FakeVLLM(models=["m"]).serve() as upstream_url:
        backends = [{"name": "gpu", "kind": "vllm", "base_url": upstream_url, "models": ["m"]}]
        app = served_app(settings_for(sqlite_url, tmp_path, backends))
        assert gc.get_freeze_count() == 0
        with serve_in_thread(app, lifespan="on") as url:
            assert httpx.get(f"{url}/healthz").status_code == 200
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
            assert not _walked_by_the_collector(app)


def test_objects_a_background_warm_up_loads_are_frozen_when_it_ends(unsettled_heap):
    config = AppConfig()
    loaded: list[list] = []

    async def warm() -> None:
        await asyncio.sleep(0.01)
        loaded.append([[] for _ in range(3)])

    async def main() -> None:
        services = SimpleNamespace(warming=asyncio.create_task(warm()))
        settle_heap_after_start(config, services)
        for hook in config.on_startup:
            hook()
        await services.warming
        await asyncio.sleep(0)

    asyncio.run(main())
    assert loaded and not _walked_by_the_collector(loaded[0])
