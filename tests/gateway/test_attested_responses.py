"""Every completion through the running gateway is attested: header, body on request, stream, fetch, verify."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.gateway.test_chat_proxy import HELLO


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def verify_independently(compact: str, jwks: dict) -> dict:
    """Check a compact attestation with nothing but `cryptography` and the JWKS."""
    header_b64, payload_b64, signature_b64 = compact.split(".")
    header = json.loads(b64url(header_b64))
    (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    public = Ed25519PublicKey.from_public_bytes(b64url(key["x"]))
    public.verify(b64url(signature_b64), f"{header_b64}.{payload_b64}".encode())
    return json.loads(b64url(payload_b64))


def test_a_completion_carries_a_verifiable_attestation(stack):
    client = stack.gateway.openai(stack.key)
    raw = client.chat.completions.with_raw_response.create(model="qwen", messages=HELLO, temperature=0.3)
    completion = raw.parse()
    jwks = httpx.get(f"{stack.gateway.url}/v1/attestation/keys").json()
    payload = verify_independently(raw.headers["x-attestation"], jwks)
    assert payload["request_id"] == raw.headers["x-request-id"]
    assert (payload["tenant"], payload["model"], payload["backend"], payload["upstream_model"]) == (
        "acme", "qwen", "gpu-1", "qwen")
    assert payload["sampling"]["temperature"] == 0.3
    text = completion.choices[0].message.content
    assert payload["choices"][0]["content_sha256"] == hashlib.sha256(text.encode()).hexdigest()

    verdict = httpx.post(f"{stack.gateway.url}/v1/attestations/verify",
                         json={"attestation": raw.headers["x-attestation"], "output": text}).json()
    assert verdict["valid"] is True
    tampered = httpx.post(f"{stack.gateway.url}/v1/attestations/verify",
                          json={"attestation": raw.headers["x-attestation"], "output": text + "!"}).json()
    assert tampered["valid"] is False and tampered["reason"] == "output_hash_mismatch"


def test_the_attestation_is_fetchable_by_the_same_tenant_only(stack):
    raw = stack.gateway.openai(stack.key).chat.completions.with_raw_response.create(model="qwen", messages=HELLO)
    request_id = raw.headers["x-request-id"]
    mine = httpx.get(f"{stack.gateway.url}/v1/attestations/{request_id}", headers={"authorization": f"Bearer {stack.key}"})
    assert mine.status_code == 200 and mine.json()["compact"] == raw.headers["x-attestation"]
    other = stack.gateway.tenant("globex")
    theirs = httpx.get(f"{stack.gateway.url}/v1/attestations/{request_id}", headers={"authorization": f"Bearer {other}"})
    assert theirs.status_code == 404


def test_the_body_carries_it_when_the_client_asks(stack):
    client = stack.gateway.openai(stack.key)
    completion = client.chat.completions.create(model="qwen", messages=HELLO,
                                                extra_headers={"x-gateway-attestation": "body"})
    attestation = completion.model_extra["attestation"]
    assert attestation["payload"]["choices"][0]["content_sha256"] == hashlib.sha256(b"hello there").hexdigest()
    plain = client.chat.completions.create(model="qwen", messages=HELLO)
    assert "attestation" not in (plain.model_extra or {})


def test_a_stream_ends_with_its_attestation_on_the_last_chunk(stack):
    client = stack.gateway.openai(stack.key)
    chunks = list(client.chat.completions.create(model="qwen", messages=HELLO, stream=True))
    assert all(c.choices for c in chunks), "no extra chunk without choices appears"
    attestation = chunks[-1].model_extra["attestation"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert attestation["payload"]["stream"] is True
    assert attestation["payload"]["choices"][0]["content_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    verdict = httpx.post(f"{stack.gateway.url}/v1/attestations/verify",
                         json={"attestation": attestation, "output": text}).json()
    assert verdict["valid"] is True


def test_admin_actions_join_the_audit_chain(stack):
    stack.gateway.admin.patch("/admin/api/tenants/acme", json={"rpm": 7})
    attestations = stack.gateway.services.attestations
    attestations.flush()
    assert attestations.verify_chain() is None
    from sqlmodel import select

    from gateway.attestation.models import AuditEntry

    with stack.gateway.services.db.session() as session:
        kinds = [e.kind for e in session.exec(select(AuditEntry))]
    assert "tenant.update" in kinds and "tenant.create" in kinds and "key.create" in kinds
