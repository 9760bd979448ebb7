"""Audit log (the request ledger and the hash-chained audit entries) and attestation verification."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, URLEncodedBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from admin.auth import requires_role
from admin.forms import Form, first
from admin.pagination import page_number
from admin.services import ConsoleServices

FormBody = URLEncodedBody[dict[str, Any]]
STATUSES = ("", "ok", "error", "fallback")


class AuditController(Controller):
    path = "/audit"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def index(
        self,
        console: NamedDependency[ConsoleServices],
        request: HTMXRequest,
        tab: FromQuery[str] = "requests",
        tenant: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        request_id: FromQuery[str | None] = None,
        backend: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
        subject: FromQuery[str | None] = None,
        page: FromQuery[int | None] = None,
    ) -> Template:
        tab = tab if tab in ("requests", "chain") else "requests"
        size = console.settings.page_size
        context: dict[str, Any] = {"active": "audit", "tab": tab, "attestation": console.attestations is not None}
        if tab == "requests":
            status = status if status in STATUSES else ""
            filters = {
                "tab": tab,
                "tenant": (tenant or "").strip(),
                "status": status,
                "request_id": (request_id or "").strip(),
                "backend": (backend or "").strip(),
            }
            listing = console.ledger.requests(
                page_number(page),
                size,
                filters["tenant"] or None,
                status or None,
                filters["request_id"] or None,
                filters["backend"] or None,
            )
            listing.params = filters
            context.update(
                listing=listing,
                filters=filters,
                statuses=STATUSES,
                tenant_names=[t.name for t in console.services.tenants.list()],
                backend_names=list(console.services.pool.backends),
            )
            partial = "_audit_requests.html"
        else:
            filters = {"tab": tab, "kind": (kind or "").strip(), "subject": (subject or "").strip()}
            listing, kinds = console.listings.audit(
                page_number(page), size, filters["kind"] or None, filters["subject"] or None
            )
            listing.params = filters
            context.update(listing=listing, filters=filters, kinds=kinds)
            partial = "_audit_chain.html"
        name = partial if request.htmx and request.htmx.target == "audit-list" else "audit.html"
        return Template(template_name=name, context=context)

    @post("/verify-chain", status_code=200)
    async def verify_chain(self, console: NamedDependency[ConsoleServices]) -> Template:
        attestations = console.attestations
        if attestations is None:
            return Template(template_name="_chain_verdict.html", context={"configured": False})
        broken = await anyio.to_thread.run_sync(lambda: attestations.verify_chain(signatures=True))
        return Template(template_name="_chain_verdict.html", context={"configured": True, "broken": broken})


def _parse_json(form: Form, name: str, raw: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        form.error(name, f"Not valid JSON: {exc}.")
        return None


def _stored_attestation(console: ConsoleServices, request_id: str) -> str | None:
    record = console.ledger.request(request_id)
    attestations = console.attestations
    if record is None or attestations is None:
        return None
    found = attestations.get(request_id, record["tenant_id"])
    return found.compact() if found is not None else None


class AttestationController(Controller):
    path = "/attestations"
    guards = [requires_role("admin")]

    @get("/verify", sync_to_thread=True)
    def form(self, console: NamedDependency[ConsoleServices], request_id: FromQuery[str | None] = None) -> Template:
        form = Form({"attestation": "", "output": "", "messages": "", "request_id": request_id or ""})
        if request_id:
            stored = _stored_attestation(console, request_id)
            if stored:
                form.values["attestation"] = stored
            elif console.attestations is not None:
                form.error("attestation", f"No attestation is stored for {request_id}.")
        return Template(
            template_name="verify.html",
            context={
                "active": "audit",
                "form": form,
                "configured": console.attestations is not None,
                "verdict": None,
            },
        )

    @post("/verify", status_code=200, sync_to_thread=True)
    def verify(self, console: NamedDependency[ConsoleServices], data: FormBody) -> Template:
        raw = first(data, "attestation")
        output = str(data.get("output") or "")
        form = Form(
            {
                "attestation": raw,
                "output": output,
                "messages": first(data, "messages"),
                "request_id": first(data, "request_id"),
            }
        )
        verdict = None
        attestations = console.attestations
        if attestations is None:
            form.error("attestation", "Attestation is not configured on this gateway.")
        elif not raw:
            form.error("attestation", "Paste an attestation (compact form or JSON).")
        attestation: Any = raw
        if raw.startswith("{"):
            attestation = _parse_json(form, "attestation", raw)
        messages = _parse_json(form, "messages", form.values["messages"])
        if messages is not None and not isinstance(messages, list):
            form.error("messages", "Messages are a JSON array of {role, content} objects.")
        if form.ok:
            verdict = attestations.verify(attestation, output_text=output or None, messages=messages).as_dict()
        context = {"active": "audit", "form": form, "configured": attestations is not None, "verdict": verdict}
        return Template(template_name="verify.html", status_code=200 if form.ok else 422, context=context)
