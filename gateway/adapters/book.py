"""The in-memory view of adapter assignments that the request path reads (reloaded with the directory).

``AdapterBook.choose`` picks the arm of one request: deterministic, ``bucket(key) < percent × 100``
where ``bucket`` is the first 8 bytes of SHA-256(``alias:key``) mod 10000 and ``key`` is the
request id or the user (the body's ``user``, else the API key id), as the assignment says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlmodel import Session, select

from gateway.adapters.models import AdapterAssignment, AdapterVersion
from gateway.adapters.registry import FORMAT_KINDS
from gateway.directory import RouteRecord, TargetRecord

BUCKETS = 10_000


def bucket(alias: str, key: str) -> int:
    """A stable number in ``[0, 10000)`` for this alias and request or user."""
    digest = hashlib.sha256(f"{alias}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True, slots=True)
class ServedAdapter:
    """One adapter version some assignment serves."""

    version_id: int
    served_name: str
    base_model: str
    format: str
    sha256: str


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    tenant_id: int
    alias: str
    stable: ServedAdapter
    canary: ServedAdapter | None
    canary_percent: float
    split_by: str


@dataclass(frozen=True, slots=True)
class AdapterChoice:
    """The adapter one request was sent to, and which arm of its assignment that is."""

    tenant_id: int
    alias: str
    arm: str
    adapter: ServedAdapter
    canary_live: bool

    def targets(
        self,
        route: RouteRecord | None,
        default_models: Mapping[str, tuple[TargetRecord, ...]],
        kinds: Mapping[str, str],
    ) -> tuple[TargetRecord, ...]:
        """The route's targets (or every backend serving the base model), on the base model → this adapter;
        targets whose backend cannot serve this adapter's format are left out."""
        base, fits = self.adapter.base_model, FORMAT_KINDS[self.adapter.format]
        candidates = route.targets if route is not None else default_models.get(base, ())
        chosen = []
        for target in candidates:
            if target.model == base and kinds.get(target.backend) in fits:
                chosen.append(TargetRecord(target.backend, self.adapter.served_name, target.weight))
            elif target.model != base:
                chosen.append(target)
        return tuple(chosen)


class AdapterBook:
    """Assignments and the adapters they serve, as of the last directory reload."""

    def __init__(self, store_root: Path) -> None:
        self.store_root = store_root
        self.assignments: Mapping[tuple[int, str], AssignmentRecord] = MappingProxyType({})
        self.adapters: Mapping[str, ServedAdapter] = MappingProxyType({})
        self.known_names: frozenset[str] = frozenset()
        self.version = 0
        self._kinds: tuple[Mapping[str, Any], Mapping[str, str]] | None = None

    def load(self, session: Session) -> None:
        """A ``Directory.reload_hooks`` entry: read every assignment and the versions it names."""
        versions = {v.id: v for v in session.exec(select(AdapterVersion))}

        def served(version_id: int | None) -> ServedAdapter | None:
            v = versions.get(version_id) if version_id is not None else None
            return None if v is None else ServedAdapter(v.id, v.served_name, v.base_model, v.format, v.sha256)

        assignments, adapters = {}, {}
        for row in session.exec(select(AdapterAssignment)):
            stable = served(row.stable_id)
            if stable is None:
                continue
            canary = served(row.canary_id) if row.status == "canary" else None
            record = AssignmentRecord(row.tenant_id, row.alias, stable, canary, row.canary_percent, row.split_by)
            assignments[(row.tenant_id, row.alias)] = record
            for adapter in (stable, canary):
                if adapter is not None:
                    adapters[adapter.served_name] = adapter
        self.assignments = MappingProxyType(assignments)
        self.adapters = MappingProxyType(adapters)
        self.known_names = frozenset(v.served_name for v in versions.values())
        self.version += 1

    def kinds(self, backends: Mapping[str, Any]) -> Mapping[str, str]:
        """Backend name → the kind that decides which adapter format it serves (a remote
        ``mlx_lm.server`` cannot take adapters at run time: it is ``mlx-remote``)."""
        if self._kinds is None or self._kinds[0] is not backends:
            kinds = {
                name: "mlx" if hasattr(b, "set_adapters") else ("mlx-remote" if b.kind == "mlx" else b.kind)
                for name, b in backends.items()
            }
            self._kinds = (backends, kinds)
        return self._kinds[1]

    def path(self, adapter: ServedAdapter) -> Path:
        return self.store_root / adapter.sha256

    def choose(self, tenant_id: int, alias: str, request_id: str, user: str | None) -> AdapterChoice | None:
        """The arm for one request, or ``None`` when no adapter is assigned to this alias."""
        record = self.assignments.get((tenant_id, alias))
        if record is None:
            return None
        live = record.canary is not None and record.canary_percent > 0
        key = (user or request_id) if record.split_by == "user" else request_id
        if live and bucket(alias, key) < record.canary_percent * (BUCKETS / 100):
            return AdapterChoice(tenant_id, alias, "canary", record.canary, True)
        return AdapterChoice(tenant_id, alias, "stable", record.stable, live)

    def sha256_of(self, served_name: str) -> str | None:
        adapter = self.adapters.get(served_name)
        return adapter.sha256 if adapter else None
