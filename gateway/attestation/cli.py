"""Command-line functions, ready to be wired into ``gateway``'s parser with ``register``.

    gateway attest verify FILE [--jwks JWKS_FILE]   exit 0 valid, 1 invalid, 2 unreadable
    gateway attest keys list
    gateway attest keys rotate
    gateway attest keys revoke KID [--reason TEXT]
    gateway audit verify [--signatures]             exit 0 intact, 1 broken

``FILE`` (UTF-8) is any of:
  1. ``{"attestation": <compact string or object form>, "output": "text" | ["text", …],
     "messages": [...], "completion": {chat.completion body}}`` (all but ``attestation`` optional);
  2. a ``chat.completion`` body with an ``"attestation"`` field (object form): its choices are
     checked as the output;
  3. the object form itself (``{"alg", "kid", "payload", "signature"}``);
  4. the compact form alone (the ``x-attestation`` header's value).
Keys come from the gateway's database (so revocations count) or, with ``--jwks``, from a saved
``GET /v1/attestation/keys`` document (offline; a key's ``"status": "revoked"`` counts).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from gateway.attestation.keys import PublicKeyInfo, b64url_decode
from gateway.attestation.service import AttestationService
from gateway.attestation.verify import KeyLookup, Verdict, verify_attestation

__all__ = [
    "attest_verify",
    "audit_verify",
    "keys_list",
    "keys_revoke",
    "keys_rotate",
    "read_verification_file",
    "register",
]


def read_verification_file(path: str | Path) -> dict[str, Any]:
    """The file as keyword arguments for ``verify``: ``attestation`` plus any of ``output_text``, ``messages``, ``completion``."""
    text = Path(path).read_text(encoding="utf-8").strip()
    if not text.startswith("{"):
        return {"attestation": text}
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected a JSON object or a compact attestation")
    if "payload" in data and "signature" in data:
        return {"attestation": data}
    if "choices" in data and isinstance(data.get("attestation"), dict):
        completion = {k: v for k, v in data.items() if k != "attestation"}
        return {"attestation": data["attestation"], "completion": completion}
    if "attestation" not in data:
        raise ValueError(f'{path}: no "attestation" in the file')
    found: dict[str, Any] = {"attestation": data["attestation"]}
    for source, target in (("output", "output_text"), ("messages", "messages"), ("completion", "completion")):
        if data.get(source) is not None:
            found[target] = data[source]
    return found


def jwks_lookup(jwks: Mapping[str, Any]) -> KeyLookup:
    """Key lookup from a JWK Set (``status``/``revoked`` members honoured)."""
    keys: dict[str, PublicKeyInfo] = {}
    for jwk in jwks.get("keys", ()):
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "kid" not in jwk:
            continue
        revoked = jwk.get("revoked")
        revoked_at = (
            datetime.fromtimestamp(revoked, UTC)
            if isinstance(revoked, (int, float))
            else datetime.now(UTC)
            if jwk.get("status") == "revoked"
            else None
        )
        created = datetime.fromtimestamp(jwk.get("created", 0), UTC)
        keys[jwk["kid"]] = PublicKeyInfo(jwk["kid"], b64url_decode(jwk["x"]), created, None, revoked_at, "")
    return keys.get


def _print_verdict(verdict: Verdict, out: TextIO) -> None:
    payload = verdict.payload or {}
    if verdict.valid:
        print(f"valid: {', '.join(verdict.checked)} checked", file=out)
    else:
        print(f"invalid ({verdict.reason}): {verdict.detail}", file=out)
    for label, key in (
        ("request", "request_id"),
        ("tenant", "tenant"),
        ("model", "model"),
        ("backend", "backend"),
        ("upstream model", "upstream_model"),
        ("created", "created"),
    ):
        if payload.get(key) is not None:
            print(f"  {label}: {payload[key]}", file=out)
    if verdict.kid:
        print(f"  key: {verdict.kid} ({verdict.key_status})", file=out)
    if verdict.timestamp:
        print(f"  trusted timestamp: {verdict.timestamp}", file=out)


def attest_verify(
    path: str | Path,
    service: AttestationService | None = None,
    *,
    jwks: Mapping[str, Any] | None = None,
    out: TextIO | None = None,
) -> int:
    """Verify a saved attestation: 0 valid, 1 invalid, 2 unreadable file. Keys from ``jwks`` or ``service``."""
    out = out or sys.stdout
    try:
        arguments = read_verification_file(path)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if jwks is not None:
        verdict = verify_attestation(arguments.pop("attestation"), jwks_lookup(jwks), **arguments)
    elif service is not None:
        verdict = service.verify(arguments.pop("attestation"), **arguments)
    else:
        raise ValueError("attest_verify needs a service or a JWKS")
    _print_verdict(verdict, out)
    return 0 if verdict.valid else 1


def audit_verify(service: AttestationService, *, signatures: bool = False, out: TextIO | None = None) -> int:
    """Walk the audit chain: 0 intact, 1 broken (the first broken link is printed)."""
    out = out or sys.stdout
    broken = service.verify_chain(signatures=signatures)
    if broken is not None:
        print(f"audit chain broken at {broken}", file=out)
        return 1
    print(f"audit chain intact: {service.audit.count()} entries", file=out)
    return 0


def keys_rotate(service: AttestationService, *, actor: str = "cli", out: TextIO | None = None) -> int:
    out = out or sys.stdout
    info = service.rotate(actor=actor)
    print(f"new signing key {info.kid}; the previous key is retired and still verifies", file=out)
    return 0


def keys_revoke(
    service: AttestationService, kid: str, *, reason: str = "", actor: str = "cli", out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    info = service.revoke(kid, reason, actor=actor)
    print(f"revoked {info.kid}; attestations it signed no longer verify", file=out)
    return 0


def keys_list(service: AttestationService, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    rows = [("KID", "STATUS", "CREATED", "RETIRED", "REVOKED")]
    when = lambda v: v.strftime("%Y-%m-%d %H:%M") if v else "-"
    for key in service.keys.public_keys(fresh=True):
        rows.append((key.kid, key.status, when(key.created_at), when(key.retired_at), when(key.revoked_at)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=out)
    return 0


def register(
    commands: argparse._SubParsersAction, open_service: Callable[[argparse.Namespace], AttestationService]
) -> None:
    """Add ``attest verify``, ``attest keys list|rotate|revoke`` and ``audit verify`` to ``gateway``'s parser.

    ``open_service(args)`` builds the service from the loaded settings (no ``start()`` needed).
    """
    attest = commands.add_parser("attest", help="verify attestations, manage signing keys")
    actions = attest.add_subparsers(dest="action", required=True)

    verify = actions.add_parser("verify", help="verify a saved attestation (exit 0 valid, 1 invalid)")
    verify.add_argument("file")
    verify.add_argument("--jwks", help="verify offline with this saved JWKS instead of the database")

    def run_verify(args: argparse.Namespace) -> int:
        if args.jwks:
            return attest_verify(args.file, jwks=json.loads(Path(args.jwks).read_text(encoding="utf-8")))
        return attest_verify(args.file, open_service(args))

    verify.set_defaults(func=run_verify)

    keys = actions.add_parser("keys", help="signing keys").add_subparsers(dest="keys_action", required=True)
    keys.add_parser("list", help="list signing keys").set_defaults(func=lambda a: keys_list(open_service(a)))
    keys.add_parser("rotate", help="make a new signing key; the old one still verifies").set_defaults(
        func=lambda a: keys_rotate(open_service(a))
    )
    revoke = keys.add_parser("revoke", help="revoke a compromised key")
    revoke.add_argument("kid")
    revoke.add_argument("--reason", default="")
    revoke.set_defaults(func=lambda a: keys_revoke(open_service(a), a.kid, reason=a.reason))

    audit = commands.add_parser("audit", help="the audit chain").add_subparsers(dest="action", required=True)
    audit_check = audit.add_parser("verify", help="walk the chain; report the first broken link (exit 0/1)")
    audit_check.add_argument("--signatures", action="store_true", help="also verify every attestation's signature")
    audit_check.set_defaults(func=lambda a: audit_verify(open_service(a), signatures=a.signatures))
