"""What a guardrail check returns: the rewritten text, flags, and possibly a block."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.guardrails.errors import CONTENT_POLICY_VIOLATION, GuardrailViolation, OutputBlocked
from gateway.guardrails.vault import Vault

Direction = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class Blocked:
    """Why a request or answer was refused. ``check`` is ``pii``, ``jailbreak``, ``toxicity`` or
    ``validator:<name>``; ``code`` is the OpenAI error code the client gets."""

    code: str
    message: str
    check: str
    direction: Direction = "input"

    def error(self) -> GuardrailViolation:
        """The exception to raise: a 400 ``content_policy_violation`` in OpenAI's error shape."""
        return OutputBlocked(self) if self.direction == "output" else GuardrailViolation(self)


def blocked(check: str, direction: Direction, message: str) -> Blocked:
    return Blocked(CONTENT_POLICY_VIOLATION, message, check, direction)


@dataclass(frozen=True, slots=True)
class Flag:
    """A check that fired with action ``flag`` (or ``append_disclaimer``); ``detail`` holds no user text."""

    check: str
    direction: Direction
    detail: str
    score: float | None = None


@dataclass(slots=True)
class InputVerdict:
    """Result of ``GuardrailEngine.check_input``.

    ``messages`` is what to send upstream (PII masked; the caller's list is never modified). When
    ``blocked`` is set, send nothing upstream: raise ``blocked.error()``. ``vault`` goes to
    ``output_filter``/``apply_output`` of the same request. ``degraded`` names checks that the
    policy asked for but that could not run fully here (e.g. the embedding classifier).
    """

    messages: list[dict[str, Any]]
    vault: Vault
    blocked: Blocked | None = None
    flags: list[Flag] = field(default_factory=list)
    masked: dict[str, int] = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    policy: tuple[str, int] = ("default", 1)
    blocked_text: str | None = None

    def raise_for_block(self) -> None:
        if self.blocked is not None:
            raise self.blocked.error()

    def audit(self) -> dict[str, Any]:
        """A JSON-able record for the audit log: policy version, outcome, counts; the blocked text only
        as a SHA-256 unless the policy's ``store_blocked_text`` allowed it in clear."""
        return _audit(self.policy, self.blocked, self.flags, self.masked, self.degraded, self.blocked_text)


@dataclass(slots=True)
class OutputVerdict:
    """Result of ``GuardrailEngine.apply_output`` for a whole (non-streamed) answer.

    ``text`` is what the client gets: placeholders restored (reversible policies), new PII masked,
    disclaimers appended. When ``blocked`` is set, answer with ``blocked.error()`` instead.
    """

    text: str
    blocked: Blocked | None = None
    flags: list[Flag] = field(default_factory=list)
    masked: dict[str, int] = field(default_factory=dict)
    disclaimers: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    policy: tuple[str, int] = ("default", 1)
    blocked_text: str | None = None

    def raise_for_block(self) -> None:
        if self.blocked is not None:
            raise self.blocked.error()

    def audit(self) -> dict[str, Any]:
        return _audit(self.policy, self.blocked, self.flags, self.masked, self.degraded, self.blocked_text)


def _audit(
    policy: tuple[str, int],
    block: Blocked | None,
    flags: list[Flag],
    masked: dict[str, int],
    degraded: list[str],
    blocked_text: str | None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "policy": policy[0],
        "policy_version": policy[1],
        "outcome": "blocked" if block else ("flagged" if flags else "passed"),
        "masked": dict(masked),
        "flags": [{"check": f.check, "direction": f.direction, "detail": f.detail, "score": f.score} for f in flags],
    }
    if degraded:
        record["degraded"] = list(degraded)
    if block is not None:
        record["blocked"] = {"check": block.check, "direction": block.direction, "code": block.code}
        if blocked_text is not None:
            record["blocked"]["text"] = blocked_text
    return record


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
