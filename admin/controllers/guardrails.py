"""A tenant's guardrail policy: the editor (every save is a new version) and its version history."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from admin.audit_trail import record
from admin.auth import requires_role
from admin.forms import Form
from admin.policy_form import ACTIONS, ENTITIES, VALIDATOR_ACTIONS, parse_policy, policy_form
from admin.services import ConsoleServices

FormBody = URLEncodedBody[dict[str, Any]]


def policy_context(
    console: ConsoleServices, name: str, form: Form | None = None, saved: bool = False
) -> dict[str, Any]:
    """What ``_policy_form.html`` shows: the form, the version in force and the history."""
    current = console.services.policies.get(name)
    return {
        "tenant_name": name,
        "policy_form": form or policy_form(current["policy"]),
        "policy": current,
        "history": console.services.policies.history(name),
        "entities": ENTITIES,
        "actions": ACTIONS,
        "validator_actions": VALIDATOR_ACTIONS,
        "guardrails_enabled": console.services.settings.guardrails.enabled,
        "policy_saved": saved,
    }


class GuardrailsController(Controller):
    path = "/tenants/{name:str}/guardrails"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def editor(self, console: NamedDependency[ConsoleServices], name: FromPath[str]) -> Template:
        return Template(template_name="_policy_form.html", context=policy_context(console, name))

    @post("/", status_code=200, sync_to_thread=True)
    def save(
        self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str], data: FormBody
    ) -> Template:
        current = console.services.policies.get(name)
        policy, form = parse_policy(data, current["policy"], validate=console.services.policies.validate)
        if policy is None:
            return Template(
                template_name="_policy_form.html", status_code=422, context=policy_context(console, name, form)
            )
        stored = console.services.policies.put(name, policy, actor=f"console:{request.user.login}")
        record(console, request.user, "guardrails.put", f"tenant:{name}", version=stored["version"])
        return Template(template_name="_policy_form.html", context=policy_context(console, name, saved=True))
