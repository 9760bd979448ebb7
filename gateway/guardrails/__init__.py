"""Guardrails: PII masking (Presidio + Turkish recognisers), jailbreak and toxicity checks, disclaimers,
on input and on output (streams included), per tenant policy.

A plain library: the request path builds one :class:`GuardrailEngine` per process and calls
``check_input`` / ``apply_output`` / ``output_filter`` with the tenant's :class:`GuardrailPolicy`.
Nothing heavy (presidio, torch) is imported until a check needs it or ``warm()`` is awaited.
"""

from gateway.guardrails.engine import AsyncOutputFilter, GuardrailEngine
from gateway.guardrails.errors import (
    CONTENT_POLICY_VIOLATION,
    GuardrailUnavailable,
    GuardrailViolation,
    OutputBlocked,
    PolicyError,
)
from gateway.guardrails.policy import (
    LEGAL_DISCLAIMER,
    MEDICAL_DISCLAIMER,
    GuardrailPolicy,
    InputChecks,
    JailbreakCheck,
    OutputChecks,
    PiiCheck,
    ToxicityCheck,
    ValidatorCheck,
    default_policy,
    domain_policy,
    policy_schema,
)
from gateway.guardrails.streaming import OutputFilter
from gateway.guardrails.vault import Vault
from gateway.guardrails.verdicts import Blocked, Flag, InputVerdict, OutputVerdict

__all__ = [
    "CONTENT_POLICY_VIOLATION",
    "LEGAL_DISCLAIMER",
    "MEDICAL_DISCLAIMER",
    "AsyncOutputFilter",
    "Blocked",
    "Flag",
    "GuardrailEngine",
    "GuardrailPolicy",
    "GuardrailUnavailable",
    "GuardrailViolation",
    "InputChecks",
    "InputVerdict",
    "JailbreakCheck",
    "OutputBlocked",
    "OutputChecks",
    "OutputFilter",
    "OutputVerdict",
    "PiiCheck",
    "PolicyError",
    "ToxicityCheck",
    "ValidatorCheck",
    "Vault",
    "default_policy",
    "domain_policy",
    "policy_schema",
]
