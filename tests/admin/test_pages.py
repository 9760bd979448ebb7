"""The console's pages driven like a browser drives them (forms, htmx partials), checked by parsing the HTML."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import openai
import pytest

from tests.admin.harness import Console, ConsoleClient, field_error, soup
from tests.gateway.harness import wait_for


@pytest.fixture
def admin(console: Console) -> ConsoleClient:
    client = console.signed_in()
    client.page("/admin/tenants")
    return client


def create_tenant(admin: ConsoleClient, name: str, **limits: str):
    return admin.htmx(
        "POST", "/admin/tenants", data={"name": name, "enabled": "on", "allow_default_models": "on", **limits}
    )


def issue_key(admin: ConsoleClient, tenant: str, **form: str) -> str:
    response = admin.htmx("POST", f"/admin/tenants/{tenant}/keys", data=form)
    assert response.status_code == 200, response.text
    return soup(response).find(id="issued-key").get_text(strip=True)


def test_creating_a_tenant_validates_each_field_next_to_it(console: Console, admin: ConsoleClient):
    response = create_tenant(admin, "bad name!", rpm="lots", daily_tokens="-5")
    assert response.status_code == 422
    assert "Letters, digits" in field_error(response, "name")
    assert "whole number" in field_error(response, "rpm")
    assert "whole number" in field_error(response, "daily_tokens")
    assert field_error(response, "tps") is None
    assert soup(response).find("input", attrs={"name": "rpm"})["value"] == "lots"  # what was typed stays

    created = create_tenant(admin, "acme", rpm="600", tps="2k", daily_tokens="5M")
    assert created.status_code == 200 and created.headers["hx-redirect"] == "/admin/tenants/acme"
    tenant = console.services.tenants.get("acme")
    assert (tenant.rpm, tenant.tps, tenant.daily_tokens, tenant.max_concurrency) == (600, 2000, 5_000_000, None)

    duplicate = create_tenant(admin, "acme")
    assert duplicate.status_code == 422
    assert "already exists" in field_error(duplicate, "name")


def test_editing_limits_and_disabling_a_tenant(console: Console, admin: ConsoleClient):
    create_tenant(admin, "acme", rpm="100")
    page = soup(admin.get("/admin/tenants/acme"))
    assert page.find("input", attrs={"name": "rpm"})["value"] == "100"

    bad = admin.htmx("POST", "/admin/tenants/acme/limits", data={"rpm": "1.5", "tps": "10"})
    assert bad.status_code == 422 and "whole number" in field_error(bad, "rpm")
    assert console.services.tenants.get("acme").rpm == 100

    saved = admin.htmx(
        "POST",
        "/admin/tenants/acme/limits",
        data={"rpm": "", "tps": "10", "max_concurrency": "4", "daily_tokens": "1,000,000"},
    )
    assert saved.status_code == 200 and soup(saved).find(class_="saved") is not None
    tenant = console.services.tenants.get("acme")
    assert (tenant.rpm, tenant.tps, tenant.max_concurrency, tenant.daily_tokens) == (None, 10, 4, 1_000_000)
    assert tenant.allow_default_models is False  # the checkbox was not sent

    key = issue_key(admin, "acme")
    admin.htmx("POST", "/admin/tenants/acme/limits", data={"allow_default_models": "on"})
    console.openai(key).chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hi"}])
    disabled = admin.htmx("POST", "/admin/tenants/acme/enabled", data={})
    assert soup(disabled).find(id="tenant-state").get_text() == "disabled"
    with pytest.raises(openai.PermissionDeniedError):
        console.openai(key).chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hi"}])
    enabled = admin.htmx("POST", "/admin/tenants/acme/enabled", data={"enabled": "on"})
    assert soup(enabled).find(id="tenant-state").get_text() == "enabled"


def test_the_tenant_list_paginates_and_filters_on_the_server(console: Console, admin: ConsoleClient):
    for i in range(30):
        assert console.admin_api.post("/admin/api/tenants", json={"name": f"t{i:02d}"}).status_code == 201
    first = soup(admin.get("/admin/tenants"))
    names = [a.get_text() for a in first.select("#tenant-list tbody a")]
    assert names == [f"t{i:02d}" for i in range(25)]
    assert "1–25 of 30" in first.find(class_="pager").get_text()
    second = admin.htmx("GET", "/admin/tenants?page=2", target="tenant-list")
    assert soup(second).find(id="tenant-list") is not None and "<html" not in second.text
    assert [a.get_text() for a in soup(second).select("tbody a")] == [f"t{i:02d}" for i in range(25, 30)]
    filtered = soup(admin.get("/admin/tenants", params={"q": "t1"}))
    assert [a.get_text() for a in filtered.select("#tenant-list tbody a")] == [f"t1{i}" for i in range(10)]


def test_routes_editor_validates_and_saves_targets_and_fallbacks(console: Console, admin: ConsoleClient):
    create_tenant(admin, "acme")
    editor = admin.htmx("GET", "/admin/tenants/acme/routes/editor")
    assert soup(editor).find("select", attrs={"name": "targets_backend"}) is not None

    empty = admin.htmx("POST", "/admin/tenants/acme/routes", data={"alias": "", "targets_backend": [""]})
    assert empty.status_code == 422
    assert "alias is required" in soup(empty).find(id="err-alias").get_text()
    assert "at least one target" in soup(empty).find(id="err-targets").get_text()

    wrong = admin.htmx(
        "POST",
        "/admin/tenants/acme/routes",
        data={
            "alias": "legal",
            "targets_backend": ["gpu-1", "nope"],
            "targets_model": ["acme-legal", ""],
            "targets_weight": ["x", "1"],
        },
    )
    assert wrong.status_code == 422
    errors = [e.get_text() for e in soup(wrong).select("small.error")]
    assert any("number of 0 or more" in e for e in errors) and any("Unknown backend" in e for e in errors)

    saved = admin.htmx(
        "POST",
        "/admin/tenants/acme/routes",
        data={
            "alias": "legal",
            "targets_backend": ["gpu-1", ""],
            "targets_model": ["acme-legal", ""],
            "targets_weight": ["3", "1"],
            "fallback_backend": ["gpu-1"],
            "fallback_model": ["qwen"],
        },
    )
    assert saved.status_code == 200
    routes = soup(saved).find(id="routes")
    assert routes["hx-swap-oob"] == "true" and "acme-legal" in routes.get_text()
    [route] = console.services.routes.list("acme")
    assert route.targets == [{"backend": "gpu-1", "model": "acme-legal", "weight": 3.0}]
    assert route.fallback == [{"backend": "gpu-1", "model": "qwen", "weight": 1.0}]

    removed = admin.htmx("DELETE", "/admin/tenants/acme/routes/legal")
    assert removed.status_code == 200 and "No routes." in removed.text
    assert console.services.routes.list("acme") == []


def test_keys_are_shown_once_work_with_the_sdk_and_can_be_revoked(console: Console, admin: ConsoleClient):
    create_tenant(admin, "acme")
    past = admin.htmx("POST", "/admin/tenants/acme/keys", data={"name": "old", "expires": "2000-01-01"})
    assert past.status_code == 422 and "after today" in field_error(past, "expires")

    tomorrow = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    response = admin.htmx("POST", "/admin/tenants/acme/keys", data={"name": "billing", "expires": tomorrow})
    page = soup(response)
    raw = page.find(id="issued-key").get_text(strip=True)
    assert raw.startswith("pg-") and page.find("button", attrs={"data-copy": "#issued-key"}) is not None
    reply = console.openai(raw).chat.completions.create(model="qwen", messages=[{"role": "user", "content": "ping"}])
    assert reply.choices[0].message.content == "ping"

    listing = admin.htmx("GET", "/admin/tenants/acme/keys")
    assert raw not in listing.text  # never shown again
    row = soup(listing).select_one("#key-list tbody tr")
    assert "billing" in row.get_text() and "active" in row.get_text() and tomorrow in row.get_text()
    revoke = row.find("button", string="Revoke")
    assert revoke["hx-confirm"].startswith("Revoke key")

    revoked = admin.htmx("POST", revoke["hx-post"])
    assert "revoked" in soup(revoked).select_one("#key-list tbody tr").get_text()
    with pytest.raises(openai.AuthenticationError):
        console.openai(raw).chat.completions.create(model="qwen", messages=[{"role": "user", "content": "ping"}])


def test_requests_show_on_the_dashboard_usage_and_audit_pages(console: Console, admin: ConsoleClient):
    create_tenant(admin, "acme", daily_tokens="1000")
    key = issue_key(admin, "acme")
    raw = console.openai(key).chat.completions.with_raw_response.create(
        model="qwen", messages=[{"role": "user", "content": "one two three"}]
    )
    request_id = raw.headers["x-request-id"]
    assert wait_for(lambda: console.console.ledger.request(request_id) is not None, timeout=5)

    dashboard = soup(admin.get("/admin/dashboard", params={"range": "1h"}))
    assert request_id in dashboard.find(id="recent-requests").get_text()
    assert dashboard.find(id="kpi-requests").get_text(strip=True) == "1"
    chart = dashboard.find(id="chart-requests").find("svg")
    assert chart.find("path", class_="line") is not None and "acme" in chart.get_text()
    partial = admin.htmx("GET", "/admin/dashboard?range=24h&tenant=acme", target="panels")
    assert partial.text.lstrip().startswith('<div id="panels"')

    usage = soup(admin.get("/admin/usage", params={"tenant": "acme"}))
    cells = [td.get_text(strip=True) for td in usage.select("#usage-table tbody tr td")]
    assert cells[:3] == ["acme", "qwen", "1"]
    meter = usage.select_one("#quota-list meter")
    assert float(meter["value"]) == 6 and float(meter["max"]) == 1000  # 3 prompt + 3 completion words
    export = admin.get(usage.find(id="export-csv")["href"])
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(export.text)))
    assert row["tenant"] == "acme" and row["requests"] == "1"

    audit = soup(admin.get("/admin/audit", params={"request_id": request_id[:12]}))
    assert request_id in audit.find(id="audit-list").get_text()


def test_usage_dates_are_validated_next_to_their_fields(admin: ConsoleClient):
    response = admin.get("/admin/usage", params={"start": "2026-13-01", "end": "2020-01-01"})
    assert "YYYY-MM-DD" in field_error(response, "start")
    response = admin.get("/admin/usage", params={"start": "2026-02-01", "end": "2026-01-01"})
    assert "not be before" in field_error(response, "end")


def test_backends_page_probes_and_lists_upstream_models(console: Console, admin: ConsoleClient, vllm):
    page = soup(admin.get("/admin/backends"))
    row = page.find(id="backend-gpu-1")
    assert "closed" in row.get_text() and "up" in row.get_text()
    probe = admin.htmx("POST", "/admin/backends/gpu-1/test")
    assert "answered in" in soup(probe).find(class_="probe").get_text()
    fake, _ = vllm
    assert fake.requests[-1].path == "/v1/models"  # the health probe went to the upstream
    models = admin.htmx("GET", "/admin/backends/gpu-1/models")
    assert "acme-legal" in models.text
    assert admin.htmx("POST", "/admin/backends/nope/test").status_code == 404


def test_unknown_tenant_is_a_404_page(admin: ConsoleClient):
    response = admin.get("/admin/tenants/nobody")
    assert response.status_code == 404 and "does not exist" in response.text
    assert soup(response).find("title").get_text().startswith("Not found")


def test_attestation_page_says_when_attestation_is_not_configured(
    console: Console, admin: ConsoleClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delattr(console.services, "attestations", raising=False)
    page = soup(admin.get("/admin/attestations/verify"))
    assert page.find(id="not-configured") is not None
    posted = admin.htmx("POST", "/admin/attestations/verify", data={"attestation": "x"})
    assert posted.status_code == 422 and "not configured" in posted.text
    chain = admin.htmx("POST", "/admin/audit/verify-chain")
    assert "not configured" in chain.text


def test_pages_carry_security_headers(admin: ConsoleClient):
    response = admin.get("/admin/dashboard")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert date.today()  # the page renders without any inline script
    assert not soup(response).find("script", src=False)
