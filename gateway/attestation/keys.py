"""Ed25519 signing keys: generated on first start, rotated, revoked; private halves encrypted at rest.

A key's id (``kid``) is its RFC 7638 JWK thumbprint: base64url(SHA-256('{"crv":"Ed25519","kty":"OKP","x":"<x>"}')),
so anyone holding the public key can recompute it. Private keys are stored only as
``0x01 || nonce(12) || AES-256-GCM(KEK, nonce, raw 32-byte private key, aad="paramgate-signing-key:" + kid)``;
the key-encryption key (KEK) comes from configuration (a value or a file), never from the database.
Exactly one key is active (neither retired nor revoked); rotation retires it and creates the next;
retired keys still verify old attestations; revoked keys verify nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlmodel import Session, col, select

from gateway.attestation.audit import AuditLog, NewEntry
from gateway.attestation.canonical import canonicalize
from gateway.attestation.locks import LOCK_AUDIT, LOCK_KEYS, write_transaction
from gateway.attestation.models import SigningKeyRecord, utcnow
from gateway.errors import NotFound
from gateway.storage.database import Database

__all__ = [
    "KeyEncryptionError",
    "KeyEncryptionKey",
    "KeyStore",
    "PublicKeyInfo",
    "SigningKey",
    "b64url",
    "b64url_decode",
]

_WRAP_VERSION = b"\x01"


class KeyEncryptionError(ValueError):
    """The key-encryption key is missing, malformed, or not the one the signing keys were encrypted with."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(public_raw: bytes) -> str:
    """RFC 7638 thumbprint of the OKP/Ed25519 JWK for ``public_raw``."""
    return b64url(hashlib.sha256(canonicalize({"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw)})).digest())


class KeyEncryptionKey:
    """A 32-byte AES-256-GCM key that wraps the signing keys' private halves."""

    SIZE = 32

    def __init__(self, key: bytes) -> None:
        if len(key) != self.SIZE:
            raise KeyEncryptionError(f"the key-encryption key must be {self.SIZE} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self.id = hashlib.sha256(b"paramgate-kek\x00" + key).hexdigest()[:16]

    @staticmethod
    def generate_text() -> str:
        """A new KEK in the text form the settings take (base64url of 32 random bytes)."""
        return b64url(secrets.token_bytes(KeyEncryptionKey.SIZE))

    @classmethod
    def parse(cls, text: str, source: str = "the key-encryption key") -> KeyEncryptionKey:
        """Hex (64 digits) or base64/base64url (padding optional) of 32 bytes."""
        value = text.strip()
        candidates: list[bytes] = []
        if len(value) == 64:
            try:
                candidates.append(bytes.fromhex(value))
            except ValueError:
                pass
        try:
            candidates.append(base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4)))
        except (binascii.Error, ValueError):
            pass
        for candidate in candidates:
            if len(candidate) == cls.SIZE:
                return cls(candidate)
        raise KeyEncryptionError(
            f"{source} must be 32 random bytes written as base64/base64url or 64 hex digits "
            f"(make one with: python -c 'import secrets,base64;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')"
        )

    @classmethod
    def from_file(cls, path: Path) -> KeyEncryptionKey:
        data = path.read_bytes()
        if len(data) == cls.SIZE:
            return cls(data)
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise KeyEncryptionError(f"key-encryption key file {path}: not 32 raw bytes, base64 or hex") from None
        return cls.parse(text, f"key-encryption key file {path}")

    @classmethod
    def load(
        cls, *, value: str | None = None, file: Path | None = None, default_file: Path | None = None
    ) -> KeyEncryptionKey:
        """The configured KEK: ``value`` first, then ``file``; else ``default_file``, created (mode 0600) if absent."""
        if value:
            return cls.parse(value, "attestation.kek")
        if file is not None:
            if not file.is_file():
                raise KeyEncryptionError(f"attestation.kek_file {file} does not exist")
            return cls.from_file(file)
        if default_file is None:
            raise KeyEncryptionError("no key-encryption key configured: set attestation.kek or attestation.kek_file")
        default_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(default_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.from_file(default_file)
        with os.fdopen(fd, "w") as handle:
            handle.write(cls.generate_text() + "\n")
        return cls.from_file(default_file)

    @staticmethod
    def _aad(kid: str) -> bytes:
        return b"paramgate-signing-key:" + kid.encode()

    def wrap(self, secret: bytes, kid: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return _WRAP_VERSION + nonce + self._aead.encrypt(nonce, secret, self._aad(kid))

    def unwrap(self, blob: bytes, kid: str, kek_id: str) -> bytes:
        if kek_id != self.id:
            raise KeyEncryptionError(
                f"signing key {kid} was encrypted with key-encryption key {kek_id}, but the configured one is "
                f"{self.id}: set attestation.kek / attestation.kek_file to the key used when it was created"
            )
        if blob[:1] != _WRAP_VERSION or len(blob) != 1 + 12 + 32 + 16:
            raise KeyEncryptionError(f"signing key {kid}: unknown encrypted-key format")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], self._aad(kid))
        except InvalidTag:
            raise KeyEncryptionError(
                f"signing key {kid} does not decrypt with the configured key-encryption key"
            ) from None


@dataclass(frozen=True, slots=True)
class PublicKeyInfo:
    """A signing key's public half and its lifecycle."""

    kid: str
    public_raw: bytes
    created_at: datetime
    retired_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str

    @property
    def status(self) -> str:
        return "revoked" if self.revoked_at else "retired" if self.retired_at else "active"

    @property
    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_raw)

    def jwk(self) -> dict[str, Any]:
        """RFC 8037 OKP JWK, plus ParamGate's lifecycle members (ignored by JOSE libraries)."""
        jwk: dict[str, Any] = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(self.public_raw),
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
            "status": self.status,
            "created": int(self.created_at.timestamp()),
        }
        if self.retired_at:
            jwk["retired"] = int(self.retired_at.timestamp())
        if self.revoked_at:
            jwk["revoked"] = int(self.revoked_at.timestamp())
        return jwk

    @classmethod
    def of(cls, row: SigningKeyRecord) -> PublicKeyInfo:
        return cls(
            row.kid,
            b64url_decode(row.public_key),
            row.created_at,
            row.retired_at,
            row.revoked_at,
            row.revocation_reason,
        )


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The active key, decrypted, in memory only."""

    kid: str
    private_key: Ed25519PrivateKey


class KeyStore:
    """The signing keys in the database, the active one decrypted in memory."""

    def __init__(self, db: Database, kek: KeyEncryptionKey, audit: AuditLog) -> None:
        self.db = db
        self.kek = kek
        self.audit = audit
        self._active: SigningKey | None = None
        self._public: tuple[PublicKeyInfo, ...] = ()
        # A refresh (the writer's thread) must not interleave with a rotation here, or it could
        # reinstate the key the rotation just retired.
        self._lock = threading.RLock()

    @property
    def active(self) -> SigningKey:
        if self._active is None:
            raise RuntimeError("KeyStore.ensure_active() has not run")
        return self._active

    def ensure_active(self) -> SigningKey:
        """Load the active key, creating the first one when there is none (safe with replicas starting at once)."""
        with self._lock:
            with write_transaction(self.db, LOCK_KEYS, LOCK_AUDIT) as session:
                row = self._active_row(session)
                if row is None:
                    row = self._create(session, "key.create", actor="system")
            self._load(row)
            return self.active

    def refresh(self) -> bool:
        """Follow a rotation made elsewhere (another replica, the CLI); True when the active key changed."""
        with self._lock:
            with self.db.session() as session:
                row = self._active_row(session)
                rows = session.exec(select(SigningKeyRecord)).all()
            self._public = tuple(PublicKeyInfo.of(r) for r in sorted(rows, key=lambda r: r.created_at))
            if row is None or (self._active is not None and row.kid == self._active.kid):
                return False
            self._load(row)
            return True

    def rotate(self, actor: str | None = None) -> PublicKeyInfo:
        """Retire the active key and make a new one; old public keys stay for verification."""
        with self._lock:
            with write_transaction(self.db, LOCK_KEYS, LOCK_AUDIT) as session:
                current = self._active_row(session)
                if current is not None:
                    current.retired_at = utcnow()
                    session.add(current)
                row = self._create(session, "key.rotate", actor=actor, previous=current.kid if current else None)
            self._load(row)
            self.refresh()
            return PublicKeyInfo.of(row)

    def revoke(self, kid: str, reason: str = "", actor: str | None = None) -> PublicKeyInfo:
        """Mark a key compromised: nothing it signed verifies any more; a revoked active key is replaced."""
        with self._lock:
            with write_transaction(self.db, LOCK_KEYS, LOCK_AUDIT) as session:
                row = session.get(SigningKeyRecord, kid)
                if row is None:
                    raise NotFound(f"No signing key {kid!r}.")
                was_active = row.retired_at is None and row.revoked_at is None
                if row.revoked_at is None:
                    row.revoked_at = utcnow()
                    row.revocation_reason = reason[:256]
                    session.add(row)
                    detail = {"kid": kid, "reason": reason, "actor": actor}
                    self.audit.append_in(session, [NewEntry.of_detail("key.revoke", f"key:{kid}", detail)])
                replacement = self._create(session, "key.create", actor="system", previous=kid) if was_active else None
                revoked = PublicKeyInfo.of(row)
            if replacement is not None:
                self._load(replacement)
            self.refresh()
            return revoked

    def public_key(self, kid: str) -> PublicKeyInfo | None:
        """A key's public half and current status, read fresh (revocations made elsewhere count at once)."""
        with self.db.session() as session:
            row = session.get(SigningKeyRecord, kid)
        return PublicKeyInfo.of(row) if row is not None else None

    def public_keys(self, *, fresh: bool = False) -> tuple[PublicKeyInfo, ...]:
        if fresh or not self._public:
            self.refresh()
        return self._public

    def jwks(self, *, include_revoked: bool = False) -> dict[str, Any]:
        """All public keys as a JWK Set (RFC 7517); revoked keys only when asked."""
        return {"keys": [k.jwk() for k in self.public_keys() if include_revoked or k.revoked_at is None]}

    # internals

    @staticmethod
    def _active_row(session: Session) -> SigningKeyRecord | None:
        return session.exec(
            select(SigningKeyRecord)
            .where(col(SigningKeyRecord.retired_at).is_(None), col(SigningKeyRecord.revoked_at).is_(None))
            .order_by(col(SigningKeyRecord.created_at).desc())
        ).first()

    def _create(
        self, session: Session, kind: str, *, actor: str | None, previous: str | None = None
    ) -> SigningKeyRecord:
        private = Ed25519PrivateKey.generate()
        public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        kid = thumbprint(public_raw)
        secret = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        row = SigningKeyRecord(
            kid=kid,
            public_key=b64url(public_raw),
            encrypted_private_key=self.kek.wrap(secret, kid),
            kek_id=self.kek.id,
        )
        session.add(row)
        session.flush()
        detail = {"kid": kid, "public_key": row.public_key, "previous": previous, "actor": actor}
        self.audit.append_in(session, [NewEntry.of_detail(kind, f"key:{kid}", detail)])
        return row

    def _load(self, row: SigningKeyRecord) -> None:
        secret = self.kek.unwrap(row.encrypted_private_key, row.kid, row.kek_id)
        self._active = SigningKey(row.kid, Ed25519PrivateKey.from_private_bytes(secret))
