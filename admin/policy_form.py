"""The guardrail policy editor's form: a stored policy as form values, and form values back into a policy.

Field names are the policy's own dotted paths (``input.jailbreak.threshold``), so the field a
``PolicyError`` names (its ``param``) is the field its message is shown next to. Checks the
form does not show (guardrails-ai validators, roles) are kept from the current version.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from admin.forms import Form, checkbox, every, first
from gateway.guardrails import GuardrailPolicy
from gateway.guardrails.errors import PolicyError
from gateway.guardrails.pii import KNOWN_ENTITIES

ENTITIES = tuple(sorted(KNOWN_ENTITIES))
ACTIONS = {
    "input.pii.action": ("mask", "block", "flag"),
    "input.jailbreak.action": ("block", "flag"),
    "input.toxicity.action": ("block", "flag"),
    "output.pii.action": ("mask", "block", "flag", "append_disclaimer"),
    "output.toxicity.action": ("block", "flag", "append_disclaimer"),
}
CHECKBOXES = (
    "input.pii.enabled",
    "input.jailbreak.enabled",
    "input.jailbreak.patterns",
    "input.jailbreak.classifier",
    "input.toxicity.enabled",
    "output.pii.enabled",
    "output.toxicity.enabled",
    "reversible_masking",
    "store_blocked_text",
)
NUMBERS = (
    "input.pii.score_threshold",
    "input.jailbreak.threshold",
    "input.toxicity.threshold",
    "output.pii.score_threshold",
    "output.toxicity.threshold",
)
TEXTS = ("output.pii.disclaimer", "output.toxicity.disclaimer")
LISTS = ("input.pii.entities", "output.pii.entities")
FIELDS = ("name", *CHECKBOXES, *NUMBERS, *TEXTS, *LISTS, *ACTIONS, "output.disclaimers")


def _get(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _number_text(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def policy_form(policy: Mapping[str, Any]) -> Form:
    """A stored policy (plain data) as the editor shows it."""
    values: dict[str, Any] = {"name": policy.get("name", "default")}
    for path in CHECKBOXES:
        values[path] = bool(_get(policy, path))
    for path in NUMBERS:
        values[path] = _number_text(_get(policy, path) or 0)
    for path in (*TEXTS, *ACTIONS):
        values[path] = _get(policy, path) or ""
    for path in LISTS:
        values[path] = list(_get(policy, path) or [])
    values["output.disclaimers"] = "\n".join(_get(policy, "output.disclaimers") or [])
    return Form(values)


def _error_field(param: str | None) -> str:
    """The form field a ``PolicyError``'s ``param`` belongs to."""
    if not param:
        return "name"
    if param in FIELDS:
        return param
    if param.startswith("output.disclaimers"):
        return "output.disclaimers"
    if f"{param}.enabled" in FIELDS:
        return f"{param}.enabled"
    return "name"


def parse_policy(data: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Form]:
    """The form's values laid over ``current`` and validated: ``(policy data, form)`` or ``(None, form)``."""
    form = Form()
    policy = copy.deepcopy(dict(current))
    policy.pop("version", None)
    name = first(data, "name")
    form.values["name"] = name
    policy["name"] = name
    for path in CHECKBOXES:
        form.values[path] = checkbox(data, path)
        _set(policy, path, form.values[path])
    for path in NUMBERS:
        raw = first(data, path)
        form.values[path] = raw
        try:
            number = float(raw.replace(",", "."))
            if number != number:
                raise ValueError
        except ValueError:
            form.error(path, "Enter a number between 0 and 1.")
            continue
        _set(policy, path, number)
    for path, choices in ACTIONS.items():
        action = first(data, path)
        form.values[path] = action
        if action not in choices:
            form.error(path, f"Choose one of: {', '.join(choices)}.")
            continue
        _set(policy, path, action)
    for path in TEXTS:
        text = first(data, path)
        form.values[path] = text
        _set(policy, path, text or None)
    for path in LISTS:
        chosen = [e for e in every(data, path) if e]
        form.values[path] = chosen
        unknown = [e for e in chosen if e not in KNOWN_ENTITIES]
        if unknown:
            form.error(path, f"Unknown entity {unknown[0]!r}.")
        _set(policy, path, chosen)
    raw_disclaimers = str(data.get("output.disclaimers") or "")
    form.values["output.disclaimers"] = raw_disclaimers
    _set(policy, "output.disclaimers", [line.strip() for line in raw_disclaimers.splitlines() if line.strip()])
    if not form.ok:
        return None, form
    try:
        GuardrailPolicy.from_dict(policy)
    except PolicyError as exc:
        form.error(_error_field(exc.param), exc.message)
        return None, form
    return policy, form
