"""The monthly budget on the tenant page (validated next to its field) and its consumption bars on the usage page."""

from __future__ import annotations

from tests.admin.harness import Console, field_error, soup
from tests.gateway.harness import wait_for


def test_budget_is_set_on_the_tenant_page_and_consumption_shows_on_the_usage_page(console: Console):
    assert console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).status_code == 201
    admin = console.signed_in()
    admin.page("/admin/tenants/acme")

    bad = admin.htmx("POST", "/admin/tenants/acme/budget", data={"monthly_budget": "lots"})
    assert bad.status_code == 422 and "amount of 0 or more" in field_error(bad, "monthly_budget")
    negative = admin.htmx("POST", "/admin/tenants/acme/budget", data={"monthly_budget": "-3"})
    assert negative.status_code == 422
    assert console.services.tenants.get("acme").monthly_budget is None

    saved = admin.htmx("POST", "/admin/tenants/acme/budget", data={"monthly_budget": "1,000.50"})
    assert saved.status_code == 200 and soup(saved).find(class_="saved") is not None
    assert console.services.tenants.get("acme").monthly_budget == 1000.5
    assert console.admin_api.get("/admin/api/tenants/acme").json()["monthly_budget"] == 1000.5

    key = console.admin_api.post("/admin/api/tenants/acme/keys").json()["key"]
    console.openai(key).chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hi"}])
    tenant_id = console.services.tenants.get("acme").id

    def spent() -> float:
        return console.services.ledger.spent_since(tenant_id, _first_day())

    assert wait_for(lambda: spent() > 0)

    usage = soup(admin.get("/admin/usage"))
    bar = usage.find("li", attrs={"data-budget": "acme"})
    assert bar is not None
    meter = bar.find("meter")
    assert float(meter["max"]) == 1000.5 and float(meter["value"]) == spent()

    cleared = admin.htmx("POST", "/admin/tenants/acme/budget", data={"monthly_budget": ""})
    assert cleared.status_code == 200 and console.services.tenants.get("acme").monthly_budget is None
    assert soup(admin.get("/admin/usage")).find("li", attrs={"data-budget": "acme"}) is None


def _first_day():
    from datetime import UTC, datetime

    return datetime.now(UTC).date().replace(day=1)
