"""``AttestationService``: what the request path, the API, the CLI and the console call."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlmodel import select

from gateway.attestation.audit import GENESIS_HASH, AuditLog, ChainBreak
from gateway.attestation.keys import KeyEncryptionKey, KeyStore, PublicKeyInfo, b64url_decode
from gateway.attestation.models import AttestationRecord, utcnow
from gateway.attestation.payload import Output, build_payload
from gateway.attestation.settings import AttestationSettings
from gateway.attestation.signer import Attestation, Signer
from gateway.attestation.tsa import TimestampClient, TimestampError, verify_token
from gateway.attestation.verify import Reason, Verdict, verify_attestation
from gateway.attestation.writer import AttestationWriter, PendingAttestation
from gateway.storage.database import Database

log = logging.getLogger("gateway.attestation")


class AttestationService:
    """Signs every answer, stores it off the response path, and verifies attestations and the chain.

    Synchronous in ``attest``: hashing the messages and output, building and canonicalising the
    payload, one Ed25519 signature, and an in-memory enqueue. Everything touching the database
    (the attestation row, its audit entry, an optional RFC 3161 timestamp) happens on the
    writer's thread; ``get`` sees this replica's not-yet-written attestations too.
    """

    def __init__(
        self,
        db: Database,
        kek: KeyEncryptionKey,
        *,
        timestamps: TimestampClient | None = None,
        batch_size: int = 500,
        key_refresh_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.audit = AuditLog(db)
        self.keys = KeyStore(db, kek, self.audit)
        self.timestamps = timestamps
        self._writer = AttestationWriter(
            db,
            self.audit,
            batch_size=batch_size,
            on_written=self._written,
            tick_seconds=key_refresh_seconds,
            on_tick=self._refresh_keys,
            timestamps=timestamps,
        )
        self._signer: Signer | None = None
        self._anchor = GENESIS_HASH
        self._pending: dict[str, PendingAttestation] = {}

    @classmethod
    def from_settings(cls, db: Database, settings: AttestationSettings, data_dir: Path) -> AttestationService:
        kek = KeyEncryptionKey.load(
            value=settings.kek.get_secret_value() if settings.kek else None,
            file=settings.kek_file,
            default_file=Path(data_dir) / "attestation.kek",
        )
        timestamps = None
        if settings.tsa_url:
            trusted = (
                x509.load_pem_x509_certificate(settings.tsa_certificate.read_bytes())
                if settings.tsa_certificate
                else None
            )
            timestamps = TimestampClient(
                settings.tsa_url, timeout=settings.tsa_timeout_seconds, trusted_certificate=trusted
            )
        return cls(
            db,
            kek,
            timestamps=timestamps,
            batch_size=settings.batch_size,
            key_refresh_seconds=settings.key_refresh_seconds,
        )

    # lifecycle

    def start(self) -> None:
        """Load (or, the first time, create) the signing key and start the writer. Blocking: call it in a thread."""
        self.keys.ensure_active()
        self.keys.refresh()
        self._signer = Signer(self.keys.active)
        self._anchor = self.audit.head_hash()
        self._writer.start()

    def flush(self, timeout: float | None = 10.0, *, timestamps: bool = False) -> bool:
        """Wait until every attestation made so far is in the database (and timestamped, if asked)."""
        return self._writer.flush(timeout, timestamps=timestamps)

    def close(self, timeout: float = 10.0) -> None:
        self._writer.close(timeout)
        if self.timestamps is not None:
            self.timestamps.close()

    # the request path

    def attest(
        self,
        *,
        request_id: str,
        tenant_id: int,
        tenant: str,
        model: str,
        backend: str,
        upstream_model: str,
        request: Mapping[str, Any],
        output: Output,
        adapter_sha256: str | None = None,
        messages_sha256: str | None = None,
        created: datetime | None = None,
        rag: Mapping[str, Any] | None = None,
        guardrail_policy_version: int | None = None,
    ) -> Attestation:
        """Sign one answered request; stored in the background.

        ``request`` is the decoded request body as the client sent it; if its ``messages`` were
        changed since (PII masking, RAG context), pass ``messages_sha256`` taken before that
        (``gateway.attestation.payload.messages_sha256(body["messages"])``).
        """
        signer = self._current_signer()
        payload = build_payload(
            request_id=request_id,
            tenant=tenant,
            model=model,
            backend=backend,
            upstream_model=upstream_model,
            request=request,
            output=output,
            created=created or utcnow(),
            kid=signer.key.kid,
            prev_hash=self._anchor,
            adapter_sha256=adapter_sha256,
            messages_digest=messages_sha256,
            rag=rag,
            guardrail_policy_version=guardrail_policy_version,
        )
        attestation = signer.sign(payload)
        item = PendingAttestation(request_id, tenant_id, attestation)
        self._pending[request_id] = item
        self._writer.submit(item)
        return attestation

    # reading and verifying

    def get(self, request_id: str, tenant_id: int) -> Attestation | None:
        """The attestation of ``request_id`` if it belongs to ``tenant_id`` (``None`` otherwise)."""
        pending = self._pending.get(request_id)
        if pending is not None:
            return pending.attestation if pending.tenant_id == tenant_id else None
        with self.db.session() as session:
            record = session.get(AttestationRecord, request_id)
        if record is None or record.tenant_id != tenant_id:
            return None
        return Attestation.assemble(
            record.payload.encode("utf-8"), b64url_decode(record.signature), record.kid, record.timestamp_token
        )

    def verify(
        self,
        attestation: Attestation | str | Mapping[str, Any],
        signature: str | None = None,
        *,
        output_text: str | Sequence[str] | None = None,
        messages: Any = None,
        completion: Mapping[str, Any] | None = None,
    ) -> Verdict:
        """Valid or not, and why (see ``gateway.attestation.verify``); key status is read fresh.

        An attached ``timestamp_token`` (object form) is checked too: its time is in ``Verdict.timestamp``.
        """
        verdict = verify_attestation(
            attestation,
            self.keys.public_key,
            signature=signature,
            output_text=output_text,
            messages=messages,
            completion=completion,
        )
        token = attestation.get("timestamp_token") if isinstance(attestation, Mapping) else None
        if isinstance(attestation, Attestation):
            token = attestation.timestamp_token
        if not verdict.valid or not token:
            return verdict
        try:
            parsed = attestation if isinstance(attestation, Attestation) else Attestation.parse(attestation)
            when = self.verify_timestamp(parsed)
        except (TimestampError, ValueError) as exc:
            return replace(verdict, valid=False, reason=Reason.BAD_TIMESTAMP, detail=str(exc))
        return replace(verdict, checked=(*verdict.checked, "timestamp"), timestamp=when)

    def verify_timestamp(self, attestation: Attestation) -> str:
        """The TSA's time and name for ``attestation``, or ``TimestampError``.

        Only with ``attestation.tsa_certificate`` configured is the TSA itself checked; without
        it the token is merely consistent, and the answer says so.
        """
        if attestation.timestamp_token is None:
            raise TimestampError("this attestation has no trusted timestamp")
        trusted = self.timestamps.trusted_certificate if self.timestamps else None
        info = verify_token(attestation.timestamp_token, attestation.signature, trusted)
        caveat = "" if trusted is not None else "; TSA not checked: no attestation.tsa_certificate configured"
        return f"{info.gen_time.isoformat()} by {info.tsa_subject}{caveat}"

    def jwks(self) -> dict[str, Any]:
        """Every public key that still verifies (active and retired), as a JWK Set."""
        return self.keys.jwks()

    # key management and the chain

    def rotate(self, actor: str | None = None) -> PublicKeyInfo:
        """New active key; the old one is retired (still verifies). Other replicas follow within key_refresh_seconds."""
        info = self.keys.rotate(actor)
        self._signer = Signer(self.keys.active)
        return info

    def revoke(self, kid: str, reason: str = "", actor: str | None = None) -> PublicKeyInfo:
        """Revoke a key (compromised): its attestations report ``revoked_key``; an active key is replaced."""
        info = self.keys.revoke(kid, reason, actor)
        self._signer = Signer(self.keys.active)
        return info

    def verify_chain(self, *, signatures: bool = False) -> ChainBreak | None:
        """The audit chain's first broken link, or ``None``; with ``signatures``, every attestation's signature too."""
        if not signatures:
            return self.audit.verify_chain()
        keys = {k.kid: k for k in self.keys.public_keys(fresh=True)}

        def check(record: AttestationRecord) -> str | None:
            attestation = Attestation.assemble(record.payload.encode(), b64url_decode(record.signature), record.kid)
            verdict = verify_attestation(attestation, keys.get)
            return None if verdict.valid else f"{verdict.reason}: {verdict.detail}"

        return self.audit.verify_chain(check_attestation=check)

    def list_for_tenant(self, tenant_id: int, limit: int = 50) -> list[Attestation]:
        """The tenant's newest attestations (for the console)."""
        with self.db.session() as session:
            rows = session.exec(
                select(AttestationRecord)
                .where(AttestationRecord.tenant_id == tenant_id)
                .order_by(AttestationRecord.created_at.desc())
                .limit(limit)
            ).all()
        return [
            Attestation.assemble(r.payload.encode(), b64url_decode(r.signature), r.kid, r.timestamp_token) for r in rows
        ]

    # internals

    def _current_signer(self) -> Signer:
        signer = self._signer
        if signer is None:
            raise RuntimeError("AttestationService.start() has not run")
        active = self.keys.active
        if signer.key is not active:
            signer = self._signer = Signer(active)
        return signer

    def _written(self, items: list[PendingAttestation], head: str) -> None:
        self._anchor = head
        for item in items:
            self._pending.pop(item.request_id, None)

    def _refresh_keys(self) -> None:
        if self.keys.refresh():
            log.info("signing key changed elsewhere; now signing with %s", self.keys.active.kid)
