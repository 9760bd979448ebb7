"""Reading the console's forms: raw values kept for re-display, and one error message per field.

Each ``parse_*`` returns ``(spec, form)``: ``spec`` is the gateway's own request type when the
form is valid (``None`` otherwise) and ``form`` holds the values as typed and the errors,
so a template can show each message next to its field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import msgspec

from gateway.apikeys import KeyCreate
from gateway.route_config import RouteSpec, TargetSpec
from gateway.tenants import TenantCreate, TenantUpdate

LIMIT_FIELDS = ("rpm", "tps", "max_concurrency", "daily_tokens")
LIMIT_LABELS = {
    "rpm": "Requests / minute",
    "tps": "Tokens / second",
    "max_concurrency": "Concurrent requests",
    "daily_tokens": "Tokens / day",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_SUFFIXES = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
_ROWS = 3


@dataclass
class Form:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


def first(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def every(data: Mapping[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values]


def checkbox(data: Mapping[str, Any], name: str) -> bool:
    return first(data, name).lower() in ("on", "true", "1", "yes")


def parse_limit(raw: str) -> int | None:
    """``""`` → unlimited; ``"10,000"``, ``"10_000"``, ``"10k"``, ``"5M"`` → integers; ValueError otherwise."""
    text = raw.replace(",", "").replace("_", "").replace(" ", "")
    if not text:
        return None
    multiplier = _SUFFIXES.get(text[-1].lower(), 1)
    if multiplier != 1:
        text = text[:-1]
    if not text.isdigit():
        raise ValueError("a whole number of 0 or more, or empty for unlimited")
    return int(text) * multiplier


def _limits(data: Mapping[str, Any], form: Form) -> dict[str, int | None]:
    limits: dict[str, int | None] = {}
    for name in LIMIT_FIELDS:
        raw = first(data, name)
        form.values[name] = raw
        try:
            limits[name] = parse_limit(raw)
        except ValueError as exc:
            form.error(name, f"Enter {exc}.")
    return limits


def tenant_form(tenant: Any | None = None) -> Form:
    """The values of an existing tenant (or of a new one) as the form shows them."""
    if tenant is None:
        return Form({"name": "", **{f: "" for f in LIMIT_FIELDS}, "allow_default_models": True, "enabled": True})
    values = {f: "" if getattr(tenant, f) is None else str(getattr(tenant, f)) for f in LIMIT_FIELDS}
    return Form(
        {"name": tenant.name, **values, "allow_default_models": tenant.allow_default_models, "enabled": tenant.enabled}
    )


def parse_tenant_create(data: Mapping[str, Any]) -> tuple[TenantCreate | None, Form]:
    form = Form()
    name = first(data, "name")
    form.values["name"] = name
    if not name:
        form.error("name", "A name is required.")
    elif len(name) > 64:
        form.error("name", "At most 64 characters.")
    elif not _NAME.match(name):
        form.error("name", "Letters, digits, '.', '_' and '-' only, starting with a letter or digit.")
    limits = _limits(data, form)
    form.values["allow_default_models"] = checkbox(data, "allow_default_models")
    form.values["enabled"] = checkbox(data, "enabled")
    if not form.ok:
        return None, form
    spec = msgspec.convert(
        {
            "name": name,
            **limits,
            "allow_default_models": form.values["allow_default_models"],
            "enabled": form.values["enabled"],
        },
        TenantCreate,
    )
    return spec, form


def parse_tenant_limits(data: Mapping[str, Any]) -> tuple[TenantUpdate | None, Form]:
    form = Form()
    limits = _limits(data, form)
    form.values["allow_default_models"] = checkbox(data, "allow_default_models")
    if not form.ok:
        return None, form
    return msgspec.convert({**limits, "allow_default_models": form.values["allow_default_models"]}, TenantUpdate), form


def parse_key_create(data: Mapping[str, Any], today: date | None = None) -> tuple[KeyCreate | None, Form]:
    form = Form()
    name = first(data, "name")
    expires = first(data, "expires")
    form.values.update(name=name, expires=expires)
    if len(name) > 128:
        form.error("name", "At most 128 characters.")
    expires_at = None
    if expires:
        try:
            day = date.fromisoformat(expires)
        except ValueError:
            form.error("expires", "Enter a date as YYYY-MM-DD.")
        else:
            if day <= (today or datetime.now(UTC).date()):
                form.error("expires", "The expiry must be after today.")
            expires_at = datetime.combine(day, time.min, UTC)
    if not form.ok:
        return None, form
    return KeyCreate(name=name, expires_at=expires_at), form


def route_form(
    alias: str = "", targets: Iterable[Mapping[str, Any]] = (), fallback: Iterable[Mapping[str, Any]] = ()
) -> Form:
    """A route as the editor shows it, with blank rows to add targets."""

    def rows(items: Iterable[Mapping[str, Any]], blanks: int) -> list[dict[str, str]]:
        shown = [
            {"backend": t.get("backend", ""), "model": t.get("model") or "", "weight": _weight_text(t.get("weight", 1))}
            for t in items
        ]
        return shown + [{"backend": "", "model": "", "weight": "1"} for _ in range(max(blanks - len(shown), 1))]

    return Form({"alias": alias, "targets": rows(targets, _ROWS), "fallback": rows(fallback, 2)})


def _weight_text(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def parse_route(data: Mapping[str, Any], backends: Mapping[str, Any]) -> tuple[tuple[str, RouteSpec] | None, Form]:
    form = Form()
    alias = first(data, "alias")
    form.values["alias"] = alias
    if not alias:
        form.error("alias", "A model alias is required.")
    elif len(alias) > 128:
        form.error("alias", "At most 128 characters.")
    lists: dict[str, list[TargetSpec]] = {}
    for kind in ("targets", "fallback"):
        backends_in = every(data, f"{kind}_backend")
        models = every(data, f"{kind}_model")
        weights = every(data, f"{kind}_weight") if kind == "targets" else []
        rows, specs = [], []
        for i, backend in enumerate(backends_in):
            model = models[i] if i < len(models) else ""
            weight_text = weights[i] if i < len(weights) else "1"
            rows.append({"backend": backend, "model": model, "weight": weight_text or "1"})
            if not backend:
                continue
            if backend not in backends:
                form.error(f"{kind}.{i}.backend", f"Unknown backend; configured: {', '.join(sorted(backends))}.")
                continue
            try:
                weight = float(weight_text or "1")
                if weight < 0 or weight != weight:
                    raise ValueError
            except ValueError:
                form.error(f"{kind}.{i}.weight", "A number of 0 or more.")
                continue
            specs.append(TargetSpec(backend=backend, model=model or None, weight=weight))
        form.values[kind] = rows or [{"backend": "", "model": "", "weight": "1"}]
        lists[kind] = specs
    if not lists["targets"] and not any(k.startswith("targets.") for k in form.errors):
        form.error("targets", "Add at least one target.")
    elif lists["targets"] and not any(t.weight > 0 for t in lists["targets"]):
        form.error("targets", "At least one target needs a weight above 0.")
    if not form.ok:
        return None, form
    return (alias, RouteSpec(targets=lists["targets"], fallback=lists["fallback"])), form
