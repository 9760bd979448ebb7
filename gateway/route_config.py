"""A tenant's routes as configured: model alias → weighted targets and a fallback chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.storage.database import Database, bump_directory_version
from gateway.storage.models import Route, utcnow
from gateway.tenants import find_tenant

Alias = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class TargetSpec(msgspec.Struct, forbid_unknown_fields=True):
    """One place a request may go: a backend and the upstream model or adapter name there."""

    backend: Annotated[str, msgspec.Meta(min_length=1)]
    model: str | None = None
    weight: Annotated[float, msgspec.Meta(ge=0)] = 1.0


class RouteSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PUT /admin/api/tenants/{name}/routes/{alias}``."""

    targets: Annotated[list[TargetSpec], msgspec.Meta(min_length=1)]
    fallback: list[TargetSpec] = []


def route_view(route: Route) -> dict:
    return {"alias": route.alias, "targets": route.targets, "fallback": route.fallback}


class RouteService:
    """Route administration; checks every target against the configured backends."""

    def __init__(self, db: Database, catalog: Mapping[str, Sequence[str]]) -> None:
        self.db = db
        self.catalog = catalog

    def _resolve(self, targets: list[TargetSpec], field: str) -> list[dict]:
        resolved = []
        for index, target in enumerate(targets):
            models = self.catalog.get(target.backend)
            if models is None:
                raise InvalidRequest(
                    f"unknown backend {target.backend!r}; configured: {sorted(self.catalog)}",
                    param=f"{field}[{index}].backend",
                )
            resolved.append({"backend": target.backend, "model": target.model or models[0], "weight": target.weight})
        return resolved

    def list(self, tenant_name: str) -> list[Route]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            return list(session.exec(select(Route).where(Route.tenant_id == tenant.id).order_by(Route.alias)))

    def put(self, tenant_name: str, alias: str, spec: RouteSpec) -> Route:
        if not any(t.weight > 0 for t in spec.targets):
            raise InvalidRequest("at least one target needs a weight above 0", param="targets")
        targets = self._resolve(spec.targets, "targets")
        fallback = self._resolve(spec.fallback, "fallback")
        try:
            with self.db.session() as session:
                tenant = find_tenant(session, tenant_name)
                route = session.exec(select(Route).where(Route.tenant_id == tenant.id, Route.alias == alias)).first()
                if route is None:
                    route = Route(tenant_id=tenant.id, alias=alias, targets=targets, fallback=fallback)
                else:
                    route.targets, route.fallback, route.updated_at = targets, fallback, utcnow()
                session.add(route)
                bump_directory_version(session)
                session.flush()
                session.refresh(route)
                return route
        except IntegrityError as exc:
            raise Conflict(f"route {alias!r} was changed concurrently; retry", param="alias") from exc

    def delete(self, tenant_name: str, alias: str) -> None:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            route = session.exec(select(Route).where(Route.tenant_id == tenant.id, Route.alias == alias)).first()
            if route is None:
                raise NotFound(f"tenant {tenant_name!r} has no route {alias!r}", param="alias")
            session.delete(route)
            bump_directory_version(session)
