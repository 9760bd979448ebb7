"""The guardrail policy editor's form: a stored policy as form values, and form values back into a policy.

Field names are the policy's own dotted paths (``input.jailbreak.threshold``), so the field a
``PolicyError`` names (its ``param``) is the field its message is shown next to. guardrails-ai
validators are rows ``output.validators.<row>.name|args|action|disclaimer|remove`` (args as a JSON
object), plus one blank row per side to add one; a row's number is its place in the form, which
the policy's index is mapped back to. Checks the form does not show (roles) are kept from the
current version.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
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
VALIDATOR_ACTIONS = {"input": ("block", "flag"), "output": ("block", "flag", "append_disclaimer")}
_VALIDATOR_ROW = re.compile(r"^(input|output)\.validators\.(\d{1,4})\.name$")
_VALIDATOR_PARAM = re.compile(r"^(input|output)\.validators\.(\d+)(?:\.(name|args|action|disclaimer))?")


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
    for side in VALIDATOR_ACTIONS:
        values[f"{side}.validators"] = _validator_rows(_get(policy, f"{side}.validators") or [])
    return Form(values)


def _validator_rows(checks: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = [
        {
            "row": i,
            "name": check.get("name", ""),
            "args": json.dumps(check.get("args") or {}, ensure_ascii=False),
            "action": check.get("action", "block"),
            "disclaimer": check.get("disclaimer") or "",
            "remove": False,
            "new": False,
        }
        for i, check in enumerate(checks)
    ]
    return [*rows, _blank_row(len(rows))]


def _blank_row(row: int) -> dict[str, Any]:
    return {"row": row, "name": "", "args": "", "action": "block", "disclaimer": "", "remove": False, "new": True}


def _parse_validators(
    data: Mapping[str, Any], side: str, form: Form, current: list[Mapping[str, Any]]
) -> tuple[list[Any], list[int]]:
    """The side's validator rows: ``(checks, form row of each check)``; blank and removed rows are dropped.
    A form without any row for the side keeps ``current``."""
    rows_seen = sorted({int(m.group(2)) for key in data if (m := _VALIDATOR_ROW.match(key)) and m.group(1) == side})
    if not rows_seen:
        form.values[f"{side}.validators"] = _validator_rows(current)
        return list(current), list(range(len(current)))
    rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    where: list[int] = []
    for row in rows_seen:
        prefix = f"{side}.validators.{row}"
        values = {
            "row": row,
            "name": first(data, f"{prefix}.name"),
            "args": first(data, f"{prefix}.args"),
            "action": first(data, f"{prefix}.action") or "block",
            "disclaimer": first(data, f"{prefix}.disclaimer"),
            "remove": checkbox(data, f"{prefix}.remove"),
            "new": first(data, f"{prefix}.new") == "1",
        }
        rows.append(values)
        if values["remove"] or (not values["name"] and values["args"] in ("", "{}")):
            continue
        if not values["name"]:
            form.error(f"{prefix}.name", "Enter the validator's name, e.g. ban_list.")
        try:
            args = json.loads(values["args"] or "{}")
        except (ValueError, RecursionError):
            args = None
        if not isinstance(args, dict):
            form.error(f"{prefix}.args", 'Enter a JSON object, e.g. {"banned_words": ["Project Falcon"]}.')
        if values["action"] not in VALIDATOR_ACTIONS[side]:
            form.error(f"{prefix}.action", f"Choose one of: {', '.join(VALIDATOR_ACTIONS[side])}.")
        checks.append(
            {
                "name": values["name"],
                "args": args,
                "action": values["action"],
                "disclaimer": values["disclaimer"] or None,
            }
        )
        where.append(row)
    if not any(r["new"] for r in rows):
        rows.append(_blank_row(max(rows_seen, default=-1) + 1))
    form.values[f"{side}.validators"] = rows
    return checks, where


def _error_field(param: str | None, validator_rows: Mapping[str, list[int]]) -> str:
    """The form field a ``PolicyError``'s ``param`` belongs to."""
    if not param:
        return "name"
    found = _VALIDATOR_PARAM.match(param)
    if found:
        side, index, part = found.group(1), int(found.group(2)), found.group(3) or "name"
        rows = validator_rows.get(side, [])
        if index < len(rows):
            return f"{side}.validators.{rows[index]}.{part}"
    if param in FIELDS:
        return param
    if param.startswith("output.disclaimers"):
        return "output.disclaimers"
    if f"{param}.enabled" in FIELDS:
        return f"{param}.enabled"
    return "name"


def parse_policy(
    data: Mapping[str, Any],
    current: Mapping[str, Any],
    validate: Callable[[Any], Any] = GuardrailPolicy.from_dict,
) -> tuple[dict[str, Any] | None, Form]:
    """The form's values laid over ``current`` and checked by ``validate`` (which raises ``PolicyError``):
    ``(policy data, form)`` or ``(None, form)``."""
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
    validator_rows: dict[str, list[int]] = {}
    for side in VALIDATOR_ACTIONS:
        current_checks = _get(policy, f"{side}.validators") or []
        checks, validator_rows[side] = _parse_validators(data, side, form, current_checks)
        _set(policy, f"{side}.validators", checks)
    if not form.ok:
        return None, form
    try:
        validate(policy)
    except PolicyError as exc:
        form.error(_error_field(exc.param, validator_rows), exc.message)
        return None, form
    return policy, form
