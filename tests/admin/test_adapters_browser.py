"""The adapters page in real headless Chromium: upload a real PEFT adapter, assign it, start a canary
with the slider, roll it back — and the tenant's traffic follows."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from tests.admin.harness import ADMIN_PASSWORD, Console
from tests.gateway.adapters.builders import peft_adapter, zip_of
from tests.gateway.harness import wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

if not Path(CHROMIUM).exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = sync_api.expect


@pytest.fixture
def page(console: Console):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=console.url)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        problems: list[str] = []
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.on("console", lambda m: problems.append(m.text) if m.type == "error" and "Refused" in m.text else None)
        tab.on("dialog", lambda dialog: dialog.accept())  # hx-confirm
        yield tab
        browser.close()
        assert not problems, problems


def test_operator_uploads_assigns_and_rolls_back_a_canary(page, console: Console, tmp_path):
    archive = tmp_path / "legal-adapter.zip"
    archive.write_bytes(zip_of(peft_adapter(tmp_path / "adapter")))
    console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).raise_for_status()
    key = console.admin_api.post("/admin/api/tenants/acme/keys").json()["key"]

    page.goto("/admin/login?next=/admin/adapters")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("form[action='/admin/login'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/adapters$"))

    archive_input = "#adapter-upload input[type=file]:not([data-folder])"
    page.locator(archive_input).set_input_files(str(archive))
    page.locator("#adapter-upload button[type=submit]").click()
    expect(page.locator("#err-name")).to_have_text("Give the adapter a name.")
    page.locator("#adapter-upload input[name=name]").fill("legal")
    page.locator(archive_input).set_input_files(str(archive))
    page.locator("#adapter-upload button[type=submit]").click()
    expect(page.locator("#adapter-registry tr[data-adapter=legal-v1]")).to_be_visible()
    page.locator("#adapter-upload input[name=name]").fill("legal")  # the same adapter again, as a folder
    page.locator("#adapter-upload input[data-folder]").set_input_files(str(tmp_path / "adapter"))
    page.locator("#adapter-upload button[type=submit]").click()
    expect(page.locator("#adapter-registry tr[data-adapter=legal-v2]")).to_be_visible()

    assign = page.locator("#assign-form")
    assign.locator("select[name=tenant]").select_option("acme")
    assign.locator("input[name=alias]").fill("legal-assistant")
    assign.locator("select[name=adapter]").select_option("legal")
    assign.locator("input[name=version]").fill("1")
    assign.locator("button[type=submit]").click()
    row = page.locator("tr[data-assignment='acme/legal-assistant']")
    expect(row).to_contain_text("legal-v1")

    assert wait_for(lambda: "legal-v1" in console.services.adapters.sync.status["gpu-1"].loaded, timeout=15)

    def ask() -> httpx.Response:
        body = {"model": "legal-assistant", "messages": [{"role": "user", "content": "hi"}]}
        return httpx.post(f"{console.url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, json=body)

    assert ask().headers["x-gateway-model"] == "legal-v1"

    row.locator("select[name=canary]").select_option("legal@2")
    row.locator("input[name=percent]").fill("100")
    row.locator("button", has_text="Set canary").click()
    expect(row).to_contain_text("100.0 %")
    assert wait_for(lambda: "legal-v2" in console.services.adapters.sync.status["gpu-1"].loaded, timeout=15)
    assert ask().headers["x-gateway-model"] == "legal-v2"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "adapters.png"), full_page=True)

    row.locator("button", has_text="Roll back").click()
    expect(row).to_contain_text("rolled back")
    assert ask().headers["x-gateway-model"] == "legal-v1"
