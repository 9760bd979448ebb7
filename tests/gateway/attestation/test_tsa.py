"""RFC 3161 timestamps against a small TSA on loopback (skipped without asn1crypto)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from collections.abc import Iterator

import pytest

pytest.importorskip("asn1crypto", reason="RFC 3161 support is the optional 'tsa' extra (asn1crypto)")

from gateway.attestation import AttestationService, Reason
from gateway.attestation.tsa import TimestampClient, TimestampError, verify_token
from tests.fakes.server import serve_in_thread
from tests.fakes.tsa_server import FakeTSA, self_signed
from tests.gateway.attestation.conftest import attest


@pytest.fixture
def tsa() -> Iterator[tuple[FakeTSA, str]]:
    fake = FakeTSA()
    with serve_in_thread(fake) as url:
        yield fake, url + "/"


def test_round_trip_with_the_test_tsa(tsa):
    fake, url = tsa
    client = TimestampClient(url, trusted_certificate=fake.certificate)
    try:
        token = client.stamp(b"some signature bytes")
    finally:
        client.close()
    info = verify_token(token, b"some signature bytes", fake.certificate)
    assert info.tsa_subject == "CN=ParamGate test TSA" and info.serial_number == 1
    with pytest.raises(TimestampError, match="different hash"):
        verify_token(token, b"other bytes", fake.certificate)
    _, stranger = self_signed("someone else")
    with pytest.raises(TimestampError, match="not the trusted TSA certificate"):
        verify_token(token, b"some signature bytes", stranger)
    tampered = bytearray(token)
    tampered[-5] ^= 1
    with pytest.raises(TimestampError):
        verify_token(bytes(tampered), b"some signature bytes", fake.certificate)


def test_refusals_and_wrong_imprints_are_errors(tsa):
    fake, url = tsa
    client = TimestampClient(url)
    try:
        fake.refuse = True
        with pytest.raises(TimestampError, match="refused"):
            client.stamp(b"x")
        fake.refuse, fake.wrong_imprint = False, True
        with pytest.raises(TimestampError, match="different hash"):
            client.stamp(b"x")
    finally:
        client.close()
    with pytest.raises(TimestampError, match="did not answer"):
        TimestampClient("http://127.0.0.1:9/", timeout=0.5).stamp(b"x")


def test_the_service_timestamps_each_attestation_off_the_response_path(tsa, db, kek):
    fake, url = tsa
    service = AttestationService(db, kek, timestamps=TimestampClient(url, trusted_certificate=fake.certificate))
    service.start()
    try:
        attestation = attest(service, "req_tsa")
        assert attestation.timestamp_token is None  # the response does not wait for the TSA
        assert service.flush(timestamps=True)
        stored = service.get("req_tsa", 1)
        assert stored.timestamp_token is not None
        info = verify_token(stored.timestamp_token, stored.signature, fake.certificate)
        assert info.gen_time is not None
        body = stored.as_dict()
        assert base64.b64decode(body["timestamp_token"]) == stored.timestamp_token
        verdict = service.verify(body)
        assert verdict.valid and "timestamp" in verdict.checked
        assert verdict.timestamp.endswith("by CN=ParamGate test TSA")
        swapped = dict(body, timestamp_token=base64.b64encode(stored.timestamp_token[:-3] + b"abc").decode())
        assert service.verify(swapped).reason is Reason.BAD_TIMESTAMP
        assert fake.requests == 1
        assert hashlib.sha256(stored.signature).digest() in stored.timestamp_token
    finally:
        service.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_accepts_the_stored_token_as_the_readme_says(tsa, db, kek, tmp_path):
    fake, url = tsa
    service = AttestationService(db, kek, timestamps=TimestampClient(url, trusted_certificate=fake.certificate))
    service.start()
    try:
        attest(service, "req_openssl")
        assert service.flush(timestamps=True)
        body = service.get("req_openssl", 1).as_dict()
    finally:
        service.close()
    signature = body["signature"]
    (tmp_path / "signature.bin").write_bytes(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    (tmp_path / "token.der").write_bytes(base64.b64decode(body["timestamp_token"]))
    (tmp_path / "tsa-ca.pem").write_bytes(fake.certificate_pem())
    result = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            "signature.bin",
            "-in",
            "token.der",
            "-token_in",
            "-CAfile",
            "tsa-ca.pem",
        ],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stdout + result.stderr
