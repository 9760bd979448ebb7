"""The adapter capability as the app holds it: store, registry, assignments, the request path's book,
the canary monitor and the backend sync loop, built from settings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from gateway.adapters.assignments import AssignmentService
from gateway.adapters.book import AdapterBook
from gateway.adapters.canary import CanaryMonitor
from gateway.adapters.registry import AdapterRegistry, base_models
from gateway.adapters.store import AdapterStore
from gateway.adapters.sync import AdapterSync
from gateway.settings import Settings
from gateway.storage.database import Database


@dataclass
class Adapters:
    """Everything about LoRA adapters; ``Services.adapters``."""

    store: AdapterStore
    registry: AdapterRegistry
    assignments: AssignmentService
    book: AdapterBook
    canary: CanaryMonitor
    sync: AdapterSync

    @classmethod
    def build(cls, settings: Settings, db: Database, backends: dict[str, Any], audit_append) -> Adapters:
        config = settings.adapters
        store = AdapterStore(settings.data_dir / "adapters")
        configs = settings.effective_backends()
        registry = AdapterRegistry(db, store, config, base_models(configs))
        assignments = AssignmentService(db, registry, config.canary_split_by)
        book = AdapterBook(store.root)
        canary = CanaryMonitor(config, assignments.rollback_by_id, audit_append)
        sync = AdapterSync(book, configs, backends, store.root, config.sync_interval_seconds)
        return cls(store, registry, assignments, book, canary, sync)

    async def start(self) -> None:
        await asyncio.to_thread(self.store.sweep)
        await self.sync.start()

    async def stop(self) -> None:
        await self.canary.aclose()
        await self.sync.stop()
