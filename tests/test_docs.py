"""The README documents every setting (a new setting without a line there fails this test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.adapters.settings import AdapterSettings
from gateway.attestation.settings import AttestationSettings
from gateway.console_settings import ConsoleSettings
from gateway.knowledge.settings import KnowledgeSettings
from gateway.responses.settings import ResponsesSettings
from gateway.settings import (
    BackendSettings,
    GuardrailSettings,
    LedgerSettings,
    LimitSettings,
    ModelPriceSettings,
    PricingSettings,
    ResilienceSettings,
    RoutingSettings,
    Settings,
)

README = (Path(__file__).parent.parent / "README.md").read_text()

FIELDS = (
    [
        f"`{name}`"
        for name in Settings.model_fields
        if name not in ("backends", "routing", "resilience", "limits", "pricing", "ledger", "attestation", "console", "guardrails", "responses", "adapters", "knowledge")
    ]
    + [f"`{name}`" for name in BackendSettings.model_fields]
    + [f"`routing.{name}`" for name in RoutingSettings.model_fields]
    + [f"`resilience.{name}`" for name in ResilienceSettings.model_fields]
    + [f"`limits.{name}`" for name in LimitSettings.model_fields]
    + [f"`pricing.{name}`" for name in PricingSettings.model_fields]
    + [f"`pricing.models.{name}`" for name in ModelPriceSettings.model_fields]
    + [f"`ledger.{name}`" for name in LedgerSettings.model_fields]
    + [f"`attestation.{name}`" for name in AttestationSettings.model_fields]
    + [f"`console.{name}`" for name in ConsoleSettings.model_fields]
    + [f"`guardrails.{name}`" for name in GuardrailSettings.model_fields]
    + [f"`responses.{name}`" for name in ResponsesSettings.model_fields]
    + [f"`adapters.{name}`" for name in AdapterSettings.model_fields]
    + [f"`knowledge.{name}`" for name in KnowledgeSettings.model_fields]
)


@pytest.mark.parametrize("field", FIELDS)
def test_every_setting_is_in_the_readme(field):
    assert f"| {field} |" in README, f"{field} is not in the README's configuration tables"


def test_the_readme_names_the_two_commands_that_ci_runs():
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "make run" in README and "make test" in README
    assert "make test" in ci
