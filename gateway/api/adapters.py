"""``/admin/api/adapters`` and ``/admin/api/tenants/{name}/adapters``: the adapter registry and rollout.

Upload: ``POST /admin/api/adapters?name=NAME[&base_model=M]`` with a .zip / .tar / .tar.gz body,
or ``multipart/form-data`` with ``name``, ``base_model`` and one archive or the folder's files
as ``file`` parts. Bodies above ``[adapters] max_upload_bytes`` get 413 before they are read.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.adapters.assignments import AssignSpec, CanarySpec
from gateway.adapters.registry import version_view
from gateway.adapters.service import Adapters
from gateway.api.admin import admin_guard, record
from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.services import Services

_CHUNK = 1024 * 1024
_SETTLE_SECONDS = 10.0


def _adapters(services: Services) -> Adapters:
    return services.adapters


def uploader(request: Request) -> str:
    identity = request.scope.get("paramgate.console_identity")
    return f"console:{getattr(identity, 'login', identity)}" if identity is not None else "admin-token"


def with_figures(services: Services, view: dict[str, Any]) -> dict[str, Any]:
    """An assignment's view plus the canary monitor's live figures for it (this replica's)."""
    return {**view, "figures": services.adapters.canary.figures(view["tenant_id"], view["alias"])}


async def settled(services: Services, view: dict[str, Any]) -> dict[str, Any]:
    """Run one adapter sync now (so the answer comes once vLLM holds the adapters), then the view with
    figures and each vLLM backend's sync state; a sync slower than ``_SETTLE_SECONDS`` goes on in the loop."""
    adapters = _adapters(services)
    try:
        await asyncio.wait_for(asyncio.shield(adapters.sync.sync_all()), _SETTLE_SECONDS)
    except TimeoutError:
        pass
    return {**with_figures(services, view), "sync": adapters.sync.report()}


async def receive_upload(services: Services, request: Request, name: str | None, base_model: str | None,
                         filename: str | None) -> Any:  # fmt: skip
    """Store the request's upload (raw archive or multipart) and register it; the new ``AdapterVersion``."""
    adapters = _adapters(services)
    limit = services.settings.adapters.max_upload_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the upload is larger than max_upload_bytes ({limit} bytes)", param="file")
    who = uploader(request)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        if not length:
            raise InvalidRequest("a multipart upload needs a Content-Length header", param="file")
        form = await request.form()
        name = name or _text(form.get("name"))
        base_model = base_model or _text(form.get("base_model")) or None
        files = [f for f in form.getall("file") if isinstance(f, UploadFile) and f.filename] if "file" in form else []
        if not files:
            raise InvalidRequest("attach the adapter as 'file' (an archive, or every file of its folder)", param="file")
        try:
            if len(files) == 1 and not files[0].filename.endswith(".json"):
                return await asyncio.to_thread(register_upload, adapters, files[0], name or "", base_model, who)
            parts = [(f.filename or "unnamed", f.file) for f in files]
            return await asyncio.to_thread(adapters.registry.upload_files, parts, name or "", base_model, who)
        finally:
            for f in files:
                await f.close()
    with adapters.store.staging() as staging:
        target = staging / "upload"
        received = 0
        out = await asyncio.to_thread(target.open, "wb")
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise PayloadTooLarge(f"the upload is larger than max_upload_bytes ({limit} bytes)", param="file")
                await asyncio.to_thread(out.write, chunk)
        finally:
            await asyncio.to_thread(out.close)
        if received == 0:
            raise InvalidRequest("the request body is empty: send the adapter archive", param="file")
        return await asyncio.to_thread(
            adapters.registry.upload_archive, target, filename or "", name or "", base_model, who
        )


def register_upload(adapters: Adapters, upload: UploadFile, name: str, base_model: str | None, who: str) -> Any:
    """Copy one uploaded archive into the store's staging area and register it (blocking)."""
    with adapters.store.staging() as staging:
        target = staging / "upload"
        upload.file.seek(0)
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out, _CHUNK)
        return adapters.registry.upload_archive(target, upload.filename, name, base_model, who)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class AdaptersApiController(Controller):
    """LoRA adapters: registry, per-tenant assignment, canary, promote and rollback."""

    path = "/admin/api"
    guards = [admin_guard]
    tags = ["adapters"]

    @get("/adapters", sync_to_thread=True)
    def list_adapters(self, services: NamedDependency[Services]) -> dict:
        registry = _adapters(services).registry
        usage = registry.usage()
        return {"data": [version_view(v, usage.get(v.id)) for v in registry.list()]}

    @post("/adapters", status_code=201, request_max_body_size=None)
    async def upload_adapter(
        self,
        services: NamedDependency[Services],
        request: Request,
        name: FromQuery[str | None] = None,
        base_model: FromQuery[str | None] = None,
        filename: FromQuery[str | None] = None,
    ) -> dict:
        version = await receive_upload(services, request, name, base_model, filename)
        view = await asyncio.to_thread(_adapters(services).registry.view, version)
        change = {k: view[k] for k in ("served_name", "sha256", "base_model", "rank", "format", "size_bytes")}
        await asyncio.to_thread(record, services, "adapter.upload", f"adapter:{version.served_name}", change)
        return view

    @get("/adapters/sync")
    async def sync_report(self, services: NamedDependency[Services]) -> dict:
        return {"data": _adapters(services).sync.report()}

    @get("/adapters/{name:str}/{version:int}", sync_to_thread=True)
    def get_adapter(self, services: NamedDependency[Services], name: FromPath[str], version: FromPath[int]) -> dict:
        registry = _adapters(services).registry
        return registry.view(registry.get(name, version))

    @delete("/adapters/{name:str}/{version:int}", status_code=204, sync_to_thread=True)
    def delete_adapter(self, services: NamedDependency[Services], name: FromPath[str], version: FromPath[int]) -> None:
        row = _adapters(services).registry.delete(name, version)
        record(services, "adapter.delete", f"adapter:{row.served_name}", {"sha256": row.sha256})

    @get("/tenants/{name:str}/adapters", sync_to_thread=True)
    def list_assignments(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return {"data": [with_figures(services, v) for v in _adapters(services).assignments.list(name)]}

    @get("/tenants/{name:str}/adapters/{alias:str}", sync_to_thread=True)
    def get_assignment(self, services: NamedDependency[Services], name: FromPath[str], alias: FromPath[str]) -> dict:
        return with_figures(services, _adapters(services).assignments.get(name, alias))

    @put("/tenants/{name:str}/adapters/{alias:str}")
    async def assign(
        self, services: NamedDependency[Services], name: FromPath[str], alias: FromPath[str], data: JSONBody[AssignSpec]
    ) -> dict:
        view = await asyncio.to_thread(_adapters(services).assignments.assign, name, alias, data)
        await asyncio.to_thread(record, services, "adapter.assign", f"tenant:{name}/adapter:{alias}",
                                {"stable": view["stable"]})  # fmt: skip
        return await settled(services, view)

    @delete("/tenants/{name:str}/adapters/{alias:str}", status_code=204, sync_to_thread=True)
    def unassign(self, services: NamedDependency[Services], name: FromPath[str], alias: FromPath[str]) -> None:
        _adapters(services).assignments.unassign(name, alias)
        record(services, "adapter.unassign", f"tenant:{name}/adapter:{alias}")

    @put("/tenants/{name:str}/adapters/{alias:str}/canary")
    async def canary(
        self, services: NamedDependency[Services], name: FromPath[str], alias: FromPath[str], data: JSONBody[CanarySpec]
    ) -> dict:
        view = await asyncio.to_thread(_adapters(services).assignments.set_canary, name, alias, data)
        await asyncio.to_thread(record, services, "adapter.canary", f"tenant:{name}/adapter:{alias}",
                                {"canary": view["canary"], "percent": view["canary_percent"]})  # fmt: skip
        return await settled(services, view)

    @post("/tenants/{name:str}/adapters/{alias:str}/promote", status_code=200)
    async def promote(self, services: NamedDependency[Services], name: FromPath[str], alias: FromPath[str]) -> dict:
        view = await asyncio.to_thread(_adapters(services).assignments.promote, name, alias)
        await asyncio.to_thread(record, services, "adapter.promote", f"tenant:{name}/adapter:{alias}",
                                {"stable": view["stable"]})  # fmt: skip
        return await settled(services, view)

    @post("/tenants/{name:str}/adapters/{alias:str}/rollback", status_code=200, sync_to_thread=True)
    def rollback(self, services: NamedDependency[Services], name: FromPath[str], alias: FromPath[str]) -> dict:
        view = _adapters(services).assignments.rollback(name, alias, "rolled back by an operator")
        record(services, "adapter.rollback", f"tenant:{name}/adapter:{alias}",
               {"canary": view["canary"], "automatic": False})  # fmt: skip
        return with_figures(services, view)
