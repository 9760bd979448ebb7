"""The configured backends: construction, start-up, active health checks and shutdown."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from backends.base import Backend, Timeouts
from gateway.dispatch import BackendState
from gateway.metrics import Metrics
from gateway.resilience import CircuitBreaker
from gateway.settings import BackendSettings, ResilienceSettings

log = logging.getLogger("gateway.backends")

_HEALTH_TIMEOUT_SECONDS = 5.0


def build_backend(config: BackendSettings, data_dir: Path) -> Backend:
    """The backend object for one ``[[backends]]`` table; heavy kinds are imported only when used."""
    timeouts = Timeouts(connect=config.connect_timeout, read=config.read_timeout)
    models = tuple(config.models)
    if config.kind == "anthropic":
        from backends.anthropic import AnthropicBackend

        return AnthropicBackend(
            config.name,
            models,
            config.base_url,
            config.api_key(),
            timeouts=timeouts,
            max_connections=config.max_connections,
        )
    if config.kind == "mlx" and not config.base_url:
        from backends.mlx import MLXBackend

        return MLXBackend(
            config.name, models, config.model_source, data_dir, max_loaded_adapters=config.max_loaded_adapters
        )
    if config.responses_api == "native":
        from backends.openai_responses import OpenAIResponsesBackend as OpenAICompatible
    else:
        from backends.openai_compat import OpenAICompatibleBackend as OpenAICompatible

    return OpenAICompatible(
        config.name,
        models,
        config.base_url,
        config.api_key(),
        kind=config.kind,
        timeouts=timeouts,
        max_connections=config.max_connections,
    )


class BackendPool:
    """Owns every backend and what the gateway knows of its health."""

    def __init__(
        self, configs: list[BackendSettings], resilience: ResilienceSettings, data_dir: Path, metrics: Metrics
    ):
        self.metrics = metrics
        self.interval = resilience.health_check_interval_seconds
        self.backends: dict[str, Backend] = {c.name: build_backend(c, data_dir) for c in configs}
        self.context_windows = {c.name: dict(c.context_windows) for c in configs}
        self.states = {
            c.name: BackendState(
                CircuitBreaker(resilience.breaker_failure_threshold, resilience.breaker_cooldown_seconds),
                retries=c.retries,
            )
            for c in configs
        }
        self._tasks: list[asyncio.Task] = []
        metrics.watch_backends(self.report)

    async def start(self) -> None:
        """Start every backend in the background and begin health checking."""
        self._tasks = [asyncio.create_task(self._start(b)) for b in self.backends.values()]
        self._tasks.append(asyncio.create_task(self._health_loop()))

    async def _start(self, backend: Backend) -> None:
        try:
            await backend.start()
        except Exception:
            log.exception("backend failed to start", extra={"backend": backend.name})
        await self.check(backend)

    async def check(self, backend: Backend) -> bool:
        """Run one health check and record it."""
        try:
            await asyncio.wait_for(backend.health(), _HEALTH_TIMEOUT_SECONDS)
            up = True
        except Exception:
            up = False
        state = self.states[backend.name]
        if state.healthy != up:
            log.warning("backend health changed", extra={"backend": backend.name, "up": up})
        state.healthy = up
        return up

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.gather(*(self.check(b) for b in self.backends.values()))

    def report(self) -> dict[str, dict]:
        """Each backend's health and circuit, for ``/readyz``."""
        return {name: {"up": state.healthy, "circuit": state.breaker.state} for name, state in self.states.items()}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(b.aclose() for b in self.backends.values()), return_exceptions=True)
