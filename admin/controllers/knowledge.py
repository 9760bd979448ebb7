"""Knowledge: a tenant's documents (upload, delete, re-index with progress), retrieval settings, and intents."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from admin.audit_trail import record
from admin.auth import requires_role
from admin.forms import Form, checkbox, first
from admin.services import ConsoleServices
from gateway.errors import GatewayError
from gateway.knowledge.tenant_config import IntentSpec, IntentsSpec, KnowledgeSettingsSpec, seed_spec
from gateway.knowledge.seed_intents import SEED_TARGETS

FormBody = URLEncodedBody[dict[str, Any]]
_SETTING_FIELDS = ("top_k", "threshold", "token_budget")


def settings_form(console: ConsoleServices, tenant: str, form: Form | None = None, saved: bool = False) -> dict:
    current = console.services.knowledge.config.get_settings(tenant)
    values = {k: str(current[k]) for k in _SETTING_FIELDS} | {"rag_enabled": current["rag_enabled"]}
    return {"tenant_name": tenant, "settings_form": form or Form(values), "settings_saved": saved}


def documents_context(console: ConsoleServices, tenant: str, upload: Form | None = None) -> dict:
    knowledge = console.services.knowledge
    jobs = knowledge.documents.jobs(tenant, limit=1)
    return {
        "tenant_name": tenant,
        "documents": knowledge.documents.list(tenant),
        "upload": upload or Form(),
        "job": jobs[0] if jobs else None,
        "max_document_bytes": knowledge.settings.max_document_bytes,
    }


def intents_context(console: ConsoleServices, tenant: str, form: Form | None = None, saved: bool = False) -> dict:
    knowledge = console.services.knowledge
    view = knowledge.config.get_intents(tenant)
    if form is None:
        values: dict[str, Any] = {"fallback": view["fallback"] or "", "threshold": str(view["threshold"])}
        for index, intent in enumerate([*view["intents"], {"name": "", "target": "", "examples": []}]):
            values[f"intents.{index}.name"] = intent["name"]
            values[f"intents.{index}.target"] = intent["target"]
            values[f"intents.{index}.examples"] = "\n".join(intent["examples"])
        form = Form(values)
    rows = sorted({int(k.split(".")[1]) for k in form.values if k.startswith("intents.") and k.split(".")[1].isdigit()})
    aliases = sorted(knowledge.config.allowed_aliases(tenant))
    return {"tenant_name": tenant, "intent_form": form, "intent_rows": rows, "aliases": aliases,
            "intent_alias": view["alias"], "intents_saved": saved, "seed_targets": SEED_TARGETS}  # fmt: skip


def parse_intents(data: dict[str, Any]) -> tuple[Form, IntentsSpec | None]:
    values = {k: first(data, k) for k in data if k.startswith("intents.") or k in ("fallback", "threshold")}
    form = Form(values)
    intents = []
    rows = sorted({int(k.split(".")[1]) for k in values if k.startswith("intents.") and k.split(".")[1].isdigit()})
    for row in rows:
        name = values.get(f"intents.{row}.name", "")
        examples = [line.strip() for line in values.get(f"intents.{row}.examples", "").splitlines() if line.strip()]
        if not name and not examples:
            continue
        if not name:
            form.error(f"intents.{row}.name", "Name this intent (letters, digits, _ . -).")
            continue
        intents.append(IntentSpec(name, values.get(f"intents.{row}.target", ""), examples))
    threshold = None
    if values.get("threshold"):
        try:
            threshold = float(values["threshold"])
            if not 0 <= threshold <= 1:
                raise ValueError
        except ValueError:
            form.error("threshold", "A number from 0 to 1 (0.7 is a good start).")
    if not form.ok:
        return form, None
    try:
        spec = msgspec.convert(
            {"intents": [msgspec.structs.asdict(i) for i in intents], "fallback": values.get("fallback") or None,
             "threshold": threshold}, IntentsSpec)  # fmt: skip
    except msgspec.ValidationError as error:
        form.error(_field_of_validation(str(error), rows), str(error))
        return form, None
    return form, spec


def _field_of_validation(message: str, rows: list[int]) -> str:
    """``... - at `$.intents[1].name``` → ``intents.<row>.name`` (rows as the form numbered them)."""
    if "$.intents[" in message:
        index = int(message.split("$.intents[")[1].split("]")[0])
        key = message.split("]")[1].lstrip(".").rstrip("`") or "name"
        return f"intents.{rows[index] if index < len(rows) else index}.{key}"
    return "fallback"


def _form_field(param: str | None, rows: list[int]) -> str:
    """The API's ``intents[0].examples`` → the form's ``intents.<row>.examples``."""
    if param and param.startswith("intents["):
        index = int(param[len("intents[") :].split("]")[0])
        key = param.split("].", 1)[1] if "]." in param else "name"
        return f"intents.{rows[index] if index < len(rows) else index}.{key}"
    return param if param in ("fallback", "threshold") else "fallback"


class KnowledgeController(Controller):
    path = "/knowledge"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def index(self, console: NamedDependency[ConsoleServices], tenant: FromQuery[str | None] = None) -> Response:
        names = [t.name for t in console.services.tenants.list()]
        if not names:
            return Template(template_name="knowledge.html", context={"active": "knowledge", "tenant_names": []})
        if tenant not in names:
            return Redirect(f"/admin/knowledge?tenant={names[0]}", status_code=303)
        context = {"active": "knowledge", "tenant_names": names, **settings_form(console, tenant),
                   **documents_context(console, tenant), **intents_context(console, tenant)}  # fmt: skip
        return Template(template_name="knowledge.html", context=context)

    @post("/{tenant:str}/settings", status_code=200, sync_to_thread=True)
    def save_settings(
        self, console: NamedDependency[ConsoleServices], request: Request, tenant: FromPath[str], data: FormBody
    ) -> Template:
        values = {k: first(data, k) for k in _SETTING_FIELDS} | {"rag_enabled": checkbox(data, "rag_enabled")}
        form = Form(values)
        parsed: dict[str, Any] = {"rag_enabled": values["rag_enabled"]}
        for field, kind, low, high in (
            ("top_k", int, 1, 50),
            ("threshold", float, -1, 1),
            ("token_budget", int, 16, 100_000),
        ):
            try:
                parsed[field] = kind(values[field])
                if not low <= parsed[field] <= high:
                    raise ValueError
            except ValueError:
                form.error(field, f"{'A whole number' if kind is int else 'A number'} from {low} to {high}.")
        if not form.ok:
            return Template(template_name="_knowledge_settings.html", status_code=422,
                            context=settings_form(console, tenant, form))  # fmt: skip
        view = console.services.knowledge.config.put_settings(tenant, KnowledgeSettingsSpec(**parsed))
        record(console, request.user, "knowledge.settings", f"tenant:{tenant}", **view)
        return Template(template_name="_knowledge_settings.html", context=settings_form(console, tenant, saved=True))

    @post("/{tenant:str}/documents", status_code=200)
    async def upload(
        self, console: NamedDependency[ConsoleServices], request: HTMXRequest, tenant: FromPath[str]
    ) -> Response:
        documents = console.services.knowledge.documents
        form = Form()
        data = await request.form()
        upload = data.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            form.error("file", "Choose a document (.txt, .md or .pdf).")
        else:
            content = await upload.read()
            try:
                view, created = await anyio.to_thread.run_sync(
                    documents.upload, tenant, upload.filename, content, upload.content_type
                )
            except GatewayError as error:
                form.error("file", error.message)
            else:
                if created:
                    await anyio.to_thread.run_sync(
                        lambda: record(console, request.user, "knowledge.upload",
                                       f"tenant:{tenant}/document:{view['id']}", sha256=view["sha256"])
                    )  # fmt: skip
                else:
                    form.error("file", f"This document is already in the collection as {view['name']!r}.")
        context = await anyio.to_thread.run_sync(documents_context, console, tenant, form)
        return Template(template_name="_knowledge_documents.html", status_code=200 if form.ok else 422, context=context)

    @delete("/{tenant:str}/documents/{document_id:int}", status_code=200, sync_to_thread=True)
    def remove(
        self,
        console: NamedDependency[ConsoleServices],
        request: Request,
        tenant: FromPath[str],
        document_id: FromPath[int],
    ) -> Template:
        view = console.services.knowledge.documents.delete(tenant, document_id)
        record(
            console, request.user, "knowledge.delete", f"tenant:{tenant}/document:{document_id}", sha256=view["sha256"]
        )
        return Template(template_name="_knowledge_documents.html", context=documents_context(console, tenant))

    @post("/{tenant:str}/reindex", status_code=200)
    async def reindex(
        self, console: NamedDependency[ConsoleServices], request: Request, tenant: FromPath[str]
    ) -> Template:
        try:
            job = await console.services.knowledge.documents.reindex(tenant)
        except GatewayError as error:
            return Template(template_name="_knowledge_job.html", status_code=409,
                            context={"tenant_name": tenant, "job": None, "job_error": error.message})  # fmt: skip
        await anyio.to_thread.run_sync(
            lambda: record(console, request.user, "knowledge.reindex", f"tenant:{tenant}/job:{job['id']}")
        )
        return Template(template_name="_knowledge_job.html", context={"tenant_name": tenant, "job": job})

    @get("/{tenant:str}/jobs/{job_id:int}", sync_to_thread=True)
    def job(self, console: NamedDependency[ConsoleServices], tenant: FromPath[str], job_id: FromPath[int]) -> Template:
        job = console.services.knowledge.documents.job(tenant, job_id)
        return Template(template_name="_knowledge_job.html", context={"tenant_name": tenant, "job": job})

    @post("/{tenant:str}/intents", status_code=200, sync_to_thread=True)
    def save_intents(
        self, console: NamedDependency[ConsoleServices], request: Request, tenant: FromPath[str], data: FormBody
    ) -> Template:
        form, spec = parse_intents(data)
        if spec is not None:
            try:
                view = console.services.knowledge.config.put_intents(tenant, spec)
            except GatewayError as error:
                rows = sorted({int(k.split(".")[1]) for k in form.values if k.startswith("intents.")
                               and k.split(".")[1].isdigit() and form.values.get(f"intents.{k.split('.')[1]}.name")})  # fmt: skip
                form.error(_form_field(error.param, rows), error.message)
            else:
                record(console, request.user, "intents.put", f"tenant:{tenant}", intents=len(view["intents"]),
                       fallback=view["fallback"])  # fmt: skip
                return Template(template_name="_intents.html", context=intents_context(console, tenant, saved=True))
        return Template(template_name="_intents.html", status_code=422, context=intents_context(console, tenant, form))

    @post("/{tenant:str}/intents/seed", status_code=200, sync_to_thread=True)
    def seed(
        self, console: NamedDependency[ConsoleServices], request: Request, tenant: FromPath[str], data: FormBody
    ) -> Template:
        targets = {name: first(data, f"seed.{name}") for name in SEED_TARGETS}
        fallback = first(data, "fallback")
        try:
            console.services.knowledge.config.put_intents(tenant, seed_spec(targets, fallback))
        except GatewayError as error:
            context = intents_context(console, tenant)
            context["intent_form"].error("seed", error.message)
            return Template(template_name="_intents.html", status_code=422, context=context)
        record(console, request.user, "intents.seed", f"tenant:{tenant}", fallback=fallback)
        return Template(template_name="_intents.html", context=intents_context(console, tenant, saved=True))


def router_panel(console: ConsoleServices, window: str, tenant: str | None) -> dict[str, Any]:
    """The dashboard's intent-router panel: how often each expert was chosen, and a confidence histogram."""
    from datetime import UTC, datetime, timedelta

    from admin.ledger_queries import RANGES
    from gateway.knowledge.decisions import summarise

    bucket, buckets = RANGES.get(window, RANGES["24h"])
    since = datetime.now(UTC) - timedelta(seconds=bucket * buckets)
    tenant_id = None
    if tenant:
        tenant_id = next((t.id for t in console.services.tenants.list() if t.name == tenant), -1)
    summary = summarise(console.services.db, since, tenant_id)
    top = max([count for _, count, _ in summary.by_target] + [1])
    peak = max(summary.histogram + [1])
    return {
        "total": summary.total,
        "fell_back": summary.fell_back,
        "targets": [{"name": name, "count": count, "fell_back": fb, "width": round(100 * count / top)}
                    for name, count, fb in summary.by_target],  # fmt: skip
        "histogram": [{"label": f"{i / 10:.1f}–{(i + 1) / 10:.1f}", "count": c, "height": round(100 * c / peak)}
                      for i, c in enumerate(summary.histogram)],  # fmt: skip
    }
