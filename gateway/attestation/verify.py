"""Verification: valid or not, and why.

Checks, in order, stopping at the first failure:

    malformed               not an attestation (or its header and payload name different keys)
    unknown_key             no key with that kid
    bad_signature           the Ed25519 signature does not match the signed bytes
    revoked_key             the signature is good but the key has been revoked (compromised)
    messages_hash_mismatch  ``messages`` given, and SHA-256(JCS(messages)) differs from the payload's
    output_hash_mismatch    ``output_text`` or ``completion`` given, and a choice's hash differs
    bad_timestamp           (service only) an attached RFC 3161 token does not cover the signature

``output_text`` is one string (checked against choice 0's ``content_sha256``) or one string per
choice; ``completion`` is a whole ``chat.completion`` body, checked choice by choice including
tool calls and finish reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature

from gateway.attestation.canonical import CanonicalizationError, format_time
from gateway.attestation.keys import PublicKeyInfo
from gateway.attestation.payload import Output, messages_sha256
from gateway.attestation.signer import Attestation, MalformedAttestation

__all__ = ["KeyLookup", "Reason", "Verdict", "verify_attestation"]

KeyLookup = Callable[[str], PublicKeyInfo | None]


class Reason(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    REVOKED_KEY = "revoked_key"
    MESSAGES_HASH_MISMATCH = "messages_hash_mismatch"
    OUTPUT_HASH_MISMATCH = "output_hash_mismatch"
    BAD_TIMESTAMP = "bad_timestamp"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome; ``checked`` lists what was compared (``signature``, ``messages``, ``output``)."""

    valid: bool
    reason: Reason | None
    detail: str
    kid: str | None = None
    key_status: str | None = None
    payload: dict[str, Any] | None = None
    checked: tuple[str, ...] = field(default_factory=tuple)
    timestamp: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason.value if self.reason else None,
            "detail": self.detail,
            "kid": self.kid,
            "key_status": self.key_status,
            "checked": list(self.checked),
            "timestamp": self.timestamp,
            "payload": self.payload,
        }


def _invalid(reason: Reason, detail: str, **known: Any) -> Verdict:
    return Verdict(False, reason, detail, **known)


def verify_attestation(
    attestation: Attestation | str | Mapping[str, Any],
    lookup: KeyLookup,
    *,
    signature: str | None = None,
    output_text: str | Sequence[str] | None = None,
    messages: Any = None,
    completion: Mapping[str, Any] | None = None,
) -> Verdict:
    """Verify either form (or a bare payload object plus ``signature``) against the keys ``lookup`` knows."""
    try:
        if signature is not None and isinstance(attestation, Mapping) and "payload" not in attestation:
            attestation = {"payload": attestation, "signature": signature}
        parsed = attestation if isinstance(attestation, Attestation) else Attestation.parse(attestation)
    except (MalformedAttestation, CanonicalizationError) as exc:
        return _invalid(Reason.MALFORMED, str(exc))
    payload, kid = parsed.payload, parsed.kid
    if payload.get("kid") != kid:
        return _invalid(Reason.MALFORMED, f"the header names key {kid} but the payload names {payload.get('kid')}")
    key = lookup(kid)
    if key is None:
        return _invalid(Reason.UNKNOWN_KEY, f"no signing key {kid}", kid=kid, payload=payload)
    known = {"kid": kid, "key_status": key.status, "payload": payload}
    try:
        key.public_key.verify(parsed.signature, parsed.signing_input())
    except (InvalidSignature, ValueError):
        return _invalid(Reason.BAD_SIGNATURE, "the signature does not match the signed payload", **known)
    checked = ["signature"]
    if key.revoked_at is not None:
        reason = f": {key.revocation_reason}" if key.revocation_reason else ""
        return _invalid(
            Reason.REVOKED_KEY,
            f"key {kid} was revoked at {format_time(key.revoked_at)}{reason}",
            checked=tuple(checked),
            **known,
        )
    if messages is not None:
        checked.append("messages")
        try:
            digest = messages_sha256(messages)
        except CanonicalizationError as exc:
            return _invalid(Reason.MESSAGES_HASH_MISMATCH, f"messages cannot be canonicalised: {exc}", **known)
        if digest != payload.get("messages_sha256"):
            return _invalid(
                Reason.MESSAGES_HASH_MISMATCH,
                "the messages do not hash to messages_sha256",
                checked=tuple(checked),
                **known,
            )
    if completion is not None or output_text is not None:
        checked.append("output")
        try:
            problem = _output_problem(payload, completion, output_text)
        except (AttributeError, TypeError, ValueError) as exc:
            return _invalid(Reason.MALFORMED, f"the output to check is not text or a chat.completion: {exc}", **known)
        if problem:
            return _invalid(Reason.OUTPUT_HASH_MISMATCH, problem, checked=tuple(checked), **known)
    return Verdict(True, None, "valid", checked=tuple(checked), **known)


def _output_problem(
    payload: Mapping[str, Any], completion: Mapping[str, Any] | None, output_text: str | Sequence[str] | None
) -> str | None:
    signed = payload.get("choices")
    if not isinstance(signed, list):
        return "the payload has no choices"
    if completion is not None:
        given = Output.from_completion(completion).digests()
        if len(given) != len(signed):
            return f"the completion has {len(given)} choices, the attestation {len(signed)}"
        for mine, theirs in zip(given, signed):
            if mine != theirs:
                fields = [k for k in mine if mine[k] != (theirs or {}).get(k)]
                return f"choice {mine['index']} differs in {', '.join(fields)}"
    if output_text is not None:
        texts = Output.from_texts(output_text).choices
        if not isinstance(output_text, str) and len(texts) != len(signed):
            return f"{len(texts)} output texts given for {len(signed)} choices"
        for choice in texts:
            theirs = signed[choice.index] if choice.index < len(signed) else {}
            if choice.content_sha256() != (theirs or {}).get("content_sha256"):
                return f"the output text of choice {choice.index} does not hash to its content_sha256"
    return None
