"""Turning the model a client names into an ordered list of targets to try."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backends.base import Backend
from gateway.directory import TargetRecord, TenantRecord
from gateway.errors import ModelNotFound


@dataclass(frozen=True, slots=True)
class Target:
    """A backend and the upstream model (or LoRA adapter) name to send there."""

    backend: Backend
    model: str
    context_window: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """Where one request may go, in order; ``primary_count`` targets come from the route itself."""

    alias: str
    targets: tuple[Target, ...]
    primary_count: int
    adapter: Any = None
    """The ``gateway.adapters.book.AdapterChoice`` when the alias is served by an assigned LoRA adapter."""


class Router:
    """Resolves aliases per tenant: the tenant's routes first, then the configured models."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        context_windows: Mapping[str, Mapping[str, int]],
        default_fallback: Sequence[str],
        rng: random.Random | None = None,
    ) -> None:
        self.backends = backends
        self.context_windows = context_windows
        self.default_fallback = tuple(TargetRecord(name, backends[name].models[0]) for name in default_fallback)
        self.default_models: dict[str, tuple[TargetRecord, ...]] = {}
        for backend in backends.values():
            for model in backend.models:
                self.default_models[model] = (*self.default_models.get(model, ()), TargetRecord(backend.name, model))
        self._rng = rng or random.Random()
        self.adapters: Any = None
        """The ``AdapterBook`` of per-tenant adapter assignments (``None``: no adapters)."""

    def plan(self, tenant: TenantRecord, alias: str, request_id: str = "", user: str | None = None) -> Plan:
        """The targets for ``alias``, or ``ModelNotFound`` when this tenant has no such model.

        An alias with an assigned adapter goes to it (stable or canary, by ``request_id`` or ``user``).
        """
        route = tenant.routes.get(alias)
        choice = self.adapters.choose(tenant.id, alias, request_id, user) if self.adapters is not None else None
        if choice is not None:
            kinds = self.adapters.kinds(self.backends)
            primary = self._weighted_order(choice.targets(route, self.default_models, kinds))
            fallback = (route.fallback if route is not None else ()) or self.default_fallback
        elif route is not None:
            primary, fallback = self._weighted_order(route.targets), route.fallback or self.default_fallback
        elif tenant.allow_default_models and alias in self.default_models:
            primary, fallback = self.default_models[alias], self.default_fallback
        else:
            raise ModelNotFound(f"The model '{alias}' does not exist or you do not have access to it.", param="model")
        targets: list[Target] = []
        seen: set[tuple[str, str]] = set()
        for record in (*primary, *fallback):
            backend = self.backends.get(record.backend)
            if backend is None or (record.backend, record.model) in seen:
                continue
            seen.add((record.backend, record.model))
            window = self.context_windows.get(record.backend, {}).get(record.model)
            targets.append(Target(backend, record.model, window))
        primary_count = len({(r.backend, r.model) for r in primary if r.backend in self.backends})
        return Plan(alias, tuple(targets), primary_count, choice)

    def adapter_sha256(self, target: Target) -> str | None:
        """The content hash of the assigned adapter ``target`` names, for the attestation."""
        return self.adapters.sha256_of(target.model) if self.adapters is not None else None

    def aliases(self, tenant: TenantRecord) -> dict[str, Target]:
        """Every model this tenant may ask for, with the first target of each."""
        names = list(self.default_models) if tenant.allow_default_models else []
        names += [alias for alias in tenant.routes if alias not in names]
        if self.adapters is not None:
            assigned = [alias for (owner, alias) in self.adapters.assignments if owner == tenant.id]
            names += [alias for alias in assigned if alias not in names]
        result = {}
        for name in names:
            plan = self.plan(tenant, name)
            if plan.targets:
                result[name] = plan.targets[0]
        return result

    def _weighted_order(self, targets: tuple[TargetRecord, ...]) -> tuple[TargetRecord, ...]:
        """One target drawn by weight goes first; the rest follow in their configured order."""
        live = [t for t in targets if t.weight > 0]
        if len(live) <= 1:
            return (*live, *(t for t in targets if t.weight <= 0))
        pick = self._rng.random() * sum(t.weight for t in live)
        for chosen in live:
            pick -= chosen.weight
            if pick < 0:
                break
        return (chosen, *(t for t in targets if t is not chosen))
