"""RFC 3161 trusted timestamps: an optional, configured step (needs the ``asn1crypto`` package).

The gateway asks the TSA at ``attestation.tsa_url`` to timestamp SHA-256(signature bytes) of
each attestation, off the response path, and keeps the token (a CMS ``SignedData`` holding a
``TSTInfo``) with the attestation. ``verify_token`` checks a token: the imprint is the
expected hash, the signed attributes carry the hash of the ``TSTInfo``, the TSA's signature over
them is good, and (when a trusted certificate is configured) the signer is that certificate
or one it issued directly.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

try:  # optional dependency
    from asn1crypto import algos, cms, core, tsp

    class _Elements(core.SequenceOf):
        """Any SEQUENCE, element by element (a rejection ``TimeStampResp`` has no token, which asn1crypto's class requires)."""

        _child_spec = core.Any
except ImportError:  # pragma: no cover - exercised only without the extra
    tsp = None

__all__ = ["TimestampClient", "TimestampError", "TimestampInfo", "available", "build_request", "verify_token"]

_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha1": hashes.SHA1}


class TimestampError(Exception):
    """The TSA refused, answered garbage, or a token does not verify."""


def available() -> bool:
    """Whether RFC 3161 support is installed (``pip install 'paramgate[tsa]'``)."""
    return tsp is not None


def _require() -> None:
    if tsp is None:
        raise TimestampError("RFC 3161 timestamps need the asn1crypto package: pip install 'paramgate[tsa]'")


@dataclass(frozen=True, slots=True)
class TimestampInfo:
    """What a verified token says."""

    gen_time: datetime
    serial_number: int
    policy: str
    tsa_subject: str


def build_request(digest: bytes, nonce: int) -> bytes:
    """A DER ``TimeStampReq`` for a SHA-256 digest, asking for the TSA's certificate in the reply."""
    _require()
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": tsp.MessageImprint(
                {"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}), "hashed_message": digest}
            ),
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()


def parse_response(der: bytes, digest: bytes, nonce: int) -> bytes:
    """The token (DER ``ContentInfo``) from a ``TimeStampResp``, after checking status, imprint and nonce."""
    _require()
    try:
        status_info = tsp.PKIStatusInfo.load(_Elements.load(der)[0].dump())
        status = status_info["status"].native
    except (ValueError, IndexError, TypeError) as exc:
        raise TimestampError(f"the TSA's reply is not a TimeStampResp: {exc}") from None
    if status not in ("granted", "granted_with_mods"):
        text = " ".join(status_info["status_string"].native or ())
        raise TimestampError(f"the TSA refused: {status} {text}".strip())
    try:
        token = tsp.TimeStampResp.load(der)["time_stamp_token"]
    except (ValueError, KeyError) as exc:
        raise TimestampError(f"the TSA granted but sent no usable token: {exc}") from None
    tst_info = _tst_info(token)
    if tst_info["nonce"].native != nonce:
        raise TimestampError("the TSA's reply carries a different nonce")
    _check_imprint(tst_info, digest)
    return token.dump()


def verify_token(token: bytes, data: bytes, trusted_certificate: x509.Certificate | None = None) -> TimestampInfo:
    """Check ``token`` timestamps ``data`` and was signed by the TSA; what it says, or ``TimestampError``."""
    _require()
    try:
        content_info = cms.ContentInfo.load(token)
        tst_info = _tst_info(content_info)
        signed_data = content_info["content"]
        _check_imprint(tst_info, None, data)
        signer = signed_data["signer_infos"][0]
        certificate = _signer_certificate(signed_data, signer, trusted_certificate)
        _check_signer(signed_data, signer, certificate)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TimestampError(f"not a well-formed timestamp token: {exc}") from None
    if trusted_certificate is not None and certificate != trusted_certificate:
        try:
            certificate.verify_directly_issued_by(trusted_certificate)
        except (ValueError, TypeError, InvalidSignature):
            raise TimestampError("the token's signer is not the trusted TSA certificate nor issued by it") from None
    return TimestampInfo(
        gen_time=tst_info["gen_time"].native,
        serial_number=tst_info["serial_number"].native,
        policy=tst_info["policy"].dotted,
        tsa_subject=certificate.subject.rfc4514_string(),
    )


def _tst_info(content_info):
    if content_info["content_type"].native != "signed_data":
        raise TimestampError("the token is not CMS SignedData")
    encap = content_info["content"]["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise TimestampError("the token does not hold a TSTInfo")
    return encap["content"].parsed


def _check_imprint(tst_info, digest: bytes | None, data: bytes | None = None) -> None:
    imprint = tst_info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if data is not None:
        if algorithm not in _HASHES or algorithm == "sha1":
            raise TimestampError(f"unsupported imprint hash {algorithm}")
        digest = hashlib.new(algorithm, data).digest()
    if imprint["hashed_message"].native != digest:
        raise TimestampError("the token timestamps a different hash")


def _signer_certificate(signed_data, signer, trusted: x509.Certificate | None) -> x509.Certificate:
    sid = signer["sid"]
    for choice in signed_data["certificates"] or ():
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.issuer == ias["issuer"] and cert.serial_number == ias["serial_number"].native:
                return x509.load_der_x509_certificate(cert.dump())
        elif cert.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(cert.dump())
    if trusted is not None:
        return trusted
    raise TimestampError("the token carries no signer certificate and none is configured")


def _check_signer(signed_data, signer, certificate: x509.Certificate) -> None:
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise TimestampError(f"unsupported digest {digest_name}")
    attrs = signer["signed_attrs"]
    if not attrs:
        raise TimestampError("the token has no signed attributes")
    content = signed_data["encap_content_info"]["content"].contents
    message_digest = next((a["values"][0].native for a in attrs if a["type"].native == "message_digest"), None)
    if message_digest != hashlib.new(digest_name, content).digest():
        raise TimestampError("the signed attributes do not match the TSTInfo")
    signed_bytes = b"\x31" + attrs.dump()[1:]
    signature = signer["signature"].native
    algorithm = signer["signature_algorithm"].signature_algo
    hash_cls = _HASHES[digest_name]
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm == "rsassa_pkcs1v15":
            key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_cls())
        elif isinstance(key, rsa.RSAPublicKey) and algorithm == "rsassa_pss":
            key.verify(signature, signed_bytes, padding.PSS(padding.MGF1(hash_cls()), padding.PSS.AUTO), hash_cls())
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm == "ecdsa":
            key.verify(signature, signed_bytes, ec.ECDSA(hash_cls()))
        elif isinstance(key, ed25519.Ed25519PublicKey) and algorithm == "ed25519":
            key.verify(signature, signed_bytes)
        else:
            raise TimestampError(f"unsupported TSA signature {algorithm} with {type(key).__name__}")
    except InvalidSignature:
        raise TimestampError("the TSA's signature does not verify") from None


class TimestampClient:
    """Asks one TSA for tokens over HTTP (``application/timestamp-query``)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        trusted_certificate: x509.Certificate | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        _require()
        self.url = url
        self.trusted_certificate = trusted_certificate
        self._client = client or httpx.Client(timeout=timeout)

    def stamp(self, data: bytes) -> bytes:
        """A verified token for SHA-256(``data``)."""
        digest = hashlib.sha256(data).digest()
        nonce = secrets.randbits(63)
        try:
            response = self._client.post(
                self.url,
                content=build_request(digest, nonce),
                headers={"content-type": "application/timestamp-query", "accept": "application/timestamp-reply"},
            )
        except httpx.HTTPError as exc:
            raise TimestampError(f"the TSA at {self.url} did not answer: {exc}") from None
        if response.status_code != 200:
            raise TimestampError(f"the TSA at {self.url} answered HTTP {response.status_code}")
        token = parse_response(response.content, digest, nonce)
        verify_token(token, data, self.trusted_certificate)
        return token

    def close(self) -> None:
        self._client.close()
