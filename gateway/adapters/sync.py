"""Keeping serving backends' adapters in step with the assignments: the gateway owns that state.

For every vLLM backend: compare ``/v1/models`` with the adapters that should be there
(every assigned version — stable and live canary — whose base model the backend serves) and
load what is missing, unload registry adapters no longer assigned. This runs at start-up,
whenever the assignments change (on any replica: the directory version), and every
``sync_interval_seconds``, which re-loads adapters after a vLLM restart or on a new replica.
Adapters vLLM was started with (``--lora-modules``) that the registry does not know are left alone.

In-process MLX backends get the same list as a name → folder map (they load lazily, LRU-bounded).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.vllm_lora import VLLMLoraClient
from gateway.adapters.book import AdapterBook, ServedAdapter
from gateway.settings import BackendSettings

log = logging.getLogger("gateway.adapters.sync")

_TICK_SECONDS = 0.1


@dataclass(slots=True)
class BackendSync:
    """What the last sync of one backend found and did (shown in the console and API)."""

    backend: str
    max_loras: int
    desired: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    error: str | None = None
    synced_at: float | None = None

    @property
    def over_capacity(self) -> bool:
        return len(self.desired) > self.max_loras

    def view(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "max_loras": self.max_loras,
            "desired": self.desired,
            "loaded": self.loaded,
            "missing": [n for n in self.desired if n not in self.loaded],
            "over_capacity": self.over_capacity,
            "error": self.error,
        }


class AdapterSync:
    """The sync loop over every vLLM backend (and the adapter map of in-process MLX backends)."""

    def __init__(
        self,
        book: AdapterBook,
        configs: list[BackendSettings],
        backends: Mapping[str, Any],
        store_root: Path,
        interval: float,
    ) -> None:
        self.book = book
        self.interval = interval
        self.store_root = Path(store_root)
        self.configs = {c.name: c for c in configs if c.kind == "vllm"}
        self.mlx = {n: b for n, b in backends.items() if hasattr(b, "set_adapters")}
        self.clients = {n: VLLMLoraClient(n, c.base_url, c.api_key()) for n, c in self.configs.items()}
        self.status = {n: BackendSync(n, c.max_loras) for n, c in self.configs.items()}
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    def adapter_path(self, backend: str, adapter: ServedAdapter) -> str:
        """The folder the backend loads: under its ``adapter_root`` (its view of the store) or the store itself."""
        root = self.configs[backend].adapter_root if backend in self.configs else None
        return f"{(root or str(self.store_root)).rstrip('/')}/{adapter.sha256}"

    def desired(self, backend: str, models: tuple[str, ...] | list[str], fmt: str) -> dict[str, ServedAdapter]:
        return {
            name: adapter
            for name, adapter in sorted(self.book.adapters.items())
            if adapter.format == fmt and adapter.base_model in models
        }

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="adapter-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*(c.aclose() for c in self.clients.values()), return_exceptions=True)

    async def _loop(self) -> None:
        seen, last = -1, 0.0
        while True:
            if self.book.version != seen or time.monotonic() - last >= self.interval:
                seen, last = self.book.version, time.monotonic()
                await self.sync_all()
            await asyncio.sleep(_TICK_SECONDS)

    async def sync_all(self) -> None:
        """One pass over every backend (serialised: concurrent callers wait for the running pass)."""
        async with self._lock:
            for name, backend in self.mlx.items():
                wanted = self.desired(name, backend.models, "mlx")
                backend.set_adapters({n: self.book.path(a) for n, a in wanted.items()})
            await asyncio.gather(*(self.sync_backend(name) for name in self.clients))

    async def sync_backend(self, name: str) -> BackendSync:
        client, status = self.clients[name], self.status[name]
        wanted = self.desired(name, self.configs[name].models, "peft")
        status.desired = list(wanted)
        if status.over_capacity:
            log.warning("adapters: more assigned than max_loras", extra={"backend": name, "assigned": len(wanted)})
        try:
            roots = {a.name: a.path for a in await client.loaded()}
            loaded = set(roots)
            for served_name, adapter in wanted.items():
                path = self.adapter_path(name, adapter)
                if served_name in loaded and roots[served_name] not in (None, path):
                    await client.unload(served_name)
                    loaded.discard(served_name)
                if served_name not in loaded:
                    await client.load(served_name, path)
                    loaded.add(served_name)
            for served_name in sorted(loaded - set(wanted)):
                if served_name in self.book.known_names:
                    await client.unload(served_name)
                    loaded.discard(served_name)
            status.error = None
        except Exception as exc:
            error = getattr(exc, "message", None) or f"{type(exc).__name__}"
            if error != status.error:
                log.warning("adapters: sync failed", extra={"backend": name, "error": error})
            status.error = error
        else:
            status.loaded = sorted(loaded)
        status.synced_at = time.time()
        return status

    def report(self) -> list[dict[str, Any]]:
        return [s.view() for s in self.status.values()]
