"""Round trips, tamper detection, and a verifier written from the documentation alone."""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.attestation import Attestation, Output, OutputCollector, Reason
from tests.gateway.attestation.conftest import COMPLETION, REQUEST, attest


def test_round_trip_both_forms(service):
    attestation = attest(service, "req_round")
    for form in (attestation.compact(), attestation.as_dict(), json.loads(json.dumps(attestation.as_dict()))):
        verdict = service.verify(form, output_text="Güneşli, 24°C.", messages=REQUEST["messages"])
        assert verdict.valid, verdict
        assert verdict.checked == ("signature", "messages", "output")
    assert service.verify(attestation.as_dict(), completion=COMPLETION).valid
    payload = attestation.payload
    assert payload["request_id"] == "req_round"
    assert payload["tenant"] == "HQ" and payload["user"] == "alice"
    assert payload["model"] == "support" and payload["backend"] == "gpu-1"
    assert payload["upstream_model"] == "qwen:acme-legal"
    assert payload["sampling"] == {"temperature": 0.7, "max_tokens": 128}
    assert payload["kid"] == attestation.kid
    assert payload["choices"][0]["content_sha256"] == hashlib.sha256("Güneşli, 24°C.".encode()).hexdigest()


def test_bare_payload_plus_signature(service):
    attestation = attest(service, "req_bare")
    body = attestation.as_dict()
    assert service.verify(body["payload"], body["signature"], output_text="Güneşli, 24°C.").valid


def test_every_single_byte_change_to_the_output_is_detected(service):
    attestation = attest(service, "req_output")
    text = "Güneşli, 24°C.".encode()
    for i in range(len(text)):
        changed = bytearray(text)
        changed[i] ^= 0x01
        verdict = service.verify(attestation.compact(), output_text=changed.decode("utf-8", "replace"))
        assert not verdict.valid and verdict.reason is Reason.OUTPUT_HASH_MISMATCH
    changed_completion = copy.deepcopy(COMPLETION)
    changed_completion["choices"][0]["finish_reason"] = "length"
    verdict = service.verify(attestation.compact(), completion=changed_completion)
    assert verdict.reason is Reason.OUTPUT_HASH_MISMATCH and "finish_reason" in verdict.detail


def test_every_single_byte_change_to_the_payload_is_detected(service):
    attestation = attest(service, "req_payload")
    header, payload, signature = attestation.compact().split(".")
    raw = base64.urlsafe_b64decode(payload + "==")
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
        verdict = service.verify(f"{header}.{forged}.{signature}")
        assert not verdict.valid, i
        assert verdict.reason in (Reason.BAD_SIGNATURE, Reason.MALFORMED, Reason.UNKNOWN_KEY), verdict


def test_every_single_byte_change_to_the_signature_is_detected(service):
    attestation = attest(service, "req_signature")
    body = attestation.as_dict()
    raw = attestation.signature
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x80
        forged = dict(body, signature=base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode())
        verdict = service.verify(forged)
        assert not verdict.valid and verdict.reason is Reason.BAD_SIGNATURE


def test_edited_object_form_fields_are_detected(service):
    body = attest(service, "req_fields").as_dict()
    for field, value in [("tenant", "Medical"), ("model", "gpt-4"), ("created", "2020-01-01T00:00:00.000000Z")]:
        forged = copy.deepcopy(body)
        forged["payload"][field] = value
        assert service.verify(forged).reason is Reason.BAD_SIGNATURE
    forged = copy.deepcopy(body)
    forged["payload"]["sampling"]["temperature"] = 0.70000001
    assert service.verify(forged).reason is Reason.BAD_SIGNATURE


def test_changed_messages_are_detected(service):
    attestation = attest(service, "req_messages")
    messages = copy.deepcopy(REQUEST["messages"])
    messages[1]["content"] += " "
    verdict = service.verify(attestation.compact(), messages=messages)
    assert verdict.reason is Reason.MESSAGES_HASH_MISMATCH


def test_unknown_key_and_malformed(service):
    body = attest(service, "req_unknown").as_dict()
    other = copy.deepcopy(body)
    other["kid"] = other["payload"]["kid"] = "not-a-key"
    assert service.verify(other).reason is Reason.UNKNOWN_KEY
    assert service.verify("not.an.attestation").reason is Reason.MALFORMED
    assert service.verify({"payload": 3}).reason is Reason.MALFORMED
    mixed = copy.deepcopy(body)
    mixed["kid"] = "someone-else"
    assert service.verify(mixed).reason is Reason.MALFORMED
    assert service.verify(dict(body, timestamp_token="%%%")).reason is Reason.MALFORMED
    assert service.verify(body, completion={"choices": ["text"]}).reason is Reason.MALFORMED
    assert service.verify(body, output_text=[5]).reason is Reason.MALFORMED


def test_multi_choice_and_tool_calls(service):
    completion = {
        "choices": [
            {"index": 1, "message": {"role": "assistant", "content": "ikinci"}, "finish_reason": "stop"},
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"İzmir"}'},
                        },
                        {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": "{}"}},
                    ],
                },
                "finish_reason": "tool_calls",
            },
        ]
    }
    attestation = attest(
        service, "req_tools", completion=completion, request={**REQUEST, "n": 2, "tools": [{"type": "function"}]}
    )
    choices = attestation.payload["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    assert choices[0]["content_sha256"] == hashlib.sha256(b"").hexdigest()
    expected_calls = '[{"arguments":"{\\"city\\":\\"İzmir\\"}","name":"weather"},{"arguments":"{}","name":"time"}]'
    assert choices[0]["tool_calls_sha256"] == hashlib.sha256(expected_calls.encode()).hexdigest()
    assert attestation.payload["tools_sha256"] is not None
    assert service.verify(attestation.compact(), completion=completion).valid
    assert service.verify(attestation.compact(), output_text=["", "ikinci"]).valid
    assert service.verify(attestation.compact(), output_text=["", "birinci"]).reason is Reason.OUTPUT_HASH_MISMATCH
    changed = copy.deepcopy(completion)
    changed["choices"][1]["message"]["tool_calls"][0]["function"]["arguments"] = '{"city":"Izmir"}'
    verdict = service.verify(attestation.compact(), completion=changed)
    assert verdict.reason is Reason.OUTPUT_HASH_MISMATCH and "tool_calls_sha256" in verdict.detail


def test_a_stream_and_the_same_answer_unstreamed_hash_alike():
    completion = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hava güzel.",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"a":1}'}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "Hava "}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "güzel."}, "finish_reason": None}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "weather", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}},
    ]
    collector = OutputCollector()
    for chunk in chunks:
        collector.observe(chunk)
    assert collector.output() == Output.from_completion(completion)


# A third party's verifier: only `cryptography`, the standard library, and gateway/attestation/README.md.


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jcs(value) -> bytes:
    """RFC 8785 for what an attestation holds: no non-BMP member names; numbers as ECMAScript prints them."""

    def number(x):
        if isinstance(x, bool) or not isinstance(x, float):
            return x
        return int(x) if x.is_integer() and abs(x) < 1e21 else x

    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return number(v)

    return json.dumps(walk(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def independent_verify(token_or_object, jwks: dict, output_text: str, messages: list) -> dict:
    if isinstance(token_or_object, str):
        header_b64, payload_b64, signature_b64 = token_or_object.split(".")
        header = json.loads(_b64url_decode(header_b64))
    else:
        header = {"alg": "EdDSA", "kid": token_or_object["kid"], "typ": "paramgate-attestation"}
        header_b64 = _b64url(_jcs(header))
        payload_b64 = _b64url(_jcs(token_or_object["payload"]))
        signature_b64 = token_or_object["signature"]
    assert header["alg"] == "EdDSA"
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    key = Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk["x"]))
    thumbprint = _b64url(hashlib.sha256(_jcs({"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]})).digest())
    assert thumbprint == jwk["kid"]
    key.verify(_b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode("ascii"))
    payload = json.loads(_b64url_decode(payload_b64))
    assert payload["kid"] == header["kid"]
    assert payload["choices"][0]["content_sha256"] == hashlib.sha256(output_text.encode()).hexdigest()
    assert payload["messages_sha256"] == hashlib.sha256(_jcs(messages)).hexdigest()
    return payload


def test_an_independent_verifier_accepts_the_service_attestations(service):
    jwks = json.loads(json.dumps(service.jwks()))
    for i, request in enumerate([REQUEST, {**REQUEST, "temperature": 1.0, "top_p": 0.95, "stop": ["\n"]}]):
        attestation = attest(service, f"req_independent_{i}", request=request)
        wire_object = json.loads(json.dumps(attestation.as_dict()))
        for form in (attestation.compact(), wire_object):
            payload = independent_verify(form, jwks, "Güneşli, 24°C.", request["messages"])
            assert payload["request_id"] == f"req_independent_{i}"
    forged = attestation.compact()[:-2] + ("AA" if not attestation.compact().endswith("AA") else "BB")
    with pytest.raises(InvalidSignature):
        independent_verify(forged, jwks, "Güneşli, 24°C.", REQUEST["messages"])


def test_stored_attestations_are_fetched_by_their_tenant_only(service):
    attestation = attest(service, "req_tenant", tenant_id=7)
    assert service.get("req_tenant", 7).compact() == attestation.compact()
    assert service.get("req_tenant", 8) is None
    assert service.flush()
    fetched = service.get("req_tenant", 7)
    assert isinstance(fetched, Attestation) and fetched.compact() == attestation.compact()
    assert fetched.as_dict() == json.loads(json.dumps(attestation.as_dict()))
    assert service.get("req_tenant", 8) is None
    assert service.get("req_missing", 7) is None
    assert [a.request_id for a in service.list_for_tenant(7)] == ["req_tenant"]
    assert service.list_for_tenant(8) == []


def test_messages_hashed_before_guardrails_changed_them(service):
    from gateway.attestation import messages_sha256

    original = copy.deepcopy(REQUEST)
    digest = messages_sha256(original["messages"])
    masked = copy.deepcopy(REQUEST)
    masked["messages"][1]["content"] = "Merhaba, [LOCATION]'da hava nasıl?"
    attestation = attest(service, "req_masked", request=masked, messages_sha256=digest)
    assert service.verify(attestation.compact(), messages=original["messages"]).valid
    assert service.verify(attestation.compact(), messages=masked["messages"]).reason is Reason.MESSAGES_HASH_MISMATCH
