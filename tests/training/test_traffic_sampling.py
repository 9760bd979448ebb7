"""Traffic sampling: opt-in per tenant, PII masked one-way by the tenant's policy, streams included."""

from __future__ import annotations

from sqlmodel import select

from gateway.traffic_samples import TrafficSample, set_sampling_rate
from tests.gateway.harness import wait_for
from tests.training.conftest import Stack


def samples(stack: Stack) -> list[TrafficSample]:
    stack.console.services.sampler.flush()
    with stack.console.services.db.session() as session:
        return list(session.exec(select(TrafficSample).order_by(TrafficSample.id)))


def test_an_opted_in_tenant_is_sampled_with_pii_masked_one_way(stack: Stack):
    acme = stack.tenant("acme")
    stack.tenant("other")
    put = stack.console.admin_api.put("/admin/api/tenants/acme/guardrails", json={"reversible_masking": True})
    assert put.status_code == 200, put.text
    set_sampling_rate(stack.console.services.db, acme, 1.0)
    sampler = stack.console.services.sampler
    assert wait_for(lambda: sampler.rates.get(acme) == 1.0)
    client = stack.console.openai(stack.key("acme"))
    prompt = "Write to jane.doe@example.com about the refund"
    answer = client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": prompt}])
    # the client sees its own e-mail restored (reversible policy) ...
    assert "jane.doe@example.com" in answer.choices[0].message.content
    streamed = client.chat.completions.create(
        model="qwen", messages=[{"role": "user", "content": "Call +90 532 123 45 67 today please"}], stream=True
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    other = stack.console.openai(stack.key("other"))
    other.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "not sampled"}])
    assert wait_for(lambda: len(samples(stack)) == 2)
    first, second = samples(stack)
    # ... but the stored sample never holds it: masked one-way, prompt and answer alike
    assert first.tenant_id == acme and second.tenant_id == acme
    assert "jane.doe@example.com" not in first.messages[0]["content"] + first.answer
    assert "[EMAIL" in first.messages[0]["content"] and "[EMAIL" in first.answer
    assert "532 123 45 67" not in second.messages[0]["content"] + second.answer
    assert first.request_id and first.model == "qwen"


def test_a_tenant_that_did_not_opt_in_or_opted_out_is_not_sampled(stack: Stack):
    acme = stack.tenant("acme")
    client = stack.console.openai(stack.key("acme"))
    client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hello"}])
    assert samples(stack) == []
    set_sampling_rate(stack.console.services.db, acme, 1.0)
    assert wait_for(lambda: stack.console.services.sampler.rates.get(acme) == 1.0)
    client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hello again"}])
    assert wait_for(lambda: len(samples(stack)) == 1)
    set_sampling_rate(stack.console.services.db, acme, 0.0)
    assert wait_for(lambda: acme not in stack.console.services.sampler.rates)
    client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "and again"}])
    assert len(samples(stack)) == 1
