"""Signing keys: encrypted at rest, the KEK checked, rotation, revocation, JWKS."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway.attestation import AttestationService, KeyEncryptionError, KeyEncryptionKey, Reason
from gateway.attestation.keys import thumbprint
from gateway.attestation.models import SigningKeyRecord
from gateway.attestation.settings import AttestationSettings
from tests.gateway.attestation.conftest import attest


def _private_bytes(service: AttestationService) -> bytes:
    return service.keys.active.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def test_private_keys_are_not_stored_in_clear(service, db):
    secrets_in_use = [_private_bytes(service)]
    service.rotate()
    secrets_in_use.append(_private_bytes(service))
    service.flush()
    with db.session() as session:
        rows = session.exec(text("SELECT kid, public_key, encrypted_private_key FROM attestation_key")).all()
    assert len(rows) == 2
    for _, _, blob in rows:
        blob = bytes(blob)
        assert len(blob) == 1 + 12 + 32 + 16
        for secret in secrets_in_use:
            assert secret not in blob
    if db.is_sqlite:
        path = Path(make_url(db.url).database)
        stored = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
        assert all(bytes(blob) in stored for _, _, blob in rows)  # the right files were read
        for secret in secrets_in_use:
            assert secret not in stored
            assert secret.hex().encode() not in stored
    else:
        with db.session() as session:
            dumped = " ".join(r[0] for r in session.exec(text("SELECT t::text FROM attestation_key t")).all())
        assert rows[0][0] in dumped
        for secret in secrets_in_use:
            assert secret.hex() not in dumped


def test_the_wrong_kek_fails_clearly(service, db):
    other = AttestationService(db, KeyEncryptionKey(os.urandom(32)))
    with pytest.raises(KeyEncryptionError, match="was encrypted with key-encryption key .* but the configured one is"):
        other.start()
    # the same KEK id but a tampered ciphertext: also a clear error
    with db.session() as session:
        row = session.get(SigningKeyRecord, service.keys.active.kid)
        blob = bytearray(row.encrypted_private_key)
        blob[-1] ^= 1
        row.encrypted_private_key = bytes(blob)
        session.add(row)
    again = AttestationService(db, service.keys.kek)
    with pytest.raises(KeyEncryptionError, match="does not decrypt"):
        again.start()


def test_kek_sources(tmp_path, monkeypatch):
    text_form = KeyEncryptionKey.generate_text()
    assert KeyEncryptionKey.load(value=text_form).id == KeyEncryptionKey.parse(text_form).id
    hex_form = os.urandom(32).hex()
    assert KeyEncryptionKey.parse(hex_form).id == KeyEncryptionKey(bytes.fromhex(hex_form)).id
    (tmp_path / "kek").write_text(text_form + "\n")
    assert KeyEncryptionKey.load(file=tmp_path / "kek").id == KeyEncryptionKey.parse(text_form).id
    with pytest.raises(KeyEncryptionError, match="does not exist"):
        KeyEncryptionKey.load(file=tmp_path / "missing")
    with pytest.raises(KeyEncryptionError, match="32 random bytes"):
        KeyEncryptionKey.parse("too-short")
    default = tmp_path / "data" / "attestation.kek"
    made = KeyEncryptionKey.load(default_file=default)
    assert stat.S_IMODE(default.stat().st_mode) == 0o600
    assert KeyEncryptionKey.load(default_file=default).id == made.id
    with pytest.raises(KeyEncryptionError, match="no key-encryption key configured"):
        KeyEncryptionKey.load()


def test_from_settings_reads_the_environment_form(db, tmp_path):
    settings = AttestationSettings(kek=KeyEncryptionKey.generate_text())
    service = AttestationService.from_settings(db, settings, tmp_path)
    service.start()
    try:
        assert attest(service, "req_settings").kid == service.keys.active.kid
        assert not (tmp_path / "attestation.kek").exists()
    finally:
        service.close()


def test_first_start_makes_one_key_and_later_starts_reuse_it(service, db):
    kid = service.keys.active.kid
    again = AttestationService(db, service.keys.kek)
    again.start()
    try:
        assert again.keys.active.kid == kid
        assert [k["kid"] for k in again.jwks()["keys"]] == [kid]
    finally:
        again.close()


def test_rotation_keeps_old_attestations_verifiable(service, db):
    old = attest(service, "req_before")
    old_kid = service.keys.active.kid
    info = service.rotate(actor="test")
    assert info.kid != old_kid and info.status == "active"
    new = attest(service, "req_after")
    assert new.kid == info.kid
    for attestation in (old, new):
        assert service.verify(attestation.compact()).valid
    statuses = {k["kid"]: k["status"] for k in service.jwks()["keys"]}
    assert statuses == {old_kid: "retired", info.kid: "active"}
    service.flush()
    assert service.verify_chain(signatures=True) is None


def test_other_replicas_follow_a_rotation(service, db):
    replica = AttestationService(db, service.keys.kek, key_refresh_seconds=0.1)
    replica.start()
    try:
        service.rotate()
        deadline = time.monotonic() + 5
        while replica.keys.active.kid != service.keys.active.kid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert attest(replica, "req_replica").kid == service.keys.active.kid
    finally:
        replica.close()


def test_a_revoked_key_is_reported(service):
    attestation = attest(service, "req_revoked")
    kid = attestation.kid
    revoked = service.revoke(kid, reason="laptop stolen", actor="test")
    assert revoked.status == "revoked"
    verdict = service.verify(attestation.compact())
    assert not verdict.valid and verdict.reason is Reason.REVOKED_KEY
    assert "laptop stolen" in verdict.detail and verdict.key_status == "revoked"
    assert service.keys.active.kid != kid  # a new key replaced the revoked active one
    assert service.verify(attest(service, "req_after_revoke").compact()).valid
    assert kid not in [k["kid"] for k in service.jwks()["keys"]]
    assert kid in [k["kid"] for k in service.keys.jwks(include_revoked=True)["keys"]]


def test_jwks_is_rfc8037(service):
    (key,) = service.jwks()["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA" and key["use"] == "sig"
    from gateway.attestation.keys import b64url_decode

    assert thumbprint(b64url_decode(key["x"])) == key["kid"]
