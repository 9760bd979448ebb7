"""The in-process directory of tenants, keys and routes: the database kept off the hot path.

Each replica holds a snapshot in memory and polls one version number; when an admin change
bumps it, the replica reloads, so a revoked key stops working everywhere within about
``refresh_seconds``. A key not yet in the snapshot (created a moment ago elsewhere) is looked
up in the database once, and unknown keys are remembered briefly so bad keys cannot hammer
the database. If the database goes away, the last snapshot keeps serving known tenants.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Callable, Mapping

from sqlmodel import Session, select

from gateway.apikeys import ApiKeyService
from gateway.errors import AuthenticationFailed, PermissionDenied
from gateway.keys import hash_key
from gateway.storage.database import Database
from gateway.storage.models import ApiKey, DirectoryState, Route, Tenant

log = logging.getLogger("gateway.directory")

_NEGATIVE_TTL_SECONDS = 2.0
_NEGATIVE_CACHE_MAX = 10_000
_LAST_USE_FLUSH_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class TargetRecord:
    backend: str
    model: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class RouteRecord:
    alias: str
    targets: tuple[TargetRecord, ...]
    fallback: tuple[TargetRecord, ...]


@dataclass(frozen=True, slots=True)
class TenantRecord:
    id: int
    name: str
    enabled: bool
    rpm: int | None
    tps: int | None
    daily_tokens: int | None
    max_concurrency: int | None
    allow_default_models: bool
    routes: Mapping[str, RouteRecord] = field(default_factory=dict)
    monthly_budget: float | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    tenant_id: int
    expires_at: float | None
    rpm: int | None = None
    tps: int | None = None
    daily_tokens: int | None = None
    max_concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the authenticated key and its tenant."""

    key: KeyRecord
    tenant: TenantRecord


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    keys: Mapping[str, KeyRecord]
    tenants: Mapping[int, TenantRecord]


def _targets(raw: list[dict]) -> tuple[TargetRecord, ...]:
    return tuple(TargetRecord(t["backend"], t["model"], float(t.get("weight", 1.0))) for t in raw)


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


class Directory:
    """Authenticates keys against an in-memory snapshot kept fresh by polling.

    ``reload_hooks`` run inside every reload with its session, for other admin-managed
    settings that ride on the same version number (prices).
    """

    def __init__(self, db: Database, refresh_seconds: float = 0.5) -> None:
        self.db = db
        self.refresh_seconds = refresh_seconds
        self.snapshot = Snapshot(version=-1, keys={}, tenants={})
        self.storage_ok = False
        self.last_refresh_ok = 0.0
        self._unknown: dict[str, float] = {}
        self._last_use: dict[str, datetime] = {}
        self._tasks: list[asyncio.Task] = []
        self.reload_hooks: list[Callable[[Session], None]] = []

    async def start(self) -> None:
        self.db.on_directory_change.append(self.reload)
        try:
            await asyncio.to_thread(self.reload)
        except Exception:
            log.exception("directory: first load failed; will keep trying")
        self._tasks = [asyncio.create_task(self._poll()), asyncio.create_task(self._flush_last_use_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await asyncio.to_thread(self.flush_last_use)

    def reload(self) -> None:
        """Read tenants, live keys and routes into a new snapshot (blocking; run in a thread)."""
        with self.db.session() as session:
            version = session.get(DirectoryState, 1).version
            routes: dict[int, dict[str, RouteRecord]] = {}
            for route in session.exec(select(Route)):
                routes.setdefault(route.tenant_id, {})[route.alias] = RouteRecord(
                    route.alias, _targets(route.targets), _targets(route.fallback)
                )
            tenants = {
                t.id: TenantRecord(
                    id=t.id,
                    name=t.name,
                    enabled=t.enabled,
                    rpm=t.rpm,
                    tps=t.tps,
                    daily_tokens=t.daily_tokens,
                    max_concurrency=t.max_concurrency,
                    allow_default_models=t.allow_default_models,
                    routes=MappingProxyType(routes.get(t.id, {})),
                    monthly_budget=t.monthly_budget,
                )
                for t in session.exec(select(Tenant))
            }
            keys = {
                k.key_hash: KeyRecord(
                    k.id, k.tenant_id, _epoch(k.expires_at), k.rpm, k.tps, k.daily_tokens, k.max_concurrency
                )
                for k in session.exec(select(ApiKey).where(ApiKey.revoked_at.is_(None)))
            }
            for hook in self.reload_hooks:
                hook(session)
        self.snapshot = Snapshot(version, MappingProxyType(keys), MappingProxyType(tenants))
        self._unknown.clear()
        self.storage_ok = True
        self.last_refresh_ok = time.monotonic()

    def _current_version(self) -> int:
        with self.db.session() as session:
            return session.get(DirectoryState, 1).version

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                version = await asyncio.to_thread(self._current_version)
                if version != self.snapshot.version:
                    await asyncio.to_thread(self.reload)
                self.storage_ok = True
                self.last_refresh_ok = time.monotonic()
            except Exception as exc:
                if self.storage_ok:
                    log.warning(
                        "directory: storage unreachable, serving from the last snapshot: %s", type(exc).__name__
                    )
                self.storage_ok = False

    async def authenticate(self, raw_key: str | None) -> Caller:
        """The caller behind a raw API key, or ``AuthenticationFailed`` / ``PermissionDenied``."""
        if not raw_key:
            raise AuthenticationFailed("Missing API key: send it as 'Authorization: Bearer <key>'.")
        digest = hash_key(raw_key)
        key = self.snapshot.keys.get(digest)
        if key is None:
            key = await self._lookup_unknown(digest)
        if key.expires_at is not None and key.expires_at <= time.time():
            raise AuthenticationFailed("This API key has expired.", code="expired_api_key")
        tenant = self.snapshot.tenants.get(key.tenant_id)
        if tenant is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        if not tenant.enabled:
            raise PermissionDenied(f"Tenant {tenant.name!r} is disabled.", code="tenant_disabled")
        self._last_use[key.id] = datetime.now(timezone.utc)
        return Caller(key, tenant)

    async def _lookup_unknown(self, digest: str) -> KeyRecord:
        now = time.monotonic()
        if self._unknown.get(digest, 0.0) > now or not self.storage_ok:
            raise AuthenticationFailed("Incorrect API key provided.")
        try:
            exists = await asyncio.to_thread(self._key_is_live, digest)
            if exists:
                await asyncio.to_thread(self.reload)
        except Exception:
            exists = False
        key = self.snapshot.keys.get(digest)
        if key is None:
            if len(self._unknown) >= _NEGATIVE_CACHE_MAX:
                self._unknown.clear()
            self._unknown[digest] = now + _NEGATIVE_TTL_SECONDS
            raise AuthenticationFailed("Incorrect API key provided.")
        return key

    def _key_is_live(self, digest: str) -> bool:
        with self.db.session() as session:
            stmt = select(ApiKey.id).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
            return session.exec(stmt).first() is not None

    def flush_last_use(self) -> None:
        pending, self._last_use = self._last_use, {}
        try:
            ApiKeyService(self.db).record_last_use(pending)
        except Exception:
            log.warning("directory: could not record key last-use times; will retry")
            for key_id, when in pending.items():
                self._last_use.setdefault(key_id, when)

    async def _flush_last_use_loop(self) -> None:
        while True:
            await asyncio.sleep(_LAST_USE_FLUSH_SECONDS)
            if self._last_use:
                await asyncio.to_thread(self.flush_last_use)
