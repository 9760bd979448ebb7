"""The adapters page driven like a browser would (htmx requests with the session's CSRF token)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.harness import Console, field_error, soup
from tests.gateway.adapters.builders import peft_adapter, zip_of, zip_with
from tests.gateway.harness import wait_for


@pytest.fixture(scope="module")
def adapter_zip(tmp_path_factory) -> bytes:
    return zip_of(peft_adapter(tmp_path_factory.mktemp("console-peft") / "adapter"))


def upload(client, name: str, data: bytes, filename: str = "adapter.zip"):
    return client.htmx("POST", "/admin/adapters/", data={"name": name, "base_model": "qwen"},
                       files={"file": (filename, data, "application/zip")})  # fmt: skip


def test_upload_errors_show_next_to_their_field_and_a_good_upload_is_listed(console: Console, adapter_zip):
    client = console.signed_in()
    page = client.page("/admin/adapters")
    assert page.status_code == 200 and soup(page).find(id="adapter-upload") is not None

    unnamed = upload(client, "", adapter_zip)
    assert unnamed.status_code == 422 and field_error(unnamed, "name") == "Give the adapter a name."
    unsafe = upload(client, "legal", zip_with({"../../etc/adapter_config.json": b"{}"}))
    assert unsafe.status_code == 422 and "leaves the upload folder" in field_error(unsafe, "file")

    done = upload(client, "legal", adapter_zip)
    assert done.status_code == 200 and done.headers["hx-redirect"] == "/admin/adapters"
    row = soup(client.page("/admin/adapters")).find("tr", attrs={"data-adapter": "legal-v1"})
    assert row is not None and "console:admin" in row.get_text()


def test_assign_canary_rollback_and_the_max_loras_warning(console: Console, adapter_zip):
    console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).raise_for_status()
    client = console.signed_in()
    for name in ("legal", "legal", "support"):
        assert upload(client, name, adapter_zip).status_code == 200

    missing = client.htmx(
        "POST", "/admin/adapters/assignments", data={"tenant": "acme", "alias": "", "adapter": "legal"}
    )
    assert missing.status_code == 422 and field_error(missing, "alias") == "Choose a model alias."
    form = {"tenant": "acme", "alias": "legal-assistant", "adapter": "legal", "version": "1"}
    assigned = client.htmx("POST", "/admin/adapters/assignments", data=form)
    assert assigned.status_code == 200
    row = soup(assigned).find("tr", attrs={"data-assignment": "acme/legal-assistant"})
    assert "legal-v1" in row.get_text()

    base = "/admin/adapters/assignments/acme/legal-assistant"
    too_much = client.htmx("POST", f"{base}/canary", data={"canary": "legal@2", "percent": "150"})
    assert too_much.status_code == 422
    assert "from 0 to 100" in soup(too_much).find("tr", attrs={"data-assignment": "acme/legal-assistant"}).get_text()
    canary = client.htmx("POST", f"{base}/canary", data={"canary": "legal@2", "percent": "10"})
    assert "10.0 %" in soup(canary).find("tr", attrs={"data-assignment": "acme/legal-assistant"}).get_text()
    rolled = client.htmx("POST", f"{base}/rollback")
    row = soup(rolled).find("tr", attrs={"data-assignment": "acme/legal-assistant"})
    assert "rolled back" in row.get_text() and "rolled back by admin" in row.find(attrs={"data-note": True}).get_text()

    client.htmx(
        "POST", "/admin/adapters/assignments", data={"tenant": "acme", "alias": "support", "adapter": "support"}
    )
    sync = console.services.adapters.sync
    assert wait_for(lambda: "support-v1" in sync.status["gpu-1"].loaded, timeout=15)
    warning = soup(client.page("/admin/adapters")).find(attrs={"data-over-capacity": "gpu-1"})
    assert warning is not None and "--max-loras 1" in warning.get_text()


def test_reviewers_cannot_open_the_adapters_page(console: Console):
    assert console.reviewer().get("/admin/adapters").status_code == 403
