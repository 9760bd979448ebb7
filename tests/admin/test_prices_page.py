"""The price editor: effective prices per backend and model, overrides with validation, audit entries."""

from __future__ import annotations

import pytest

from tests.admin.harness import Console, ConsoleClient, field_error, soup
from tests.gateway.harness import wait_for


@pytest.fixture
def admin(console: Console) -> ConsoleClient:
    client = console.signed_in()
    client.page("/admin/prices")
    return client


def price_row(response, key: str):
    row = soup(response).find("tr", attrs={"data-price": key})
    assert row is not None, f"no row for {key}"
    return [cell.get_text(" ", strip=True) for cell in row.find_all("td")]


def test_the_price_list_shows_every_backend_model_with_its_source(console: Console, admin: ConsoleClient):
    page = admin.get("/admin/prices")
    assert page.status_code == 200
    cells = price_row(page, "gpu-1/qwen")
    assert cells[5] == "default"  # a vLLM model with no price of its own: the GPU-second fallback
    assert cells[4] == "0.0005"


def test_a_bad_price_is_refused_next_to_its_field_and_a_good_one_overrides(console: Console, admin: ConsoleClient):
    bad = admin.htmx(
        "POST",
        "/admin/prices",
        target="prices",
        data={"backend": "nope", "model": "", "input_per_million": "-1", "output_per_million": "cheap"},
    )
    assert bad.status_code == 422
    assert "configured backend" in field_error(bad, "backend")
    assert "required" in field_error(bad, "model")
    assert "between 0" in field_error(bad, "input_per_million")
    assert "number" in field_error(bad, "output_per_million")
    assert console.services.price_admin.list() == []

    saved = admin.htmx(
        "POST",
        "/admin/prices",
        target="prices",
        data={
            "backend": "gpu-1",
            "model": "acme-legal",
            "input_per_million": "0,5",
            "output_per_million": "1.5",
            "per_gpu_second": "",
        },
    )
    assert saved.status_code == 200, saved.text
    cells = price_row(saved, "gpu-1/acme-legal")
    assert cells[2:6] == ["0.5", "1.50", "0.00", "console"]
    stored = console.services.price_admin.list()
    assert [(p.backend, p.model, p.input_per_million, p.output_per_million) for p in stored] == [
        ("gpu-1", "acme-legal", 0.5, 1.5)
    ]
    # the request path picks the override up with the directory's next reload
    wait_for(lambda: console.services.prices.price("gpu-1", "acme-legal").output_per_million == 1.5)

    recorded, _ = console.console.listings.audit(1, 10, kind="price.put")
    actions = [(r["subject"], r["detail"]["actor"]) for r in recorded.rows]
    assert actions == [("price:gpu-1/acme-legal", "console:admin")]

    deleted = admin.htmx("DELETE", "/admin/prices?backend=gpu-1&model=acme-legal", target="prices")
    assert deleted.status_code == 200
    assert console.services.price_admin.list() == []
    assert soup(deleted).find("tr", attrs={"data-price": "gpu-1/acme-legal"}) is None


def test_the_edit_button_fills_the_form_with_the_effective_price(console: Console, admin: ConsoleClient):
    response = admin.htmx("GET", "/admin/prices?backend=gpu-1&model=qwen", target="prices")
    form = soup(response).find(id="price-form")
    assert form.find("input", attrs={"name": "model"})["value"] == "qwen"
    assert form.find("input", attrs={"name": "per_gpu_second"})["value"] == "0.0005"
