"""RAG context and the tenant's limits and guardrails: the context is reserved against the quota at
admission, and personal data in retrieved chunks is masked before it reaches the model."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.gateway.knowledge.documents import VACATION_POLICY
from tests.gateway.knowledge.test_rag_chat import LEAVE_QUESTION, chat, enable, upstream_messages
from tests.gateway.test_attested_responses import verify_independently

EMAIL = "ayse.yilmaz@acme-hr.com"
PHONE = "+90 532 123 45 67"
HR_CONTACTS = f"""HR contacts for paid annual leave

Questions about paid annual leave and leave requests go to Ayşe Yılmaz in HR: write to {EMAIL}
or call {PHONE} on weekdays. Leave requests longer than two weeks also need a director's approval.
"""
CONTACT_QUESTION = [{"role": "user", "content": "Whom do I contact in HR about my paid annual leave request?"}]


def test_a_quota_that_cannot_hold_the_context_refuses_at_admission(kstack_sqlite):
    kstack = kstack_sqlite
    key = kstack.gateway.tenant("frugal", rpm=1000, daily_tokens=300)
    kstack.keys["frugal"] = key
    kstack.gateway.route("frugal", "base", [{"backend": "gpu", "model": "qwen"}])
    assert kstack.upload("frugal", "vacation.md", VACATION_POLICY).status_code == 201
    enable(kstack, "frugal")  # the default context budget: 800 tokens

    refused = chat(kstack, "frugal", LEAVE_QUESTION, max_tokens=20)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "insufficient_quota"
    assert kstack.vllm.bodies("chat") == []

    without_rag = chat(kstack, "frugal", LEAVE_QUESTION, max_tokens=20, paramgate={"rag": False})
    assert without_rag.status_code == 200, without_rag.text

    enable(kstack, "frugal", token_budget=100)
    with_small_context = chat(kstack, "frugal", LEAVE_QUESTION, max_tokens=20)
    assert with_small_context.status_code == 200, with_small_context.text
    assert "24 days of paid annual leave" in upstream_messages(kstack)[0]["content"]


@pytest.mark.parametrize("stream", [False, True])
def test_personal_data_in_retrieved_chunks_is_masked_before_the_model_sees_it(kstack_guarded, stream):
    kstack = kstack_guarded
    assert kstack.upload("acme", "hr-contacts.md", HR_CONTACTS).status_code == 201
    enable(kstack, "acme")
    own_email = "mehmet.demir@example.com"
    question = [{"role": "user", "content": f"{CONTACT_QUESTION[0]['content']} My address is {own_email}."}]
    response = chat(kstack, "acme", question, stream=stream)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-rag-documents"]

    sent = upstream_messages(kstack)
    context = sent[0]["content"]
    assert sent[0]["role"] == "system" and "HR contacts" in context
    assert EMAIL not in context and "532 123 45 67" not in context
    assert "[EMAIL_2]" in context and "[PHONE_1]" in context
    assert own_email not in sent[1]["content"] and "[EMAIL_1]" in sent[1]["content"]

    if not stream:
        jwks = httpx.get(f"{kstack.gateway.url}/v1/attestation/keys").json()
        payload = verify_independently(response.headers["x-attestation"], jwks)
        assert payload["rag"]["context_sha256"] == hashlib.sha256(context.encode()).hexdigest()


def test_without_guardrails_the_context_goes_as_it_is(kstack_sqlite):
    kstack = kstack_sqlite
    assert kstack.upload("acme", "hr-contacts.md", HR_CONTACTS).status_code == 201
    enable(kstack, "acme")
    assert chat(kstack, "acme", CONTACT_QUESTION).status_code == 200
    assert EMAIL in upstream_messages(kstack)[0]["content"]
