"""The audit chain and attestation verification pages, against the gateway's own attestation service."""

from __future__ import annotations

import json

from tests.admin.harness import Console, ConsoleClient, soup, wait_attested
from tests.gateway.harness import wait_for


def test_verifying_an_answer_in_the_console(console: Console, attestations):
    admin: ConsoleClient = console.signed_in()
    admin.page("/admin/tenants")
    admin.htmx("POST", "/admin/tenants", data={"name": "acme", "enabled": "on", "allow_default_models": "on"})
    issued = admin.htmx("POST", "/admin/tenants/acme/keys", data={"name": "app"})
    key = soup(issued).find(id="issued-key").get_text(strip=True)
    messages = [{"role": "user", "content": "sign this answer"}]
    raw = console.openai(key).chat.completions.with_raw_response.create(model="qwen", messages=messages)
    completion, request_id = raw.parse(), raw.headers["x-request-id"]
    assert wait_for(lambda: console.console.ledger.request(request_id) is not None, timeout=5)
    wait_attested(console, request_id)
    assert raw.headers["x-attestation"].count(".") == 2

    form = soup(admin.get("/admin/attestations/verify", params={"request_id": request_id}))
    compact = form.find("textarea", attrs={"name": "attestation"}).get_text()
    assert compact.count(".") == 2  # the stored attestation, prefilled

    valid = admin.htmx(
        "POST",
        "/admin/attestations/verify",
        data={
            "attestation": compact,
            "output": completion.choices[0].message.content,
            "messages": json.dumps(messages),
        },
    )
    verdict = soup(valid).find(id="verdict")
    assert "Valid" in verdict.find(class_="verdict-line").get_text()
    assert "signature, messages, output" in verdict.get_text()

    tampered = admin.htmx("POST", "/admin/attestations/verify", data={"attestation": compact, "output": "forged"})
    line = soup(tampered).find(class_="verdict-line").get_text()
    assert "Not valid" in line and "output_hash_mismatch" in line

    broken = admin.htmx("POST", "/admin/attestations/verify", data={"attestation": "{not json"})
    assert broken.status_code == 422 and "Not valid JSON" in soup(broken).find(id="err-attestation").get_text()

    chain = soup(admin.get("/admin/audit", params={"tab": "chain"}))
    text = chain.find(id="audit-list").get_text()
    assert request_id in text and "tenant.create" in text and "key.create" in text and "console:admin" in text
    verdict = admin.htmx("POST", "/admin/audit/verify-chain")
    assert "The chain is intact" in verdict.text
