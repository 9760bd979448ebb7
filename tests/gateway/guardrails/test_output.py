"""apply_output on whole answers: reversible round trip, new PII masked, disclaimers, blocks."""

from __future__ import annotations

import pytest

from gateway.guardrails import MEDICAL_DISCLAIMER, GuardrailViolation, OutputBlocked, default_policy, domain_policy
from gateway.guardrails.policy import OutputChecks, PiiCheck, ToxicityCheck, ValidatorCheck


def user(text):
    return {"role": "user", "content": text}


async def test_reversible_round_trip_the_model_sees_placeholders_the_client_gets_originals(engine):
    policy = default_policy().replace(reversible_masking=True)
    prompt = "Write a short note to mehmet.kaya@example.com.tr and tell him to call 0533 765 43 21 about IBAN TR33 0006 1005 1978 6457 8413 26."
    verdict = await engine.check_input(policy, [user(prompt)])
    upstream = verdict.messages[0]["content"]
    assert "mehmet.kaya" not in upstream and "0533" not in upstream and "TR33" not in upstream
    assert upstream == "Write a short note to [EMAIL_1] and tell him to call [PHONE_1] about IBAN [IBAN_1]."
    answer = "Dear [EMAIL_1],\nplease call [PHONE_1] regarding the payment to [IBAN_1]. Regards"
    out = await engine.apply_output(policy, verdict.vault, answer)
    assert out.blocked is None
    assert out.text == (
        "Dear mehmet.kaya@example.com.tr,\nplease call 0533 765 43 21 regarding the payment to "
        "TR33 0006 1005 1978 6457 8413 26. Regards"
    )
    assert out.masked == {}  # restoring the client's own data is not masking


async def test_without_reversible_masking_placeholders_stay(engine):
    policy = default_policy()
    verdict = await engine.check_input(policy, [user("My email is jo@example.com")])
    out = await engine.apply_output(policy, verdict.vault, "I will write to [EMAIL_1].")
    assert out.text == "I will write to [EMAIL_1]."


async def test_new_pii_the_model_produced_is_masked_one_way(engine):
    policy = default_policy().replace(reversible_masking=True)
    verdict = await engine.check_input(policy, [user("I am ann@example.com")])
    answer = "Hi [EMAIL_1]! Our billing team is billing@acme.com, +44 20 7946 0958, TC 10000000146."
    out = await engine.apply_output(policy, verdict.vault, answer)
    assert out.text == "Hi ann@example.com! Our billing team is [EMAIL], [PHONE], TC [TCKN]."
    assert out.masked == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "TR_NATIONAL_ID": 1}


async def test_a_placeholder_the_vault_does_not_know_is_left_alone(engine):
    policy = default_policy().replace(reversible_masking=True)
    verdict = await engine.check_input(policy, [user("I am ann@example.com")])
    out = await engine.apply_output(policy, verdict.vault, "[EMAIL_1] and [EMAIL_7] and [PHONE_1]")
    assert out.text == "ann@example.com and [EMAIL_7] and [PHONE_1]"


async def test_medical_disclaimer_is_appended_once(engine):
    policy = domain_policy("medical")
    out = await engine.apply_output(policy, None, "Parasetamol ateş düşürücüdür.")
    assert out.text == "Parasetamol ateş düşürücüdür.\n\nBu bilgiler tıbbi tavsiye yerine geçmez."
    again = await engine.apply_output(policy, None, out.text)
    assert again.text == out.text  # a model that already wrote it does not get it twice
    assert (await engine.apply_output(policy, None, "")).text == ""  # nothing to disclaim


async def test_output_pii_block_and_append_disclaimer_actions(engine):
    block = default_policy().replace(output=OutputChecks(pii=PiiCheck(action="block")))
    out = await engine.apply_output(block, None, "Sure, the CEO's card is 4111 1111 1111 1111.")
    assert out.blocked is not None and out.blocked.check == "pii" and out.blocked.direction == "output"
    assert out.text == ""
    with pytest.raises(OutputBlocked):
        out.raise_for_block()
    assert out.audit()["outcome"] == "blocked" and "4111" not in str(out.audit())

    note = "Yanıt kişisel veri içerebilir; paylaşmadan önce kontrol edin."
    disclose = default_policy().replace(output=OutputChecks(pii=PiiCheck(action="append_disclaimer", disclaimer=note)))
    out = await engine.apply_output(disclose, None, "Ulaşmak için: destek@firma.com")
    assert out.text == f"Ulaşmak için: destek@firma.com\n\n{note}"
    assert [f.check for f in out.flags] == ["pii"]


async def test_toxic_answer_is_blocked_above_the_threshold(engine):
    policy = default_policy().replace(output=OutputChecks(toxicity=ToxicityCheck(action="block", threshold=0.7)))
    out = await engine.apply_output(policy, None, "Sen tam bir gerizekalısın, siktir git.")
    assert out.blocked is not None and out.blocked.check == "toxicity"
    ok = await engine.apply_output(policy, None, "Bu hata beni deli ediyor ama çözeceğiz.")
    assert ok.blocked is None


async def test_a_missing_guardrails_ai_validator_is_skipped_and_reported(engine, monkeypatch):
    import importlib

    real = importlib.import_module

    def no_guardrails(name, *args, **kwargs):
        if name.startswith("guardrails"):
            raise ImportError(name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", no_guardrails)
    engine.validators._cache.clear()
    policy = default_policy().replace(output=OutputChecks(validators=[ValidatorCheck(name="toxic_language")]))
    out = await engine.apply_output(policy, None, "Hello there")
    assert out.blocked is None and out.text == "Hello there"
    assert out.degraded and "toxic_language" in out.degraded[0]


def test_blocked_errors_are_openai_shaped_400s():
    from gateway.guardrails.verdicts import blocked

    error = blocked("jailbreak", "input", "no").error()
    assert isinstance(error, GuardrailViolation) and not isinstance(error, OutputBlocked)
    assert (error.status, error.type, error.code) == (400, "invalid_request_error", "content_policy_violation")
    assert isinstance(blocked("pii", "output", "no").error(), OutputBlocked)
    assert MEDICAL_DISCLAIMER == "Bu bilgiler tıbbi tavsiye yerine geçmez."
