"""A small RFC 3161 Time-Stamp Authority: an ASGI app answering ``application/timestamp-query``.

It signs ``TSTInfo`` tokens with a P-256 key and a self-signed certificate made at start
(extended key usage ``timeStamping``), and can be told to refuse or to sign a wrong imprint.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def self_signed(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


class FakeTSA:
    """``POST /`` with a DER ``TimeStampReq`` → a DER ``TimeStampResp``."""

    def __init__(self) -> None:
        self.key, self.certificate = self_signed("ParamGate test TSA")
        self.requests = 0
        self.refuse = False
        self.wrong_imprint = False
        self._serial = 0

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests += 1
        status, payload = 200, self.respond(body)
        if scope["method"] != "POST":
            status, payload = 405, b""
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/timestamp-reply")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def respond(self, der: bytes) -> bytes:
        request = tsp.TimeStampReq.load(der)
        if self.refuse:  # TimeStampResp without a token (asn1crypto insists on one, so by hand)
            status = tsp.PKIStatusInfo({"status": "rejection", "status_string": ["refused by test"]}).dump()
            return b"\x30" + _der_length(len(status)) + status
        self._serial += 1
        imprint = request["message_imprint"]
        if self.wrong_imprint:
            imprint = tsp.MessageImprint(
                {"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}), "hashed_message": b"\x00" * 32}
            )
        info = {
            "version": "v1",
            "policy": "1.3.6.1.4.1.99999.1",
            "message_imprint": imprint,
            "serial_number": self._serial,
            "gen_time": datetime.now(UTC).replace(microsecond=0),
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        tst_info = tsp.TSTInfo(info)
        content = tst_info.dump()
        certificate_der = self.certificate.public_bytes(serialization.Encoding.DER)
        ess = tsp.SigningCertificateV2(
            {
                "certs": [
                    tsp.ESSCertIDv2(
                        {
                            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                            "cert_hash": hashlib.sha256(certificate_der).digest(),
                        }
                    )
                ]
            }
        )
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
                cms.CMSAttribute({"type": "signing_certificate_v2", "values": [ess]}),
            ]
        )
        signature = self.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        certificate = asn1_x509.Certificate.load(certificate_der)
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
                        )
                    }
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {"content_type": "tst_info", "content": tst_info},
                "certificates": [certificate] if request["cert_req"].native else [],
                "signer_infos": [signer],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        return tsp.TimeStampResp({"status": tsp.PKIStatusInfo({"status": "granted"}), "time_stamp_token": token}).dump()
