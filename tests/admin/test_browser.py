"""The console in real headless Chromium (Debian's package, driven by Playwright): what an operator and a reviewer do.

Screenshots of every page go to ``build/screenshots/``. Skipped, with the reason, when
``/usr/bin/chromium`` or the ``playwright`` package is missing (``make test`` installs both).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.admin.harness import ADMIN_PASSWORD, Console, wait_attested
from tests.gateway.harness import wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, console: Console):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=console.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.on("dialog", lambda dialog: dialog.accept())  # hx-confirm
    tab.problems = problems
    yield tab
    context.close()
    csp = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
    assert not csp, csp


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_operator_signs_in_sets_up_a_tenant_and_sees_its_traffic(page, console: Console, attestations):
    page.goto("/admin/dashboard")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/dashboard"))
    shot(page, "login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("form[action='/admin/login'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/dashboard$"))

    # create a tenant, first with a mistake the server points out next to the field
    page.keyboard.press("g")
    page.keyboard.press("t")
    expect(page).to_have_url(re.compile(r"/admin/tenants$"))
    form = page.locator("#tenant-create")
    form.locator("input[name=name]").fill("acme legal")
    form.locator("input[name=rpm]").fill("600")
    form.locator("input[name=daily_tokens]").fill("100k")
    form.locator("button[type=submit]").click()
    expect(page.locator("#err-name")).to_contain_text("Letters, digits")
    expect(page.locator("#tenant-create input[name=rpm]")).to_have_value("600")
    shot(page, "tenants-validation")
    page.locator("#tenant-create input[name=name]").fill("acme")
    page.locator("#tenant-create button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/tenants/acme$"))
    expect(page.locator("#limits-form input[name=daily_tokens]")).to_have_value("100000")

    # a route through the editor
    page.click("text=New route")
    editor = page.locator("#route-form")
    editor.locator("input[name=alias]").fill("legal")
    editor.locator("select[name=targets_backend]").first.select_option("gpu-1")
    editor.locator("input[name=targets_model]").first.fill("acme-legal")
    editor.locator("button[type=submit]").click()
    expect(page.locator("#routes")).to_contain_text("acme-legal")
    expect(page.locator("#route-form")).to_have_count(0)

    # issue a key: shown once, with a copy button
    page.locator("#key-form input[name=name]").fill("billing")
    page.locator("#key-form button[type=submit]").click()
    issued = page.locator("#issued-key")
    expect(issued).to_be_visible()
    key = issued.inner_text().strip()
    page.click("button[data-copy]")
    expect(page.locator("button[data-copy]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    shot(page, "tenant")

    # the application uses the key through the OpenAI SDK
    messages = [{"role": "user", "content": "hello from the browser test"}]
    raw = console.openai(key).chat.completions.with_raw_response.create(model="legal", messages=messages)
    completion, request_id = raw.parse(), raw.headers["x-request-id"]
    assert completion.model == "acme-legal"
    assert wait_for(lambda: console.console.ledger.request(request_id) is not None, timeout=5)
    wait_attested(console, request_id)

    # ... and the operator sees it on the dashboard
    page.keyboard.press("g")
    page.keyboard.press("d")
    expect(page.locator("#recent-requests")).to_contain_text(request_id)
    expect(page.locator("#kpi-requests")).to_have_text("1")
    expect(page.locator("#chart-requests svg path.line")).to_have_count(1)
    shot(page, "dashboard")

    # ... in the audit log, and verifies the attestation of that answer
    page.goto("/admin/audit")
    page.fill("input[name=request_id]", request_id)
    expect(page.locator("#audit-list tbody tr")).to_have_count(1)
    expect(page.locator("#audit-list")).to_contain_text(request_id)
    shot(page, "audit-requests")
    page.goto("/admin/audit?tab=chain")
    expect(page.locator("#audit-list")).to_contain_text("console:admin")
    page.click("text=Verify the whole chain")
    expect(page.locator("#chain-verdict")).to_contain_text("The chain is intact")
    shot(page, "audit-chain")
    page.locator("#audit-list a", has_text=request_id).click()
    expect(page.locator("textarea[name=attestation]")).not_to_have_value("")
    page.fill("textarea[name=output]", completion.choices[0].message.content)
    page.click("#verify-form button[type=submit]")
    expect(page.locator("#verdict .verdict-line")).to_contain_text("Valid")
    shot(page, "verify")
    page.fill("textarea[name=output]", "a forged answer")
    page.click("#verify-form button[type=submit]")
    expect(page.locator("#verdict .verdict-line")).to_contain_text("output_hash_mismatch")

    page.goto("/admin/usage")
    expect(page.locator("#usage-table")).to_contain_text("acme")
    expect(page.locator("#quota-list meter")).to_have_count(1)
    shot(page, "usage")

    page.goto("/admin/backends")
    page.click("#backend-gpu-1 button:has-text('Test')")
    expect(page.locator("#backend-gpu-1 .probe")).to_contain_text("answered in")
    expect(page.locator("#backend-gpu-1 .upstream")).to_contain_text("acme-legal")
    shot(page, "backends")

    # revoking asks first (hx-confirm, accepted by the dialog handler), then the key stops working
    page.goto("/admin/tenants/acme")
    page.click("#key-list button:has-text('Revoke')")
    expect(page.locator("#key-list tbody tr").first).to_contain_text("revoked")
    import openai

    with pytest.raises(openai.AuthenticationError):
        console.openai(key).chat.completions.create(model="legal", messages=messages)

    page.goto("/admin/tenants")
    shot(page, "tenants")
    page.click("button:has-text('Sign out')")
    expect(page).to_have_url(re.compile(r"/admin/login$"))


def test_operator_signs_in_through_the_identity_provider(page, console: Console):
    page.goto("/admin/login")
    page.click("#sso")
    expect(page).to_have_url(re.compile(r"/oauth2/authorize"))
    shot(page, "sso-provider")
    page.click("button[name=sub][value=alice]")
    expect(page).to_have_url(re.compile(r"/admin/dashboard$"))
    expect(page.locator(".who .user")).to_have_text("Alice Admin")
    expect(page.locator(".who .badge")).to_have_text("admin")


def test_a_reviewer_sees_only_the_labeling_queue(page, console: Console):
    page.goto("/admin/login")
    page.click("#sso")
    page.click("button[name=sub][value=rob]")
    expect(page).to_have_url(re.compile(r"/admin/queue$"))
    expect(page.locator(".main-nav a")).to_have_count(1)
    shot(page, "queue")
    for path in (
        "/admin/dashboard",
        "/admin/tenants",
        "/admin/usage",
        "/admin/backends",
        "/admin/audit",
        "/admin/attestations/verify",
    ):
        response = page.goto(path)
        assert response.status == 403, path
        expect(page.locator("h1")).to_contain_text("403")
    shot(page, "reviewer-forbidden")
    response = page.goto("/admin/api/tenants")
    assert response.status == 403
    assert response.json()["error"]["code"] == "insufficient_role"


def sign_in(page, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    page.goto("/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/admin/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/(dashboard|queue)$"))
    page.wait_for_load_state("load")  # the keyboard shortcuts are bound once console.js has run


def test_operator_edits_prices_with_validation_and_deletes_an_override(page, console: Console):
    sign_in(page)
    page.keyboard.press("g")
    page.keyboard.press("p")
    expect(page).to_have_url(re.compile(r"/admin/prices$"))
    expect(page.locator("tr[data-price='gpu-1/qwen']")).to_contain_text("default")
    form = page.locator("#price-form")
    form.locator("select[name=backend]").select_option("gpu-1")
    form.locator("input[name=model]").fill("acme-legal")
    form.locator("input[name=output_per_million]").fill("cheap")
    form.locator("button[type=submit]").click()
    expect(page.locator("#err-output_per_million")).to_contain_text("Enter a number")
    expect(page.locator("#price-form input[name=model]")).to_have_value("acme-legal")
    shot(page, "prices-validation")
    page.locator("#price-form input[name=output_per_million]").fill("2.5")
    page.locator("#price-form button[type=submit]").click()
    row = page.locator("tr[data-price='gpu-1/acme-legal']")
    expect(row).to_contain_text("console")
    expect(row).to_contain_text("2.50")
    shot(page, "prices")
    row.locator("button:has-text('Delete override')").click()  # hx-confirm, accepted
    expect(page.locator("tr[data-price='gpu-1/acme-legal']")).to_have_count(0)
    assert console.services.price_admin.list() == []


def test_operator_edits_a_guardrail_policy_then_a_budget_refuses_the_sdk(page, console: Console):
    import openai

    assert console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).status_code == 201
    key = console.admin_api.post("/admin/api/tenants/acme/keys").json()["key"]
    sign_in(page)
    page.goto("/admin/tenants/acme")
    expect(page.locator("#policy")).to_contain_text("built-in default")
    threshold = page.locator("#policy-form input[name='input.jailbreak.threshold']")
    threshold.fill("7")
    page.locator("#policy-form button[type=submit]").click()
    error = page.locator("#policy-form label.invalid:has(input[name='input.jailbreak.threshold']) small.error")
    expect(error).to_contain_text("between 0 and 1")
    expect(page.locator("#policy-form input[name='input.jailbreak.threshold']")).to_have_value("7")
    shot(page, "policy-validation")
    page.locator("#policy-form input[name='input.jailbreak.threshold']").fill("0.6")
    page.locator("#policy-form input[name='input.jailbreak.classifier']").check()
    disclaimers = page.locator("#policy-form textarea[name='output.disclaimers']")
    disclaimers.fill("Bu bilgiler hukuki tavsiye niteliği taşımaz.")
    page.locator("#policy-form button[type=submit]").click()
    expect(page.locator("#policy .saved")).to_contain_text("Saved version 1")
    expect(page.locator("#policy-history tbody tr").first).to_contain_text("console:admin")
    shot(page, "policy")
    stored = console.services.policies.get("acme")["policy"]
    assert stored["input"]["jailbreak"]["threshold"] == 0.6 and stored["input"]["jailbreak"]["classifier"] is True

    # a budget of 0 is spent from the start: the SDK gets a 429 budget_exceeded
    page.locator("#budget-form input[name=monthly_budget]").fill("0")
    page.locator("#budget-form button[type=submit]").click()
    expect(page.locator("#budget-form .saved")).to_be_visible()
    client = console.openai(key)
    assert wait_for(lambda: _refused_for_budget(client), timeout=5)
    page.goto("/admin/usage")
    expect(page.locator("li[data-budget=acme] meter")).to_have_count(1)
    shot(page, "usage-budgets")


def _refused_for_budget(client) -> bool:
    import openai

    try:
        client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hi"}])
    except openai.RateLimitError as error:
        return error.body["code"] == "budget_exceeded"
    return False


def test_operator_creates_a_reviewer_who_signs_in_and_is_refused_admin_pages(page, browser, console: Console):
    sign_in(page)
    page.goto("/admin/accounts")
    form = page.locator("#account-form")
    form.locator("input[name=username]").fill("rita")
    form.locator("select[name=role]").select_option("reviewer")
    form.locator("button[type=submit]").click()
    issued = page.locator("#issued-password")
    expect(issued).to_be_visible()
    password = issued.inner_text().strip()
    expect(page.locator("tr[data-account=rita]")).to_contain_text("enabled")
    shot(page, "accounts")

    other = browser.new_context(base_url=console.url)
    reviewer = other.new_page()
    try:
        sign_in(reviewer, "rita", password)
        assert reviewer.url.endswith("/admin/queue")
        response = reviewer.goto("/admin/accounts")
        assert response.status == 403
        expect(reviewer.locator("h1")).to_contain_text("403")

        # disabling her (confirmed) signs her out at once
        page.locator("tr[data-account=rita] button:has-text('Disable')").click()
        expect(page.locator("tr[data-account=rita]")).to_contain_text("disabled")
        reviewer.goto("/admin/queue")
        expect(reviewer).to_have_url(re.compile(r"/admin/login"))
    finally:
        other.close()


def test_a_single_sign_on_user_signs_out_of_the_provider_too(page, console: Console):
    page.goto("/admin/login")
    page.click("#sso")
    page.click("button[name=sub][value=alice]")
    expect(page).to_have_url(re.compile(r"/admin/dashboard$"))
    page.click("button:has-text('Sign out')")
    expect(page).to_have_url(re.compile(r"/oauth2/end_session\?"))
    shot(page, "sso-signed-out")
