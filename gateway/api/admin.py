"""The management JSON API under ``/admin/api``: tenants, keys and routes.

Authenticated by the bearer token in ``GATEWAY_ADMIN_TOKEN`` (no token set: token auth off).
"""

from __future__ import annotations

import hmac
from datetime import date
from typing import Literal

import msgspec
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.accounting.price_admin import PriceSpec, price_view
from gateway.accounting.usage import UsageQuery, to_csv
from gateway.apikeys import KeyCreate, key_view
from gateway.errors import AuthenticationFailed
from gateway.route_config import RouteSpec, route_view
from gateway.services import Services
from gateway.tenants import TenantCreate, TenantUpdate, tenant_view


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Allow an admin console session (already checked for role and CSRF by the console) or the admin token."""
    if connection.scope.get("paramgate.console_identity") is not None:
        return
    token = connection.app.state.services.settings.admin_token
    if token is None:
        raise AuthenticationFailed(
            "Admin token auth is off: set GATEWAY_ADMIN_TOKEN to use /admin/api with a bearer token.",
            code="admin_auth_required",
        )
    scheme, _, presented = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.get_secret_value().encode()
    ):
        raise AuthenticationFailed("Invalid admin token.", code="invalid_admin_token")


def record(services: Services, kind: str, subject: str, change: dict | None = None) -> None:
    """Append an admin action to the hash-chained audit log (never with key material)."""
    services.attestations.audit.append(kind, subject, {"actor": "admin-token", "change": change or {}})


class AdminApiController(Controller):
    """Tenants, their keys and their routes."""

    path = "/admin/api"
    guards = [admin_guard]
    tags = ["admin"]

    @get("/tenants", sync_to_thread=True)
    def list_tenants(self, services: NamedDependency[Services]) -> dict:
        return {"data": [tenant_view(t) for t in services.tenants.list()]}

    @post("/tenants", sync_to_thread=True)
    def create_tenant(self, services: NamedDependency[Services], data: JSONBody[TenantCreate]) -> dict:
        view = tenant_view(services.tenants.create(data))
        record(services, "tenant.create", f"tenant:{data.name}", msgspec.structs.asdict(data))
        return view

    @get("/tenants/{name:str}", sync_to_thread=True)
    def get_tenant(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return tenant_view(services.tenants.get(name))

    @patch("/tenants/{name:str}", sync_to_thread=True)
    def update_tenant(
        self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[TenantUpdate]
    ) -> dict:
        view = tenant_view(services.tenants.update(name, data))
        change = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        record(services, "tenant.update", f"tenant:{name}", change)
        return view

    @get("/tenants/{name:str}/keys", sync_to_thread=True)
    def list_keys(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return {"data": [key_view(k, name) for k in services.keys.list(name)]}

    @post("/tenants/{name:str}/keys", sync_to_thread=True)
    def create_key(
        self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[KeyCreate | None] = None
    ) -> dict:
        key, raw = services.keys.create(name, data)
        view = key_view(key, name)
        record(services, "key.create", f"key:{key.id}", {"tenant": name, "prefix": key.prefix})
        return {**view, "key": raw}

    @delete("/keys/{key_id:str}", status_code=200, sync_to_thread=True)
    def revoke_key(self, services: NamedDependency[Services], key_id: FromPath[str]) -> dict:
        key, tenant = services.keys.revoke(key_id)
        record(services, "key.revoke", f"key:{key_id}", {"tenant": tenant})
        return key_view(key, tenant)

    @get("/tenants/{name:str}/routes", sync_to_thread=True)
    def list_routes(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return {"data": [route_view(r) for r in services.routes.list(name)]}

    @put("/tenants/{name:str}/routes/{alias:str}", sync_to_thread=True)
    def put_route(
        self, services: NamedDependency[Services], name: FromPath[str], alias: FromPath[str], data: JSONBody[RouteSpec]
    ) -> dict:
        view = route_view(services.routes.put(name, alias, data))
        record(services, "route.put", f"tenant:{name}/route:{alias}", view)
        return view

    @delete("/tenants/{name:str}/routes/{alias:str}", status_code=204, sync_to_thread=True)
    def delete_route(self, services: NamedDependency[Services], name: FromPath[str], alias: FromPath[str]) -> None:
        services.routes.delete(name, alias)
        record(services, "route.delete", f"tenant:{name}/route:{alias}")

    @get("/backends")
    async def list_backends(self, services: NamedDependency[Services]) -> dict:
        report = services.pool.report()
        return {
            "data": [
                {"name": name, "kind": backend.kind, "models": list(backend.models), **report[name]}
                for name, backend in services.pool.backends.items()
            ]
        }

    @get("/tenants/{name:str}/guardrails", sync_to_thread=True)
    def get_guardrails(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return services.policies.get(name)

    @put("/tenants/{name:str}/guardrails", sync_to_thread=True)
    def put_guardrails(self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[dict]) -> dict:
        stored = services.policies.put(name, data)
        record(services, "guardrails.put", f"tenant:{name}", {"version": stored["version"]})
        return stored

    @get("/tenants/{name:str}/guardrails/versions", sync_to_thread=True)
    def guardrail_versions(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        """The tenant's stored policy versions, newest first (who saved each, and when)."""
        return {"data": [v | {"created_at": v["created_at"].isoformat()} for v in services.policies.history(name)]}

    @get("/usage", sync_to_thread=True)
    def usage(
        self,
        services: NamedDependency[Services],
        start: FromQuery[date],
        end: FromQuery[date],
        tenant: FromQuery[str | None] = None,
        group: FromQuery[Literal["daily", "requests"]] = "daily",
        format: FromQuery[Literal["json", "csv"]] = "json",
    ) -> Response:
        query = UsageQuery(start=start, end=end, tenant=tenant, group=group, format=format)
        rows = services.usage.rows(query)
        if format == "csv":
            filename = f"usage-{tenant or 'all'}-{start}-{end}.csv"
            return Response(
                to_csv(rows, group),
                media_type="text/csv",
                headers={"content-disposition": f'attachment; filename="{filename}"'},
            )
        return Response({"data": rows, "currency": services.prices.currency})

    @get("/prices", sync_to_thread=True)
    def list_prices(self, services: NamedDependency[Services]) -> dict:
        return {"data": [price_view(p) for p in services.price_admin.list()]}

    @put("/prices/{backend:str}/{model:path}", sync_to_thread=True)
    def put_price(
        self,
        services: NamedDependency[Services],
        backend: FromPath[str],
        model: FromPath[str],
        data: JSONBody[PriceSpec],
    ) -> dict:
        view = price_view(services.price_admin.put(backend, model.lstrip("/"), data))
        record(services, "price.put", f"price:{backend}/{view['model']}", msgspec.structs.asdict(data))
        return view

    @delete("/prices/{backend:str}/{model:path}", status_code=204, sync_to_thread=True)
    def delete_price(self, services: NamedDependency[Services], backend: FromPath[str], model: FromPath[str]) -> None:
        services.price_admin.delete(backend, model.lstrip("/"))
        record(services, "price.delete", f"price:{backend}/{model.lstrip('/')}")
