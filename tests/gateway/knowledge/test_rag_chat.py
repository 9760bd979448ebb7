"""RAG on the chat path, through the running gateway against a fake vLLM: context, attribution, attestation."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from gateway.attestation.payload import messages_sha256
from tests.gateway.knowledge.documents import EXPENSES_POLICY, GLOBEX_SECRET, VACATION_POLICY
from tests.gateway.test_attested_responses import verify_independently

LEAVE_QUESTION = [{"role": "user", "content": "How many days of paid annual leave do I get per year?"}]


def enable(kstack, tenant: str, **settings) -> None:
    response = kstack.admin.put(
        f"/admin/api/tenants/{tenant}/knowledge/settings", json={"rag_enabled": True, **settings}
    )
    assert response.status_code == 200, response.text
    kstack.gateway.services.directory.reload()


def chat(kstack, tenant: str, messages, **extra) -> httpx.Response:
    return httpx.post(
        f"{kstack.gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {kstack.keys[tenant]}"},
        json={"model": "base", "messages": messages, **extra},
        timeout=30,
    )


def upstream_messages(kstack) -> list[dict]:
    return kstack.vllm.bodies("chat")[-1]["messages"]


@pytest.fixture
def acme_docs(kstack_sqlite):
    ids = {}
    for name, text in (("vacation.md", VACATION_POLICY), ("expenses.txt", EXPENSES_POLICY)):
        response = kstack_sqlite.upload("acme", name, text)
        assert response.status_code == 201
        ids[name] = response.json()
    kstack_sqlite.upload("globex", "falcon.txt", GLOBEX_SECRET)
    return ids


def test_context_is_injected_attributed_and_attested(kstack_sqlite, acme_docs):
    kstack = kstack_sqlite
    enable(kstack, "acme")
    question = [{"role": "system", "content": "You are Acme's HR assistant."}, *LEAVE_QUESTION]
    response = chat(kstack, "acme", question)
    assert response.status_code == 200, response.text
    vacation = acme_docs["vacation.md"]

    sent = upstream_messages(kstack)
    assert [m["role"] for m in sent] == ["system", "system", "user"]
    assert sent[0] == question[0] and sent[2] == question[1]
    context = sent[1]["content"]
    assert "24 days of paid annual leave" in context and "[1] vacation.md" in context
    assert "ZEBRA" not in context

    used = response.headers["x-gateway-rag-documents"].split(",")
    assert str(vacation["id"]) in used
    body = response.json()
    documents = body["paramgate"]["rag"]["documents"]
    assert {d["id"] for d in documents} == {int(i) for i in used}
    assert next(d for d in documents if d["id"] == vacation["id"])["sha256"] == vacation["sha256"]
    assert "paramgate" not in kstack.vllm.bodies("chat")[-1]

    jwks = httpx.get(f"{kstack.gateway.url}/v1/attestation/keys").json()
    payload = verify_independently(response.headers["x-attestation"], jwks)
    assert payload["rag"]["documents"] == [{"id": d["id"], "sha256": d["sha256"]} for d in documents]
    assert payload["rag"]["context_sha256"] == hashlib.sha256(context.encode()).hexdigest()
    assert payload["messages_sha256"] == messages_sha256(question)


def test_without_rag_nothing_is_added(kstack_sqlite, acme_docs):
    response = chat(kstack_sqlite, "acme", LEAVE_QUESTION)
    assert response.status_code == 200
    assert upstream_messages(kstack_sqlite) == LEAVE_QUESTION
    assert "x-gateway-rag-documents" not in response.headers and "paramgate" not in response.json()
    payload = verify_independently(
        response.headers["x-attestation"], httpx.get(f"{kstack_sqlite.gateway.url}/v1/attestation/keys").json()
    )
    assert "rag" not in payload


def test_the_request_extension_turns_rag_on_and_off(kstack_sqlite, acme_docs):
    kstack = kstack_sqlite
    client = kstack.gateway.openai(kstack.keys["acme"])
    raw = client.chat.completions.with_raw_response.create(
        model="base", messages=LEAVE_QUESTION, extra_body={"paramgate": {"rag": True, "top_k": 1}}
    )
    assert raw.headers["x-gateway-rag-documents"] == str(acme_docs["vacation.md"]["id"])
    assert raw.parse().choices[0].message.content
    assert upstream_messages(kstack)[0]["role"] == "system"

    enable(kstack, "acme")
    off = chat(kstack, "acme", LEAVE_QUESTION, paramgate={"rag": False})
    assert off.status_code == 200 and "x-gateway-rag-documents" not in off.headers
    assert upstream_messages(kstack) == LEAVE_QUESTION


def test_unrelated_questions_get_no_context(kstack_sqlite, acme_docs):
    enable(kstack_sqlite, "acme")
    question = [{"role": "user", "content": "Who won the football world cup in 1998?"}]
    response = chat(kstack_sqlite, "acme", question)
    assert response.status_code == 200 and "x-gateway-rag-documents" not in response.headers
    assert upstream_messages(kstack_sqlite) == question


def test_another_tenant_never_gets_these_documents(kstack_sqlite, acme_docs):
    kstack = kstack_sqlite
    enable(kstack, "globex", threshold=-1.0, top_k=10)
    response = chat(kstack, "globex", LEAVE_QUESTION)
    assert response.status_code == 200
    used = response.headers["x-gateway-rag-documents"].split(",")
    acme_ids = {str(d["id"]) for d in acme_docs.values()}
    assert used and not set(used) & acme_ids
    context = upstream_messages(kstack)[0]["content"]
    assert "ZEBRA-7731" in context and "24 days" not in context and "150 euros" not in context


def test_streamed_answers_carry_the_header_and_attest_the_documents(kstack_sqlite, acme_docs):
    kstack = kstack_sqlite
    enable(kstack, "acme")
    with httpx.stream(
        "POST",
        f"{kstack.gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {kstack.keys['acme']}"},
        json={"model": "base", "messages": LEAVE_QUESTION, "stream": True},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        header = response.headers["x-gateway-rag-documents"]
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    attestation = [json.loads(e)["attestation"] for e in events[:-1] if "attestation" in json.loads(e)][-1]
    documents = [str(d["id"]) for d in attestation["payload"]["rag"]["documents"]]
    assert documents == header.split(",")
    verdict = httpx.post(f"{kstack.gateway.url}/v1/attestations/verify", json={"attestation": attestation}).json()
    assert verdict["valid"] is True


@pytest.mark.parametrize(
    ("extension", "param"),
    [
        ("yes", "paramgate"),
        ({"rag": "yes"}, "paramgate.rag"),
        ({"top_k": 0}, "paramgate.top_k"),
        ({"k": 1}, "paramgate"),
    ],
)
def test_a_bad_extension_is_a_clear_400(kstack_sqlite, extension, param):
    response = chat(kstack_sqlite, "acme", LEAVE_QUESTION, paramgate=extension)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert kstack_sqlite.vllm.bodies("chat") == []
