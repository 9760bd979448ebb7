"""Prices per backend and model: what each one costs now (console override, config or default), edited here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Template

from admin.audit_trail import record
from admin.auth import requires_role
from admin.forms import Form, first
from admin.pagination import Page, offset, page_number
from admin.services import ConsoleServices
from gateway.accounting.price_admin import PriceSpec
from gateway.accounting.pricing import Price
from gateway.errors import InvalidRequest, NotFound

FormBody = URLEncodedBody[dict[str, Any]]
PRICE_FIELDS = ("input_per_million", "output_per_million", "per_gpu_second")
PRICE_LABELS = {
    "input_per_million": "Input / 1M tokens",
    "output_per_million": "Output / 1M tokens",
    "per_gpu_second": "Per GPU-second",
}
_MAX_PRICE = 1_000_000.0


def price_form(backend: str = "", model: str = "", price: Price | None = None) -> Form:
    price = price or Price()
    return Form({"backend": backend, "model": model, **{f: _text(getattr(price, f)) for f in PRICE_FIELDS}})


def _text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_price(data: Mapping[str, Any], backends: Mapping[str, Any]) -> tuple[tuple[str, str, PriceSpec] | None, Form]:
    """``(backend, model, spec)`` from the editor's fields, or ``None`` and the errors next to their fields."""
    form = Form()
    backend, model = first(data, "backend"), first(data, "model")
    form.values.update(backend=backend, model=model)
    if backend not in backends:
        form.error("backend", f"Choose a configured backend: {', '.join(sorted(backends))}.")
    if not model:
        form.error("model", "A model or adapter name is required ('*' for all of the backend's models).")
    elif len(model) > 256:
        form.error("model", "At most 256 characters.")
    values: dict[str, float] = {}
    for name in PRICE_FIELDS:
        raw = first(data, name).replace(",", ".")
        form.values[name] = raw
        try:
            number = float(raw or "0")
        except ValueError:
            form.error(name, "Enter a number (0 or more).")
            continue
        if not 0 <= number <= _MAX_PRICE:
            form.error(name, f"Enter a number between 0 and {_MAX_PRICE:,.0f}.")
            continue
        values[name] = number
    if not form.ok:
        return None, form
    return (backend, model, PriceSpec(**values)), form


def price_rows(console: ConsoleServices) -> list[dict[str, Any]]:
    """Every priced (backend, model) with its effective price and source, backends in config order."""
    book = console.services.prices
    stored = console.services.price_admin.list()
    overrides = {
        (p.backend, p.model): Price(p.input_per_million, p.output_per_million, p.per_gpu_second) for p in stored
    }
    rows = []
    for name, backend in console.services.pool.backends.items():
        models = {*backend.models, *book.configured_models(name), *(m for b, m in overrides if b == name)}
        for model in sorted(models, key=lambda m: (m != "*", m)):
            price, source = book.lookup(name, model, overrides)
            rows.append(
                {
                    "backend": name,
                    "kind": backend.kind,
                    "model": model,
                    "price": price,
                    "source": source,
                    "override": (name, model) in overrides,
                }
            )
    return rows


def prices_context(console: ConsoleServices, page: int, form: Form | None = None, saved: str = "") -> dict[str, Any]:
    rows = price_rows(console)
    size = console.settings.page_size
    page = min(page, max(1, -(-len(rows) // size)))
    return {
        "active": "prices",
        "listing": Page(rows[offset(page, size) : offset(page, size) + size], page, size, len(rows)),
        "price_form": form or price_form(),
        "price_fields": PRICE_FIELDS,
        "price_labels": PRICE_LABELS,
        "backends": list(console.services.pool.backends),
        "currency": console.services.prices.currency,
        "saved": saved,
    }


class PricesController(Controller):
    path = "/prices"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def index(
        self,
        console: NamedDependency[ConsoleServices],
        request: Request,
        page: FromQuery[int | None] = None,
        backend: FromQuery[str | None] = None,
        model: FromQuery[str | None] = None,
    ) -> Template:
        form = None
        if backend and model:
            form = price_form(backend, model, console.services.prices.lookup(backend, model)[0])
        context = prices_context(console, page_number(page), form)
        partial = request.headers.get("hx-target") == "prices"
        return Template(template_name="_prices.html" if partial else "prices.html", context=context)

    @post("/", status_code=200, sync_to_thread=True)
    def save(self, console: NamedDependency[ConsoleServices], request: Request, data: FormBody) -> Template:
        parsed, form = parse_price(data, console.services.pool.backends)
        page = page_number(first(data, "page"))
        if parsed is not None:
            backend, model, spec = parsed
            try:
                console.services.price_admin.put(backend, model, spec)
            except InvalidRequest as exc:
                form.error(exc.param or "model", exc.message)
            else:
                change = {f: getattr(spec, f) for f in PRICE_FIELDS}
                record(console, request.user, "price.put", f"price:{backend}/{model}", **change)
                return Template(
                    template_name="_prices.html", context=prices_context(console, page, saved=f"{backend} · {model}")
                )
        return Template(template_name="_prices.html", status_code=422, context=prices_context(console, page, form))

    @delete("/", status_code=200, sync_to_thread=True)
    def remove(
        self,
        console: NamedDependency[ConsoleServices],
        request: Request,
        backend: FromQuery[str],
        model: FromQuery[str],
        page: FromQuery[int | None] = None,
    ) -> Template:
        try:
            console.services.price_admin.delete(backend, model)
        except NotFound:
            pass  # already gone (a second click, another operator): show the list as it is
        else:
            record(console, request.user, "price.delete", f"price:{backend}/{model}")
        return Template(template_name="_prices.html", context=prices_context(console, page_number(page)))
