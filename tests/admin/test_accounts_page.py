"""Console accounts: create local users (password shown once), disable, reset, change role; keep an admin."""

from __future__ import annotations

import pytest

from tests.admin.harness import Console, ConsoleClient, field_error, soup


@pytest.fixture
def admin(console: Console) -> ConsoleClient:
    client = console.signed_in()
    client.page("/admin/accounts")
    return client


def create(admin: ConsoleClient, **form: str):
    return admin.htmx("POST", "/admin/accounts", data=form)


def account_id(console: Console, login: str) -> int:
    return next(u.id for u in console.console.accounts.list(1, 100).rows if u.login == login)


def change(admin: ConsoleClient, console: Console, login: str, **form: str):
    return admin.htmx("POST", f"/admin/accounts/{account_id(console, login)}", data=form)


def sign_in(console: Console, login: str, password: str) -> int:
    return console.client().login(login, password).status_code


def test_creating_an_account_validates_each_field(console: Console, admin: ConsoleClient):
    bad = create(admin, username="no spaces", role="reviewer", password="")
    assert bad.status_code == 422 and "letters, digits" in field_error(bad, "username")
    short = create(admin, username="rita", role="reviewer", password="short")
    assert short.status_code == 422 and "At least 12" in field_error(short, "password")
    assert soup(short).find("input", attrs={"name": "password"})["value"] == ""  # never echoed back
    duplicate = create(admin, username="admin", role="reviewer", password="")
    assert duplicate.status_code == 422 and "already exists" in field_error(duplicate, "username")
    assert [u.login for u in console.console.accounts.list(1, 100).rows] == ["admin"]


def test_a_generated_password_is_shown_once_and_works(console: Console, admin: ConsoleClient):
    created = create(admin, username="rita", role="reviewer", password="")
    assert created.status_code == 200, created.text
    password = soup(created).find(id="issued-password").get_text(strip=True)
    assert len(password) >= 16
    assert password not in admin.get("/admin/accounts").text
    stored = console.console.accounts.get(account_id(console, "rita"))
    assert stored.password_hash.startswith("$argon2id$") and password not in stored.password_hash
    assert sign_in(console, "rita", password) == 303
    reviewer = console.signed_in("rita", password)
    assert reviewer.get("/admin/accounts").status_code == 403
    recorded, _ = console.console.listings.audit(1, 10, kind="account.create")
    assert recorded.rows[0]["subject"] == "account:rita" and password not in str(recorded.rows[0]["detail"])


def test_disable_enable_reset_and_role_change(console: Console, admin: ConsoleClient):
    create(admin, username="rita", role="reviewer", password="typed password 1234")
    rita = console.signed_in("rita", "typed password 1234")
    assert rita.get("/admin/").headers["location"] == "/admin/queue"

    disabled = change(admin, console, "rita", action="disable")
    assert disabled.status_code == 200
    row = soup(disabled).find("tr", attrs={"data-account": "rita"})
    assert "disabled" in row.get_text()
    assert rita.get("/admin/").headers["location"].startswith("/admin/login")  # signed out at once
    assert sign_in(console, "rita", "typed password 1234") == 401
    change(admin, console, "rita", action="enable")
    assert sign_in(console, "rita", "typed password 1234") == 303

    reset = change(admin, console, "rita", action="password")
    new_password = soup(reset).find(id="issued-password").get_text(strip=True)
    assert sign_in(console, "rita", "typed password 1234") == 401
    assert sign_in(console, "rita", new_password) == 303

    promoted = change(admin, console, "rita", action="role", role="admin")
    assert promoted.status_code == 200
    assert console.signed_in("rita", new_password).get("/admin/accounts").status_code == 200
    kinds = {r["kind"] for r in console.console.listings.audit(1, 50)[0].rows}
    assert {"account.create", "account.disable", "account.enable", "account.password_reset", "account.role"} <= kinds


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(console: Console, admin: ConsoleClient):
    refused = change(admin, console, "admin", action="disable")
    assert refused.status_code == 422
    assert "last enabled admin" in soup(refused).find(class_="alert").get_text()
    demoted = change(admin, console, "admin", action="role", role="reviewer")
    assert demoted.status_code == 422
    assert not console.console.accounts.get(account_id(console, "admin")).disabled
    assert admin.get("/admin/accounts").status_code == 200

    create(admin, username="second", role="admin", password="second admin password")
    second = console.signed_in("second", "second admin password")
    assert change(admin, console, "admin", action="role", role="reviewer").status_code == 200
    assert admin.get("/admin/accounts").status_code == 302  # the demoted admin's session ended
    second.page("/admin/accounts")
    assert change(second, console, "second", action="disable").status_code == 422  # now the last one
