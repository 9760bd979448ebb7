"""Lists paginate on the server: a tenant's routes and the console accounts, page by page."""

from __future__ import annotations

import pytest

from tests.admin.harness import Console, soup


@pytest.fixture
def small_pages(console: Console) -> Console:
    console.console.settings.page_size = 5
    return console


def test_a_tenant_s_routes_come_five_to_a_page(small_pages: Console):
    console = small_pages
    assert console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).status_code == 201
    for i in range(7):
        body = {"targets": [{"backend": "gpu-1", "model": "qwen"}]}
        assert console.admin_api.put(f"/admin/api/tenants/acme/routes/alias-{i}", json=body).status_code == 200
    admin = console.signed_in()
    first = soup(admin.get("/admin/tenants/acme")).find(id="routes")
    assert [td.get_text(strip=True) for td in first.select("tbody td.mono")] == [f"alias-{i}" for i in range(5)]
    assert "1–5 of 7" in first.find(class_="pager").get_text()
    second = soup(admin.htmx("GET", "/admin/tenants/acme/routes?page=2", target="routes"))
    assert [td.get_text(strip=True) for td in second.select("tbody td.mono")] == ["alias-5", "alias-6"]
    assert second.find("button", attrs={"data-page": "next"}) is None


def test_accounts_paginate(small_pages: Console):
    console = small_pages
    for i in range(6):
        console.console.accounts.create_local(f"user{i}", "a long enough password", "reviewer")
    admin = console.signed_in()
    first = soup(admin.get("/admin/accounts"))
    assert len(first.select("#account-list tbody tr")) == 5
    second = soup(admin.htmx("GET", "/admin/accounts?page=2", target="accounts"))
    assert [tr["data-account"] for tr in second.select("#account-list tbody tr")] == ["user4", "user5"]
