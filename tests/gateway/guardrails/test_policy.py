"""Policies: GDPR/KVKK defaults, JSON round trip, and validation errors that name the field."""

from __future__ import annotations

import msgspec
import pytest

from gateway.errors import InvalidRequest
from gateway.guardrails import (
    MEDICAL_DISCLAIMER,
    GuardrailPolicy,
    PolicyError,
    default_policy,
    domain_policy,
    policy_schema,
)
from gateway.guardrails.policy import nested_repetition


def test_the_default_policy_masks_pii_on_input_and_blocks_jailbreaks():
    policy = default_policy()
    assert policy.input.pii.enabled and policy.input.pii.action == "mask"
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "TR_NATIONAL_ID", "CREDIT_CARD"} <= set(
        policy.input.pii.entities
    )
    assert policy.input.jailbreak.enabled and policy.input.jailbreak.action == "block"
    assert policy.input.jailbreak.patterns and not policy.input.jailbreak.classifier, "the classifier is opt-in"
    assert policy.output.pii.enabled and policy.output.pii.action == "mask"
    assert policy.reversible_masking is False  # one-way unless the tenant allows restoring
    assert policy.store_blocked_text is False
    assert policy.output.disclaimers == []


def test_a_policy_survives_a_json_round_trip_unchanged():
    policy = domain_policy("medical", version=7, reversible_masking=True)
    raw = policy.to_json()
    assert GuardrailPolicy.from_json(raw) == policy
    assert GuardrailPolicy.from_dict(msgspec.json.decode(raw)) == policy
    assert MEDICAL_DISCLAIMER in raw.decode()
    assert policy.output.disclaimers == ["Bu bilgiler tıbbi tavsiye yerine geçmez."]


def test_a_partial_policy_fills_in_the_defaults():
    policy = GuardrailPolicy.from_dict({"name": "legal", "input": {"jailbreak": {"threshold": 0.9}}})
    assert policy.input.jailbreak.threshold == 0.9
    assert policy.input.pii == default_policy().input.pii


@pytest.mark.parametrize(
    ("data", "param", "words"),
    [
        ({"input": {"jailbreak": {"threshold": 1.5}}}, "input.jailbreak.threshold", "between 0 and 1"),
        ({"output": {"toxicity": {"threshold": -0.1}}}, "output.toxicity.threshold", "between 0 and 1"),
        ({"input": {"pii": {"score_threshold": 2}}}, "input.pii.score_threshold", "between 0 and 1"),
        ({"input": {"pii": {"entities": ["EMAIL_ADDRESS", "SHOE_SIZE"]}}}, "input.pii.entities", "SHOE_SIZE"),
        ({"input": {"pii": {"entities": []}}}, "input.pii.entities", "at least one"),
        ({"input": {"pii": {"entities": ["URL", "URL"]}}}, "input.pii.entities", "twice"),
        ({"input": {"pii": {"action": "append_disclaimer", "disclaimer": "x"}}}, "input.pii.action", "output"),
        ({"input": {"pii": {"action": "shred"}}}, "input.pii.action", "shred"),
        ({"input": {"jailbreak": {"action": "mask"}}}, "input.jailbreak.action", "mask"),
        ({"output": {"pii": {"action": "append_disclaimer"}}}, "output.pii.disclaimer", "required"),
        ({"output": {"disclaimers": ["ok", "  "]}}, "output.disclaimers.1", "empty"),
        ({"output": {"disclaimers": ["x" * 1001]}}, "output.disclaimers.0", "longer than"),
        ({"output": {"validators": [{"name": "Regex Match"}]}}, "output.validators.0.name", "guardrails-ai"),
        ({"output": {"validators": [{"args": {}}]}}, "output.validators.0.name", "missing required field"),
        (
            {"output": {"validators": [{"name": "regex_match", "args": {"regex": "^(a+)+$"}}]}},
            "output.validators.0.args",
            "exponential time",
        ),
        (
            {"input": {"validators": [{"name": "x", "args": {"validation_endpoint": "https://example.com"}}]}},
            "input.validators.0.args",
            "nothing leaves it",
        ),
        ({"input": {"validators": [{"name": "x", "args": {"use_local": False}}]}}, "input.validators.0.args", "not"),
        (
            {"input": {"validators": [{"name": "x", "action": "append_disclaimer", "disclaimer": "d"}]}},
            "input.validators.0.action",
            "output",
        ),
        ({"input": {"jailbreak": {"patterns": False, "classifier": False}}}, "input.jailbreak", "neither"),
        ({"input": {"pii": {"enabled": False}}, "reversible_masking": True}, "reversible_masking", "input.pii"),
        ({"version": 0}, "version", "1 or more"),
        ({"name": " "}, "name", "empty"),
        ({"input": {"pii": {"colour": "red"}}}, "input.pii", "unknown field"),
        ({"input": {"jailbreak": {"roles": ["robot"]}}}, "input.jailbreak.roles.0", "robot"),
    ],
)
def test_invalid_policies_are_refused_with_the_field_named(data, param, words):
    with pytest.raises(PolicyError) as caught:
        GuardrailPolicy.from_dict(data)
    error = caught.value
    assert error.param == param
    assert words.lower() in error.message.lower()
    assert param in error.message
    assert isinstance(error, InvalidRequest) and error.status == 400 and error.code == "invalid_guardrail_policy"


def test_invalid_json_is_a_policy_error():
    with pytest.raises(PolicyError, match="not valid JSON"):
        GuardrailPolicy.from_json(b"{not json")


def test_constructing_an_invalid_policy_in_code_fails_too():
    with pytest.raises(PolicyError) as caught:
        default_policy().replace(version=-3)
    assert caught.value.param == "version"


def test_the_schema_documents_every_section():
    schema = policy_schema()
    defs = schema["$defs"]
    assert {"GuardrailPolicy", "InputChecks", "OutputChecks", "PiiCheck", "JailbreakCheck", "ToxicityCheck"} <= set(
        defs
    )
    assert "append_disclaimer" in defs["PiiCheck"]["properties"]["action"]["enum"]


@pytest.mark.parametrize(
    ("pattern", "nested"),
    [
        ("(a+)+b", True),
        ("(x*)*", True),
        ("(.*a){3}", True),
        ("(?=(a+)+)b", True),
        (r"^[A-Z][a-z]+$", False),
        (r"\d{3}-\d{4}", False),
        ("(ab)+", False),
        (r"[a-z]+@[a-z]+\.com", False),
        ("(", False),
    ],
)
def test_a_regex_that_repeats_a_repetition_is_recognised(pattern, nested):
    assert nested_repetition(pattern) is nested
