"""What the guardrails raise.

GatewayError (gateway.errors)
 ├── InvalidRequest                      400
 │    ├── PolicyError                    400 invalid_guardrail_policy  (``param`` names the field)
 │    └── GuardrailViolation             400 content_policy_violation  (``blocked`` says which check)
 │         └── OutputBlocked             raised by ``OutputFilter.feed``/``finish`` mid-stream
 └── GuardrailUnavailable                503 guardrail_unavailable     (a check the policy needs cannot run)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import GatewayError, InvalidRequest

if TYPE_CHECKING:
    from gateway.guardrails.verdicts import Blocked, OutputVerdict

CONTENT_POLICY_VIOLATION = "content_policy_violation"


class PolicyError(InvalidRequest):
    """A guardrail policy that cannot be used; ``param`` is the dotted path of the offending field."""

    code = "invalid_guardrail_policy"


class GuardrailViolation(InvalidRequest):
    """A request or answer refused by a guardrail; ``blocked`` carries the check and the reason."""

    code = CONTENT_POLICY_VIOLATION

    def __init__(self, blocked: Blocked) -> None:
        super().__init__(blocked.message, code=blocked.code)
        self.blocked = blocked


class OutputBlocked(GuardrailViolation):
    """An output guardrail blocked a stream after it started: end it with an error event, send nothing held back.

    ``verdict`` (an ``OutputVerdict``) says what the filter had done, for the audit log; ``blocked_text``
    is the offending text, or only its SHA-256 unless the policy's ``store_blocked_text`` allows it."""

    def __init__(
        self, blocked: Blocked, *, verdict: OutputVerdict | None = None, blocked_text: str | None = None
    ) -> None:
        super().__init__(blocked)
        self.verdict = verdict
        self.blocked_text = blocked_text


class GuardrailUnavailable(GatewayError):
    """A check the policy asks for cannot run here (its library is not installed); fails closed."""

    status = 503
    type = "api_error"
    code = "guardrail_unavailable"
