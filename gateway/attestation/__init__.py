"""Ed25519 attestation of every answer, signing keys, and the hash-chained audit log.

See ``README.md`` in this folder for the payload, the compact form and how to verify them.
"""

from gateway.attestation.audit import AuditLog, ChainBreak
from gateway.attestation.canonical import canonicalize
from gateway.attestation.keys import KeyEncryptionError, KeyEncryptionKey, KeyStore, PublicKeyInfo
from gateway.attestation.payload import ChoiceOutput, Output, OutputCollector, ToolCall, messages_sha256
from gateway.attestation.service import AttestationService
from gateway.attestation.settings import AttestationSettings
from gateway.attestation.signer import Attestation, MalformedAttestation
from gateway.attestation.verify import Reason, Verdict

__all__ = [
    "Attestation",
    "AttestationService",
    "AttestationSettings",
    "AuditLog",
    "ChainBreak",
    "ChoiceOutput",
    "KeyEncryptionError",
    "KeyEncryptionKey",
    "KeyStore",
    "MalformedAttestation",
    "Output",
    "OutputCollector",
    "PublicKeyInfo",
    "Reason",
    "ToolCall",
    "Verdict",
    "canonicalize",
    "messages_sha256",
]
