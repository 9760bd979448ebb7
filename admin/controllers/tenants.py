"""Tenants: list, create, limits, enable/disable, routes and API keys (each section an htmx partial)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response, Template

from admin.audit_trail import record
from admin.auth import requires_role
from admin.controllers.guardrails import policy_context
from admin.forms import (
    LIMIT_FIELDS,
    LIMIT_LABELS,
    Form,
    checkbox,
    first,
    parse_key_create,
    parse_route,
    parse_tenant_create,
    parse_tenant_limits,
    route_form,
    tenant_form,
)
from admin.ledger_queries import month_first_day
from admin.pagination import Page, offset, page_number
from admin.services import ConsoleServices
from gateway.errors import Conflict, InvalidRequest
from gateway.route_config import route_view
from gateway.tenants import TenantUpdate

FormBody = URLEncodedBody[dict[str, Any]]


def _route_error_field(param: str | None) -> str:
    """``targets[1].backend`` (the API's ``param``) → ``targets.1.backend`` (the form's field name)."""
    if not param:
        return "alias"
    return param.replace("[", ".").replace("]", "")


def backend_models(console: ConsoleServices) -> dict[str, list[str]]:
    return {n: list(b.models) for n, b in console.services.pool.backends.items()}


def routes_context(console: ConsoleServices, name: str, page: int = 1) -> dict[str, Any]:
    """One page of the tenant's routes (a tenant has tens at most, so the page is cut in Python)."""
    views = [route_view(r) for r in console.services.routes.list(name)]
    size = console.settings.page_size
    page = min(page, max(1, -(-len(views) // size)))
    return {
        "tenant_name": name,
        "routes": Page(views[offset(page, size) : offset(page, size) + size], page, size, len(views)),
        "backends": backend_models(console),
    }


def keys_context(
    console: ConsoleServices, name: str, page: int, form: Form | None = None, issued: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "tenant_name": name,
        "keys": console.listings.keys(name, page, console.settings.page_size),
        "key_form": form or Form({"name": "", "expires": ""}),
        "issued": issued,
    }


def budget_context(console: ConsoleServices, tenant: Any, form: Form | None = None, saved: bool = False) -> dict:
    """What ``_budget_form.html`` shows: the budget, this month's spend (settled, from the ledger) and the form."""
    first_day = month_first_day(datetime.now(UTC))
    budget = tenant.monthly_budget
    return {
        "tenant": tenant,
        "budget_form": form or Form({"monthly_budget": "" if budget is None else f"{budget:g}"}),
        "budget_spent": console.services.ledger.spent_since(tenant.id, first_day),
        "budget_month": first_day,
        "currency": console.services.prices.currency,
        "budget_saved": saved,
    }


def parse_budget(data: dict[str, Any]) -> tuple[float | None, Form]:
    """``""`` → no budget; ``"250"``, ``"1,000.50"`` → a non-negative amount; anything else an error."""
    raw = first(data, "monthly_budget")
    form = Form({"monthly_budget": raw})
    text = raw.replace(",", "").replace("_", "").replace(" ", "")
    if not text:
        return None, form
    try:
        amount = float(text)
        if not 0 <= amount <= 1e12:
            raise ValueError
    except ValueError:
        form.error("monthly_budget", "Enter an amount of 0 or more (e.g. 250 or 1,000.50), or leave it empty for none.")
        return None, form
    return amount, form


class TenantsController(Controller):
    path = "/tenants"
    guards = [requires_role("admin")]

    # list and create

    @get("/", sync_to_thread=True)
    def index(
        self,
        console: NamedDependency[ConsoleServices],
        request: HTMXRequest,
        q: FromQuery[str | None] = None,
        page: FromQuery[int | None] = None,
    ) -> Template:
        listing = console.listings.tenants(page_number(page), console.settings.page_size, (q or "").strip() or None)
        context = {
            "active": "tenants",
            "listing": listing,
            "q": q or "",
            "form": tenant_form(),
            "limit_fields": LIMIT_FIELDS,
            "limit_labels": LIMIT_LABELS,
        }
        partial = request.htmx and request.htmx.target == "tenant-list"
        return Template(template_name="_tenant_rows.html" if partial else "tenants.html", context=context)

    @post("/", status_code=200, sync_to_thread=True)
    def create(self, console: NamedDependency[ConsoleServices], request: HTMXRequest, data: FormBody) -> Response:
        spec, form = parse_tenant_create(data)
        if spec is not None:
            try:
                tenant = console.services.tenants.create(spec)
            except Conflict:
                form.error("name", f"A tenant named {spec.name!r} already exists.")
            else:
                record(
                    console,
                    request.user,
                    "tenant.create",
                    f"tenant:{tenant.name}",
                    limits={f: getattr(tenant, f) for f in LIMIT_FIELDS},
                )
                target = f"/admin/tenants/{tenant.name}"
                return ClientRedirect(target) if request.htmx else Redirect(target, status_code=303)
        return Template(
            template_name="_tenant_create.html",
            status_code=422,
            context={"form": form, "limit_fields": LIMIT_FIELDS, "limit_labels": LIMIT_LABELS},
        )

    # one tenant

    @get("/{name:str}", sync_to_thread=True)
    def show(self, console: NamedDependency[ConsoleServices], name: FromPath[str]) -> Template:
        tenant = console.services.tenants.get(name)
        return Template(
            template_name="tenant.html",
            context={
                "active": "tenants",
                "tenant": tenant,
                "form": tenant_form(tenant),
                "limit_fields": LIMIT_FIELDS,
                "limit_labels": LIMIT_LABELS,
                "saved": False,
                **routes_context(console, name),
                **keys_context(console, name, 1),
                **policy_context(console, name),
                **budget_context(console, tenant),
            },
        )

    @post("/{name:str}/limits", status_code=200, sync_to_thread=True)
    def update_limits(
        self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str], data: FormBody
    ) -> Template:
        tenant = console.services.tenants.get(name)
        change, form = parse_tenant_limits(data)
        saved = False
        if change is not None:
            tenant = console.services.tenants.update(name, change)
            record(
                console,
                request.user,
                "tenant.update",
                f"tenant:{name}",
                limits={f: getattr(tenant, f) for f in LIMIT_FIELDS},
                allow_default_models=tenant.allow_default_models,
            )
            form, saved = tenant_form(tenant), True
        return Template(
            template_name="_limits_form.html",
            status_code=200 if form.ok else 422,
            context={
                "tenant": tenant,
                "form": form,
                "limit_fields": LIMIT_FIELDS,
                "limit_labels": LIMIT_LABELS,
                "saved": saved,
            },
        )

    @post("/{name:str}/budget", status_code=200, sync_to_thread=True)
    def update_budget(
        self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str], data: FormBody
    ) -> Template:
        tenant = console.services.tenants.get(name)
        amount, form = parse_budget(data)
        if not form.ok:
            return Template(
                template_name="_budget_form.html", status_code=422, context=budget_context(console, tenant, form)
            )
        tenant = console.services.tenants.update(name, TenantUpdate(monthly_budget=amount))
        record(console, request.user, "tenant.update", f"tenant:{name}", monthly_budget=amount)
        return Template(template_name="_budget_form.html", context=budget_context(console, tenant, saved=True))

    @post("/{name:str}/enabled", status_code=200, sync_to_thread=True)
    def set_enabled(
        self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str], data: FormBody
    ) -> Template:
        enabled = checkbox(data, "enabled")
        tenant = console.services.tenants.update(name, TenantUpdate(enabled=enabled))
        record(console, request.user, "tenant.update", f"tenant:{name}", enabled=enabled)
        return Template(template_name="_tenant_status.html", context={"tenant": tenant})

    # routes

    @get("/{name:str}/routes", sync_to_thread=True)
    def routes(
        self, console: NamedDependency[ConsoleServices], name: FromPath[str], page: FromQuery[int | None] = None
    ) -> Template:
        console.services.tenants.get(name)
        return Template(template_name="_routes.html", context=routes_context(console, name, page_number(page)))

    @get("/{name:str}/routes/editor", sync_to_thread=True)
    def route_editor(
        self, console: NamedDependency[ConsoleServices], name: FromPath[str], alias: FromQuery[str | None] = None
    ) -> Template:
        console.services.tenants.get(name)
        form = route_form()
        if alias:
            found = [r for r in console.services.routes.list(name) if r.alias == alias]
            if found:
                form = route_form(alias, found[0].targets, found[0].fallback)
        return Template(
            template_name="_route_form.html",
            context={
                "tenant_name": name,
                "form": form,
                "editing": bool(alias),
                "backends": backend_models(console),
            },
        )

    @post("/{name:str}/routes", status_code=200, sync_to_thread=True)
    def save_route(
        self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str], data: FormBody
    ) -> Template:
        console.services.tenants.get(name)
        parsed, form = parse_route(data, console.services.pool.backends)
        if parsed is not None:
            alias, spec = parsed
            try:
                route = console.services.routes.put(name, alias, spec)
            except (InvalidRequest, Conflict) as exc:
                form.error(_route_error_field(exc.param), exc.message)
            else:
                record(console, request.user, "route.put", f"tenant:{name}/route:{alias}", **route_view(route))
                return Template(template_name="_routes.html", context={**routes_context(console, name), "oob": True})
        return Template(
            template_name="_route_form.html",
            status_code=422,
            context={
                "tenant_name": name,
                "form": form,
                "editing": data.get("editing") == "1",
                "backends": backend_models(console),
            },
        )

    @delete("/{name:str}/routes/{alias:str}", status_code=200, sync_to_thread=True)
    def delete_route(
        self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str], alias: FromQuery[str]
    ) -> Template:
        console.services.routes.delete(name, alias)
        record(console, request.user, "route.delete", f"tenant:{name}/route:{alias}")
        return Template(template_name="_routes.html", context=routes_context(console, name))

    # keys

    @get("/{name:str}/keys", sync_to_thread=True)
    def keys(
        self, console: NamedDependency[ConsoleServices], name: FromPath[str], page: FromQuery[int | None] = None
    ) -> Template:
        return Template(template_name="_keys.html", context=keys_context(console, name, page_number(page)))

    @post("/{name:str}/keys", status_code=200, sync_to_thread=True)
    def issue_key(
        self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str], data: FormBody
    ) -> Template:
        console.services.tenants.get(name)
        spec, form = parse_key_create(data)
        issued = None
        if spec is not None:
            try:
                key, raw = console.services.keys.create(name, spec)
            except InvalidRequest as exc:
                form.error(exc.param or "name", exc.message)
            else:
                record(console, request.user, "key.create", f"key:{key.id}", tenant=name, prefix=key.prefix)
                issued = {"id": key.id, "key": raw, "name": key.name}
                form = Form({"name": "", "expires": ""})
        return Template(
            template_name="_keys.html",
            status_code=200 if form.ok else 422,
            context=keys_context(console, name, 1, form, issued),
        )


class KeysController(Controller):
    path = "/keys"
    guards = [requires_role("admin")]

    @post("/{key_id:str}/revoke", status_code=200, sync_to_thread=True)
    def revoke(
        self,
        console: NamedDependency[ConsoleServices],
        request: Request,
        key_id: FromPath[str],
        page: FromQuery[int | None] = None,
    ) -> Template:
        key, tenant = console.services.keys.revoke(key_id)
        record(console, request.user, "key.revoke", f"key:{key.id}", tenant=tenant)
        return Template(template_name="_keys.html", context=keys_context(console, tenant, page_number(page)))
