"""The Knowledge page (documents, settings, intents) and the dashboard's router panel, over HTTP and in Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from gateway.knowledge.seed_intents import SEED_INTENTS
from tests.admin.harness import ADMIN_PASSWORD, Console, ConsoleClient, field_error, soup
from tests.gateway.harness import wait_for
from tests.gateway.knowledge.documents import EXPENSES_POLICY, VACATION_POLICY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def acme(console: Console) -> str:
    assert console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).status_code == 201
    for alias, model in (("code-expert", "acme-legal"), ("base", "qwen")):
        body = {"targets": [{"backend": "gpu-1", "model": model}]}
        assert console.admin_api.put(f"/admin/api/tenants/acme/routes/{alias}", json=body).status_code == 200
    return console.admin_api.post("/admin/api/tenants/acme/keys").json()["key"]


@pytest.fixture
def admin(console: Console, acme) -> ConsoleClient:
    client = console.signed_in()
    client.page("/admin/knowledge?tenant=acme")
    return client


def document_names(response: httpx.Response) -> list[str]:
    table = soup(response).find(id="documents")
    return [row.find("td").get_text(strip=True) for row in table.find("tbody").find_all("tr")] if table else []


def test_documents_are_uploaded_deduplicated_deleted_and_reindexed(console: Console, admin: ConsoleClient):
    page = admin.page("/admin/knowledge")
    assert page.status_code == 303 and page.headers["location"].endswith("?tenant=acme")
    upload = admin.htmx("POST", "/admin/knowledge/acme/documents", files={"file": ("vacation.md", VACATION_POLICY)})
    assert upload.status_code == 200 and document_names(upload) == ["vacation.md"]
    again = admin.htmx("POST", "/admin/knowledge/acme/documents", files={"file": ("copy.md", VACATION_POLICY)})
    assert again.status_code == 422 and "already in the collection" in field_error(again, "file")
    wrong = admin.htmx("POST", "/admin/knowledge/acme/documents", files={"file": ("deck.pptx", b"PK\x03\x04")})
    assert wrong.status_code == 422 and ".txt, .md or .pdf" in field_error(wrong, "file")
    empty = admin.htmx("POST", "/admin/knowledge/acme/documents", data={"x": "1"})
    assert empty.status_code == 422 and field_error(empty, "file")
    second = admin.htmx("POST", "/admin/knowledge/acme/documents", files={"file": ("expenses.txt", EXPENSES_POLICY)})
    assert sorted(document_names(second)) == ["expenses.txt", "vacation.md"]

    job = admin.htmx("POST", "/admin/knowledge/acme/reindex")
    assert job.status_code == 200
    poll = soup(job).find(id="reindex-job")["hx-get"]

    def done():
        return "done" in soup(admin.htmx("GET", poll)).find(attrs={"data-status": True}).get_text()

    assert wait_for(done, timeout=60)
    document_id = soup(second).find("tr", attrs={"data-document": True})["data-document"]
    removed = admin.htmx("DELETE", f"/admin/knowledge/acme/documents/{document_id}")
    assert removed.status_code == 200 and len(document_names(removed)) == 1


def test_settings_are_validated_next_to_each_field(console: Console, admin: ConsoleClient):
    bad = admin.htmx(
        "POST", "/admin/knowledge/acme/settings", data={"top_k": "0", "threshold": "two", "token_budget": "800"}
    )
    assert bad.status_code == 422
    assert "whole number from 1 to 50" in field_error(bad, "top_k")
    assert "number from -1 to 1" in field_error(bad, "threshold")
    good = admin.htmx(
        "POST", "/admin/knowledge/acme/settings",
        data={"rag_enabled": "on", "top_k": "2", "threshold": "0.4", "token_budget": "600"},
    )  # fmt: skip
    assert good.status_code == 200 and soup(good).find(role="status")
    assert console.admin_api.get("/admin/api/tenants/acme/knowledge/settings").json()["top_k"] == 2


def test_intents_are_seeded_edited_and_shown_on_the_dashboard(console: Console, admin: ConsoleClient, acme: str):
    seeded = admin.htmx(
        "POST", "/admin/knowledge/acme/intents/seed",
        data={"seed.general_chat": "base", "seed.turkish_culture": "base", "seed.code_python": "code-expert",
              "seed.code_debug": "code-expert", "fallback": "base"},
    )  # fmt: skip
    assert seeded.status_code == 200, seeded.text
    form = soup(seeded).find(id="intent-editor")
    examples = form.find("textarea", attrs={"name": "intents.1.examples"}).get_text()
    assert len(examples.splitlines()) == len(SEED_INTENTS["code_python"])

    bad = admin.htmx(
        "POST", "/admin/knowledge/acme/intents",
        data={"fallback": "base", "threshold": "0.7", "intents.0.name": "code", "intents.0.target": "code-expert",
              "intents.0.examples": "one\ntwo"},
    )  # fmt: skip
    assert bad.status_code == 422 and "at least 3 example prompts" in field_error(bad, "intents.0.examples")
    bad = admin.htmx("POST", "/admin/knowledge/acme/intents", data={"threshold": "7", "intents.0.name": "x"})
    assert bad.status_code == 422 and "from 0 to 1" in field_error(bad, "threshold")

    client = console.openai(acme)
    reply = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Python ile fibonacci fonksiyonu yaz"}]
    )
    assert reply.headers["x-gateway-intent"] == "code_python"
    console.services.knowledge.decisions.flush()
    dashboard = admin.page("/admin/dashboard")
    panel = soup(dashboard).find(id="intent-router-panel")
    rows = [
        [td.get_text(strip=True) for td in tr.find_all("td")[:2]]
        for tr in panel.find(id="router-targets").tbody.find_all("tr")
    ]
    assert rows == [["code-expert", "1"]]
    assert sum(int(b["data-count"]) for b in panel.find_all(attrs={"data-bin": True})) == 1


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Chromium at {CHROMIUM}")
def test_an_operator_uploads_a_document_and_reindexes_in_chromium(console: Console, acme, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
    document = tmp_path / "vacation.md"
    document.write_text(VACATION_POLICY)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(base_url=console.url)
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto("/admin/login?next=/admin/knowledge")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("form[action='/admin/login'] button[type=submit]")
        page.goto("/admin/knowledge?tenant=acme")
        page.set_input_files("#document-upload input[name=file]", str(document))
        page.click("#document-upload button[type=submit]")
        sync_api.expect(page.locator("#documents tbody tr")).to_have_count(1)
        page.click("text=Re-index all")
        sync_api.expect(page.locator("#reindex-job [data-status]")).to_have_text("done")
        page.locator("#knowledge-settings input[name=top_k]").fill("lots")
        page.click("#knowledge-settings button[type=submit]")
        sync_api.expect(page.locator("#err-top_k")).to_contain_text("whole number")
        browser.close()
    assert errors == []
