"""Attestation endpoints: fetch one (same tenant only), the public keys (JWKS), and verification."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from gateway.directory import Caller
from gateway.errors import NotFound
from gateway.services import Services


class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/attestations/verify``: an attestation (compact or object form) and what to check it against."""

    attestation: str | dict[str, Any]
    output: str | list[str] | None = None
    messages: list[Any] | None = None
    completion: dict[str, Any] | None = None


class AttestationController(Controller):
    """``/v1/attestations/{request_id}``, ``/v1/attestation/keys``, ``/v1/attestations/verify``."""

    path = "/v1"
    include_in_schema = False

    @get("/attestations/{request_id:str}", sync_to_thread=True)
    def get_attestation(
        self, request_id: FromPath[str], services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> dict:
        found = services.attestations.get(request_id, caller.tenant.id)
        if found is None:
            raise NotFound(f"No attestation for request '{request_id}'.", code="attestation_not_found")
        return {"object": "attestation", "request_id": request_id, **found.as_dict(), "compact": found.compact()}

    @get("/attestation/keys", sync_to_thread=True)
    def keys(self, services: NamedDependency[Services]) -> Response:
        return Response(
            msgspec.json.encode(services.attestations.jwks()),
            media_type="application/json",
            headers={"cache-control": "public, max-age=60"},
        )

    @post("/attestations/verify", status_code=200, sync_to_thread=True)
    def verify(self, data: JSONBody[VerifyRequest], services: NamedDependency[Services]) -> dict:
        verdict = services.attestations.verify(
            data.attestation, output_text=data.output, messages=data.messages, completion=data.completion
        )
        return verdict.as_dict()
