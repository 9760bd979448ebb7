"""Adding and removing real guardrails-ai validators in the console's policy editor.

Runs where guardrails-ai is installed (``make test`` runs it in ``.venv-guardrails-ai``); the form's
own errors (bad JSON, a validator this gateway lacks) are tested in test_policy_editor.py.
"""

from __future__ import annotations

import openai
import pytest

from tests.admin.harness import Console, ConsoleClient, field_error, soup
from tests.admin.test_policy_editor import admin, form_data  # noqa: F401 (admin: the signed-in fixture)
from tests.gateway.harness import wait_for

pytest.importorskip(
    "guardrails.validator_base",
    reason="guardrails-ai is not installed here: `make test` runs this module in .venv-guardrails-ai",
)

BANNED = '{"banned_words": ["Project Falcon"]}'


def blank_row(response, side: str) -> str:
    """The field prefix of the side's empty 'add a validator' row."""
    marker = soup(response).find(id=f"{side}-validators").find("input", attrs={"type": "hidden", "value": "1"})
    return marker["name"].removesuffix(".new")


def test_a_validator_added_in_the_editor_acts_on_requests_and_can_be_removed(console: Console, admin: ConsoleClient):
    page = admin.get("/admin/tenants/acme")
    row = blank_row(page, "input")
    data = form_data(page)
    data[f"{row}.name"] = ["ban_list"]
    data[f"{row}.args"] = [BANNED]
    saved = admin.htmx("POST", "/admin/tenants/acme/guardrails", data=data)
    assert saved.status_code == 200, saved.text
    stored = console.admin_api.get("/admin/api/tenants/acme/guardrails").json()
    assert stored["version"] == 1
    assert stored["policy"]["input"]["validators"] == [
        {"name": "ban_list", "args": {"banned_words": ["Project Falcon"]}, "action": "block", "disclaimer": None}
    ]
    shown = soup(saved).find(id="input-validators")
    assert shown.find("input", attrs={"name": "input.validators.0.name"})["value"] == "ban_list"

    client = console.openai(console.admin_api.post("/admin/api/tenants/acme/keys").json()["key"])
    tenant_id = console.services.tenants.get("acme").id
    assert wait_for(lambda: console.services.guard.policies.for_tenant(tenant_id)[0] == 1)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "Project Falcon budget?"}])
    assert caught.value.body["code"] == "content_policy_violation"

    data = form_data(saved)
    data["input.validators.0.remove"] = ["on"]
    removed = admin.htmx("POST", "/admin/tenants/acme/guardrails", data=data)
    assert removed.status_code == 200, removed.text
    stored = console.admin_api.get("/admin/api/tenants/acme/guardrails").json()
    assert stored["version"] == 2 and stored["policy"]["input"]["validators"] == []


def test_args_the_validator_refuses_are_shown_next_to_them(console: Console, admin: ConsoleClient):
    page = admin.get("/admin/tenants/acme")
    row = blank_row(page, "output")
    data = form_data(page)
    data[f"{row}.name"] = ["regex_match"]
    data[f"{row}.args"] = ['{"regex": "["}']
    refused = admin.htmx("POST", "/admin/tenants/acme/guardrails", data=data)
    assert refused.status_code == 422
    assert "unterminated character set" in field_error(refused, f"{row}.args")
    assert soup(refused).find("textarea", attrs={"name": f"{row}.args"}).get_text() == '{"regex": "["}'
    assert console.services.policies.get("acme")["version"] == 0
