"""Signing, and the two forms an attestation travels in.

Compact form (the ``x-attestation`` header): a JWS Compact Serialization (RFC 7515) with EdDSA
(RFC 8037), so any JOSE library verifies it with the key from ``GET /v1/attestation/keys``::

    BASE64URL(JCS(header)) "." BASE64URL(JCS(payload)) "." BASE64URL(Ed25519 signature)

    header = {"alg": "EdDSA", "kid": <kid>, "typ": "paramgate-attestation"}

The signature is Ed25519 over the ASCII bytes of the first two parts joined by ``"."`` (the
JWS signing input). BASE64URL is unpadded (RFC 7515 §2); JCS is RFC 8785.

Object form (the body field and the SSE event)::

    {"alg": "EdDSA", "kid": <kid>, "payload": {…}, "signature": BASE64URL(signature)}

To verify it, rebuild the signing input from ``kid`` and ``payload`` with JCS as above.
``GET /v1/attestations/{id}`` adds ``"timestamp_token"``: base64 of an RFC 3161 token over
SHA-256(signature bytes), when a TSA is configured and has answered.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gateway.attestation.canonical import canonicalize
from gateway.attestation.keys import SigningKey, b64url, b64url_decode

__all__ = ["ALG", "TYP", "Attestation", "MalformedAttestation", "Signer", "protected_header"]

ALG = "EdDSA"
TYP = "paramgate-attestation"


class MalformedAttestation(ValueError):
    """Not an attestation in either form."""


@lru_cache(maxsize=64)
def protected_header(kid: str) -> str:
    """BASE64URL(JCS(header)) for ``kid``."""
    return b64url(canonicalize({"alg": ALG, "kid": kid, "typ": TYP}))


@dataclass(frozen=True, slots=True)
class Attestation:
    """A signed payload. ``payload_bytes`` are the exact canonical bytes that were signed."""

    payload: dict[str, Any]
    payload_bytes: bytes
    signature: bytes
    kid: str
    token: str
    timestamp_token: bytes | None = None

    @property
    def request_id(self) -> str:
        return self.payload.get("request_id", "")

    def signing_input(self) -> bytes:
        return self.token.rsplit(".", 1)[0].encode("ascii")

    def compact(self) -> str:
        """The JWS compact form, for the ``x-attestation`` header."""
        return self.token

    def as_dict(self) -> dict[str, Any]:
        """The object form, for a response body field or an SSE event."""
        body: dict[str, Any] = {
            "alg": ALG,
            "kid": self.kid,
            "payload": self.payload,
            "signature": b64url(self.signature),
        }
        if self.timestamp_token is not None:
            body["timestamp_token"] = base64.b64encode(self.timestamp_token).decode("ascii")
        return body

    @classmethod
    def assemble(
        cls, payload_bytes: bytes, signature: bytes, kid: str, timestamp_token: bytes | None = None
    ) -> Attestation:
        token = f"{protected_header(kid)}.{b64url(payload_bytes)}.{b64url(signature)}"
        return cls(json.loads(payload_bytes), payload_bytes, signature, kid, token, timestamp_token)

    @classmethod
    def from_compact(cls, token: str) -> Attestation:
        """Parse the compact form (the signature is not checked here)."""
        parts = token.strip().split(".") if isinstance(token, str) else []
        if len(parts) != 3:
            raise MalformedAttestation("a compact attestation has three base64url parts separated by '.'")
        try:
            header = json.loads(b64url_decode(parts[0]))
            payload_bytes = b64url_decode(parts[1])
            payload = json.loads(payload_bytes)
            signature = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedAttestation(f"not base64url JSON: {exc}") from None
        if not isinstance(header, dict) or header.get("alg") != ALG or not isinstance(header.get("kid"), str):
            raise MalformedAttestation('the header must be {"alg": "EdDSA", "kid": …}')
        if not isinstance(payload, dict):
            raise MalformedAttestation("the payload must be a JSON object")
        return cls(payload, payload_bytes, signature, header["kid"], ".".join(parts))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attestation:
        """Parse the object form, rebuilding the canonical bytes (the signature is not checked here)."""
        payload, kid, signature = data.get("payload"), data.get("kid"), data.get("signature")
        if not isinstance(payload, dict) or not isinstance(signature, str):
            raise MalformedAttestation('the object form needs "payload" (an object) and "signature" (base64url)')
        if kid is None:
            kid = payload.get("kid")
        if not isinstance(kid, str) or data.get("alg", ALG) != ALG:
            raise MalformedAttestation('the object form needs "kid" and "alg": "EdDSA"')
        stamp = data.get("timestamp_token")
        try:
            signature_bytes = b64url_decode(signature)
            payload_bytes = canonicalize(payload)
            timestamp = base64.b64decode(stamp, validate=True) if isinstance(stamp, str) else None
        except ValueError as exc:
            raise MalformedAttestation(str(exc)) from None
        token = f"{protected_header(kid)}.{b64url(payload_bytes)}.{signature}"
        return cls(payload, payload_bytes, signature_bytes, kid, token, timestamp)

    @classmethod
    def parse(cls, value: str | Mapping[str, Any]) -> Attestation:
        """Either form."""
        if isinstance(value, str):
            return cls.from_compact(value)
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise MalformedAttestation("an attestation is a compact string or an object")


class Signer:
    """Signs payloads with one key (about 50 µs per signature)."""

    __slots__ = ("_header", "key")

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self._header = protected_header(key.kid)

    def sign(self, payload: Mapping[str, Any]) -> Attestation:
        payload_bytes = canonicalize(payload)
        signing_input = f"{self._header}.{b64url(payload_bytes)}"
        signature = self.key.private_key.sign(signing_input.encode("ascii"))
        return Attestation(
            dict(payload), payload_bytes, signature, self.key.kid, f"{signing_input}.{b64url(signature)}"
        )
