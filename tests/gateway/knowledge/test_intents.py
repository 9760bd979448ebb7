"""The ``auto`` alias: prompts in Turkish and English routed to expert adapters, unsure ones to the base model."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from gateway.knowledge.models import IntentDecision
from gateway.knowledge.seed_intents import SEED_INTENTS
from tests.gateway.test_attested_responses import verify_independently

SEED_TARGETS = {
    "general_chat": "base",
    "turkish_culture": "turkish-expert",
    "code_python": "code-expert",
    "code_debug": "code-expert",
}


def seed(kstack, tenant: str = "acme", **extra) -> dict:
    response = kstack.admin.post(
        f"/admin/api/tenants/{tenant}/intents/seed", json={"targets": SEED_TARGETS, "fallback": "base", **extra}
    )
    assert response.status_code == 200, response.text
    kstack.gateway.services.directory.reload()
    return response.json()


def ask(kstack, prompt: str, tenant: str = "acme", model: str = "auto") -> httpx.Response:
    response = httpx.post(
        f"{kstack.gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {kstack.keys[tenant]}"},
        json={"model": model, "messages": [{"role": "user", "content": prompt}]},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response


def upstream_model(kstack) -> str:
    return kstack.vllm.bodies("chat")[-1]["model"]


def test_seed_intents_have_twenty_examples_in_both_languages():
    for name, examples in SEED_INTENTS.items():
        assert len(examples) >= 20, name
        assert any(any(ch in e for ch in "ğüşıöçİ") for e in examples), name
        assert sum(e.isascii() for e in examples) >= 8, name


@pytest.mark.parametrize(
    ("prompt", "intent", "adapter"),
    [
        ("Python ile fibonacci fonksiyonu yaz", "code_python", "python-coder"),
        ("Python ile bir listedeki asal sayıları bulan fonksiyon yazar mısın?", "code_python", "python-coder"),
        ("Write a Python function that checks whether a string is a palindrome.", "code_python", "python-coder"),
        ("Kodum ZeroDivisionError: division by zero hatası veriyor, nasıl düzeltirim?", "code_debug", "python-coder"),
        ("My script crashes with KeyError: 'user_id', what is wrong?", "code_debug", "python-coder"),
        ("Türk çayı nasıl demlenir ve neden ince belli bardakta içilir?", "turkish_culture", "turkish-chat"),
        ("What is the story behind the Whirling Dervishes of Konya?", "turkish_culture", "turkish-chat"),
    ],
)
def test_auto_sends_each_prompt_to_its_expert(kstack_sqlite, prompt, intent, adapter):
    seed(kstack_sqlite)
    response = ask(kstack_sqlite, prompt)
    assert response.headers["x-gateway-intent"] == intent
    assert float(response.headers["x-gateway-intent-confidence"]) >= 0.7
    assert upstream_model(kstack_sqlite) == adapter
    payload = verify_independently(
        response.headers["x-attestation"], httpx.get(f"{kstack_sqlite.gateway.url}/v1/attestation/keys").json()
    )
    assert payload["model"] == "auto" and payload["upstream_model"] == adapter


def test_everyday_chat_stays_on_the_base_model(kstack_sqlite):
    seed(kstack_sqlite)
    response = ask(kstack_sqlite, "Can you suggest a nice gift for my mother's birthday?")
    assert response.headers["x-gateway-intent-target"] == "base" and upstream_model(kstack_sqlite) == "qwen"


def test_unsure_prompts_go_to_the_base_model_and_every_decision_is_logged(kstack):
    seed(kstack)
    unsure = ask(kstack, "asdf qwerty zxcv")
    assert float(unsure.headers["x-gateway-intent-confidence"]) < 0.7
    assert unsure.headers["x-gateway-intent-target"] == "base" and upstream_model(kstack) == "qwen"
    ask(kstack, "Python ile fibonacci fonksiyonu yaz")
    services = kstack.gateway.services
    services.knowledge.decisions.flush()
    with services.db.session() as session:
        rows = session.exec(select(IntentDecision).order_by(IntentDecision.id)).all()
    assert [(r.target, r.fell_back) for r in rows] == [("base", True), ("code-expert", False)]
    assert rows[1].intent == "code_python" and rows[1].confidence >= 0.7
    assert rows[0].request_id == unsure.headers["x-request-id"]


def test_the_threshold_is_per_tenant(kstack_sqlite):
    seed(kstack_sqlite, threshold=0.9999)
    response = ask(kstack_sqlite, "Write a Python function that returns the nth Fibonacci number.")
    assert response.headers["x-gateway-intent"] == "code_python"
    assert upstream_model(kstack_sqlite) == "qwen"


def test_intents_belong_to_one_tenant(kstack_sqlite):
    seed(kstack_sqlite, "acme")
    missing = httpx.post(
        f"{kstack_sqlite.gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {kstack_sqlite.keys['globex']}"},
        json={"model": "auto", "messages": [{"role": "user", "content": "Python ile fibonacci fonksiyonu yaz"}]},
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    assert kstack_sqlite.admin.get("/admin/api/tenants/globex/intents").json()["intents"] == []


def test_models_lists_auto_only_for_tenants_with_intents(kstack_sqlite):
    def listed(tenant: str) -> set[str]:
        response = httpx.get(
            f"{kstack_sqlite.gateway.url}/v1/models", headers={"authorization": f"Bearer {kstack_sqlite.keys[tenant]}"}
        )
        return {entry["id"] for entry in response.json()["data"]}

    assert "auto" not in listed("acme")
    seed(kstack_sqlite, "acme")
    assert "auto" in listed("acme") and "auto" not in listed("globex")


def test_classify_is_a_dry_run(kstack_sqlite):
    seed(kstack_sqlite)
    result = kstack_sqlite.admin.post(
        "/admin/api/tenants/acme/intents/classify", json={"prompt": "Python ile fibonacci fonksiyonu yaz"}
    ).json()
    assert result["intent"] == "code_python" and result["target"] == "code-expert" and not result["fell_back"]
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-3
    kstack_sqlite.gateway.services.knowledge.decisions.flush()
    with kstack_sqlite.gateway.services.db.session() as session:
        assert session.exec(select(IntentDecision)).all() == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"intents": [{"name": "code", "target": "code-expert", "examples": ["a", "b"]}], "fallback": "base"},
            "intents[0].examples",
        ),
        (
            {"intents": [{"name": "code", "target": "gpt-9", "examples": ["a", "b", "c"]}], "fallback": "base"},
            "intents[0].target",
        ),
        ({"intents": [{"name": "code", "target": "code-expert", "examples": ["a", "b", "c"]}]}, "fallback"),
        (
            {"intents": [{"name": "code", "target": "code-expert", "examples": ["a", "b", "c"]}], "fallback": "nope"},
            "fallback",
        ),
        (
            {"intents": [{"name": "x y", "target": "base", "examples": ["a", "b", "c"]}], "fallback": "base"},
            "intents[0].name",
        ),
        ({"intents": [], "fallback": "base", "threshold": 1.5}, "threshold"),
    ],
)
def test_bad_intents_are_refused_next_to_the_field(kstack_sqlite, body, param):
    response = kstack_sqlite.admin.put("/admin/api/tenants/acme/intents", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_another_replica_routes_with_the_new_intents(kstack_sqlite):
    from tests.gateway.harness import running_gateway, wait_for

    settings = kstack_sqlite.gateway.services.settings
    with running_gateway(settings) as replica:
        seed(kstack_sqlite)
        acme = next(t.id for t in replica.services.directory.snapshot.tenants.values() if t.name == "acme")
        assert wait_for(lambda: replica.services.knowledge.router.has_intents(acme), timeout=5)
        response = httpx.post(
            f"{replica.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {kstack_sqlite.keys['acme']}"},
            json={"model": "auto", "messages": [{"role": "user", "content": "Python ile fibonacci fonksiyonu yaz"}]},
            timeout=60,
        )
        assert response.status_code == 200 and response.headers["x-gateway-intent-target"] == "code-expert"


def test_a_broken_embedding_model_falls_back_instead_of_failing(sqlite_url, tmp_path):
    from tests.gateway.knowledge.conftest import knowledge_stack

    stack = knowledge_stack(sqlite_url, tmp_path, embedding_model=str(tmp_path / "no-such-model"))
    kstack = next(stack)
    try:
        seed(kstack)
        kstack.admin.put("/admin/api/tenants/acme/knowledge/settings", json={"rag_enabled": True})
        kstack.gateway.services.directory.reload()
        response = ask(kstack, "Python ile fibonacci fonksiyonu yaz")
        assert response.headers["x-gateway-intent"] == "none"
        assert response.headers["x-gateway-intent-target"] == "base" and upstream_model(kstack) == "qwen"
        assert "x-gateway-rag-documents" not in response.headers
        assert kstack.vllm.bodies("chat")[-1]["messages"] == [
            {"role": "user", "content": "Python ile fibonacci fonksiyonu yaz"}
        ]
    finally:
        stack.close()
