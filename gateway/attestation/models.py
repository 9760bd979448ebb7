"""The attestation tables: signed attestations, signing keys, and the hash-chained audit log.

Changes go through an Alembic migration (``0003_attestation`` created them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class AttestationRecord(SQLModel, table=True):
    """One signed attestation: the canonical payload bytes exactly as signed, and the signature."""

    __tablename__ = "attestation"
    __table_args__ = (Index("ix_attestation_tenant_created", "tenant_id", "created_at"),)

    request_id: str = Field(primary_key=True, max_length=64)
    tenant_id: int
    kid: str = Field(max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    timestamp_token: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class SigningKeyRecord(SQLModel, table=True):
    """An Ed25519 signing key; the private half only encrypted (AES-256-GCM under the KEK)."""

    __tablename__ = "attestation_key"

    kid: str = Field(primary_key=True, max_length=64)
    public_key: str = Field(max_length=64)
    encrypted_private_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    kek_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str = Field(default="", max_length=256)


class AuditEntry(SQLModel, table=True):
    """One link of the audit chain: ``entry_hash`` covers this row and ``prev_hash`` (the row before)."""

    __tablename__ = "audit_entry"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=64)
    subject: str = Field(max_length=256, index=True)
    payload_sha256: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64, unique=True)
    entry_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
