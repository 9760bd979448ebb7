"""Adapters: upload (errors next to the field), the registry, per-backend serving state with the
``max_loras`` warning, and per-tenant assignment with canary percentage, promote and rollback."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response, Template

from admin.audit_trail import record
from admin.auth import requires_role
from admin.forms import Form, first
from admin.services import ConsoleServices
from gateway.adapters.assignments import AssignSpec, CanarySpec
from gateway.adapters.registry import version_view
from gateway.api.adapters import register_upload
from gateway.errors import GatewayError, InvalidRequest

FormBody = URLEncodedBody[dict[str, Any]]
_UPLOAD_FIELDS = ("name", "base_model", "file")


def registry_context(console: ConsoleServices) -> dict[str, Any]:
    adapters = console.services.adapters
    usage = adapters.registry.usage()
    versions = [version_view(v, usage.get(v.id)) for v in adapters.registry.list()]
    return {"versions": versions, "sync": adapters.sync.report()}


def assignments_context(console: ConsoleServices, form: Form | None = None, focus: str = "") -> dict[str, Any]:
    adapters = console.services.adapters
    rows = [{**a, "figures": adapters.canary.figures(a["tenant_id"], a["alias"])} for a in adapters.assignments.list()]
    names = sorted({v.name for v in adapters.registry.list()})
    versions = [(v.name, v.version) for v in adapters.registry.list()]
    tenants = [t.name for t in console.services.tenants.list()]
    blank = Form({"tenant": "", "alias": "", "adapter": "", "version": "", "split_by": "request"})
    return {"assignments": rows, "adapter_names": names, "adapter_versions": versions, "tenant_names": tenants,
            "assign_form": form or blank, "focus": focus, "canary_form": Form()}  # fmt: skip


def upload_form(console: ConsoleServices, form: Form | None = None) -> dict[str, Any]:
    bases = sorted(console.services.adapters.registry.bases)
    return {"upload": form or Form({"name": "", "base_model": bases[0] if len(bases) == 1 else ""}), "bases": bases,
            "max_upload_bytes": console.services.settings.adapters.max_upload_bytes}  # fmt: skip


def _field_of(error: GatewayError) -> str:
    return error.param if error.param in _UPLOAD_FIELDS else "file"


def _number(raw: str, form: Form, field: str, low: float, high: float) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        form.error(field, f"a number from {low:g} to {high:g}")
        return None
    if not low <= value <= high:
        form.error(field, f"a number from {low:g} to {high:g}")
        return None
    return value


class AdaptersController(Controller):
    path = "/adapters"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def index(self, console: NamedDependency[ConsoleServices]) -> Template:
        context = {"active": "adapters", **registry_context(console), **assignments_context(console),
                   **upload_form(console)}  # fmt: skip
        return Template(template_name="adapters.html", context=context)

    @post("/", status_code=200, request_max_body_size=None)
    async def upload(self, console: NamedDependency[ConsoleServices], request: HTMXRequest) -> Response:
        registry = console.services.adapters.registry
        limit = console.services.settings.adapters.max_upload_bytes
        form = Form({"name": "", "base_model": ""})
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            form.error("file", f"The upload is larger than the limit of {limit:,} bytes.")
            return Template(template_name="_adapter_upload.html", status_code=422, context=upload_form(console, form))
        data = await request.form()
        form.values = {"name": first(data, "name"), "base_model": first(data, "base_model")}
        files = [f for f in data.getall("file") if isinstance(f, UploadFile) and f.filename] if "file" in data else []
        if not form.values["name"]:
            form.error("name", "Give the adapter a name.")
        if not files:
            form.error("file", "Choose an archive (.zip, .tar.gz) or the adapter's folder.")
        if form.ok:
            who = f"console:{request.user.login}"
            try:
                if len(files) == 1 and not files[0].filename.endswith(".json"):
                    version = await anyio.to_thread.run_sync(
                        register_upload, console.services.adapters, files[0], form.values["name"],
                        form.values["base_model"] or None, who,
                    )  # fmt: skip
                else:
                    parts = [(f.filename, f.file) for f in files]
                    version = await anyio.to_thread.run_sync(
                        registry.upload_files, parts, form.values["name"], form.values["base_model"] or None, who
                    )
            except GatewayError as error:
                form.error(_field_of(error), error.message)
            else:
                await anyio.to_thread.run_sync(
                    lambda: record(console, request.user, "adapter.upload", f"adapter:{version.served_name}",
                                   sha256=version.sha256, base_model=version.base_model, rank=version.rank)
                )  # fmt: skip
                return (
                    ClientRedirect("/admin/adapters") if request.htmx else Redirect("/admin/adapters", status_code=303)
                )
        return Template(template_name="_adapter_upload.html", status_code=422, context=upload_form(console, form))

    @delete("/{name:str}/{version:int}", status_code=200, sync_to_thread=True)
    def remove(
        self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str], version: FromPath[int]
    ) -> Template:
        row = console.services.adapters.registry.delete(name, version)
        record(console, request.user, "adapter.delete", f"adapter:{row.served_name}", sha256=row.sha256)
        return Template(template_name="_adapter_registry.html", context=registry_context(console))

    @post("/assignments", status_code=200, sync_to_thread=True)
    def assign(self, console: NamedDependency[ConsoleServices], request: Request, data: FormBody) -> Template:
        values = {k: first(data, k) for k in ("tenant", "alias", "adapter", "version", "split_by")}
        form = Form(values)
        for field, label in (("tenant", "a tenant"), ("alias", "a model alias"), ("adapter", "an adapter")):
            if not values[field]:
                form.error(field, f"Choose {label}.")
        if values["version"] and not values["version"].isdigit():
            form.error("version", "A version number, or empty for the newest.")
        if form.ok:
            version = int(values["version"]) if values["version"] else None
            split_by = values["split_by"] if values["split_by"] in ("request", "user") else None
            spec = AssignSpec(values["adapter"], version, split_by)
            try:
                view = console.services.adapters.assignments.assign(values["tenant"], values["alias"], spec)
            except GatewayError as error:
                form.error(error.param if error.param in values else "adapter", error.message)
            else:
                record(console, request.user, "adapter.assign", f"tenant:{view['tenant']}/adapter:{view['alias']}",
                       stable=view["stable"])  # fmt: skip
                return self._assignments(console, focus=f"{view['tenant']}/{view['alias']}")
        return self._assignments(console, form, status=422)

    @post("/assignments/{tenant:str}/{alias:str}/canary", status_code=200, sync_to_thread=True)
    def canary(
        self, console: NamedDependency[ConsoleServices], request: Request, tenant: FromPath[str], alias: FromPath[str],
        data: FormBody,
    ) -> Template:  # fmt: skip
        form = Form({"percent": first(data, "percent"), "canary": first(data, "canary")})
        percent = _number(form.values["percent"], form, f"percent:{tenant}/{alias}", 0, 100)
        adapter = version = None
        if form.values["canary"]:
            adapter, _, number = form.values["canary"].rpartition("@")
            version = int(number) if number.isdigit() else None
        if percent is not None:
            try:
                view = console.services.adapters.assignments.set_canary(
                    tenant, alias, CanarySpec(percent, adapter or None, version)
                )
            except InvalidRequest as error:
                form.error(f"percent:{tenant}/{alias}", error.message)
            else:
                record(console, request.user, "adapter.canary", f"tenant:{tenant}/adapter:{alias}",
                       canary=view["canary"], percent=view["canary_percent"])  # fmt: skip
                return self._assignments(console, focus=f"{tenant}/{alias}")
        return self._assignments(console, form, status=422, focus=f"{tenant}/{alias}")

    @post("/assignments/{tenant:str}/{alias:str}/promote", status_code=200, sync_to_thread=True)
    def promote(
        self, console: NamedDependency[ConsoleServices], request: Request, tenant: FromPath[str], alias: FromPath[str]
    ) -> Template:
        view = console.services.adapters.assignments.promote(tenant, alias)
        record(console, request.user, "adapter.promote", f"tenant:{tenant}/adapter:{alias}", stable=view["stable"])
        return self._assignments(console, focus=f"{tenant}/{alias}")

    @post("/assignments/{tenant:str}/{alias:str}/rollback", status_code=200, sync_to_thread=True)
    def rollback(
        self, console: NamedDependency[ConsoleServices], request: Request, tenant: FromPath[str], alias: FromPath[str]
    ) -> Template:
        view = console.services.adapters.assignments.rollback(tenant, alias, f"rolled back by {request.user.login}")
        record(console, request.user, "adapter.rollback", f"tenant:{tenant}/adapter:{alias}", canary=view["canary"],
               automatic=False)  # fmt: skip
        return self._assignments(console, focus=f"{tenant}/{alias}")

    def _assignments(self, console: ConsoleServices, form: Form | None = None, status: int = 200, focus: str = ""):
        context = {**assignments_context(console, form if form and "tenant" in form.values else None, focus)}
        context["canary_form"] = form if form and "percent" in form.values else Form()
        return Template(template_name="_adapter_assignments.html", status_code=status, context=context)
