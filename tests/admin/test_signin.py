"""Signing in: the local account, OpenID Connect against a real provider on loopback, sessions, CSRF, throttling."""

from __future__ import annotations

import httpx
import pytest

from tests.admin.harness import ADMIN_PASSWORD, Console, ConsoleClient, soup


def sso_login(console: Console, subject: str) -> tuple[ConsoleClient, httpx.Response]:
    """Go through the provider's authorization page as ``subject``; returns the client and the callback's answer."""
    client = console.client()
    start = client.get("/admin/oidc/start", params={"next": "/admin/tenants"})
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    with httpx.Client(timeout=30) as browser:
        page = browser.get(authorize)
        assert page.status_code == 200, page.text
        consent = browser.post(authorize, data={"sub": subject})
    assert consent.status_code == 302, consent.text
    callback = consent.headers["location"]
    assert callback.startswith(f"{console.url}/admin/oidc/callback?")
    return client, client.get(callback.removeprefix(console.url))


def test_login_page_offers_sso_and_the_local_account(console: Console):
    page = soup(console.client().page("/admin/login"))
    assert page.find("a", id="sso").get_text(strip=True) == "Sign in with Example SSO"
    assert page.find("input", attrs={"name": "password"}) is not None


def test_pages_redirect_to_sign_in_and_back(console: Console):
    client = console.client()
    response = client.get("/admin/tenants", params={"q": "x"})
    assert response.status_code == 302
    assert response.headers["location"] == "/admin/login?next=/admin/tenants%3Fq%3Dx"
    assert (
        client.get("/admin/tenants", headers={"hx-request": "true"}).headers["hx-redirect"].startswith("/admin/login")
    )


def test_local_account_signs_in_with_a_secure_session_cookie(console: Console):
    client = console.client()
    response = client.login("admin", ADMIN_PASSWORD, next_url="/admin/usage")
    assert response.status_code == 303 and response.headers["location"] == "/admin/usage"
    cookie = response.headers["set-cookie"]
    assert "pg_console=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http on loopback; over https the cookie is Secure (next test)
    assert client.get("/admin/dashboard").status_code == 200
    stored = console.console.sessions
    token = client.cookies["pg_console"]
    assert stored.load(token).login == "admin"


def test_session_cookie_is_secure_over_https(console: Console):
    import asyncio

    app_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=console.app), base_url="https://console.test")

    async def run() -> httpx.Response:
        async with app_client as client:
            page = await client.get("/admin/login")
            token = _csrf(page.text)
            assert "Secure" in page.headers["set-cookie"]  # the CSRF cookie too
            return await client.post(
                "/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD, "_csrf_token": token}
            )

    response = asyncio.run(run())
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def _csrf(html: str) -> str:
    import re

    return re.search(r'name="_csrf_token" value="([^"]+)"', html).group(1)


def test_wrong_password_is_refused_and_next_cannot_leave_the_console(console: Console):
    client = console.client()
    response = client.login("admin", "wrong")
    assert response.status_code == 401
    assert "Wrong user name or password." in soup(response).find(class_="alert").get_text()
    response = client.login("admin", ADMIN_PASSWORD, next_url="https://evil.example/")
    assert response.headers["location"] == "/admin/"
    response = client.login("admin", ADMIN_PASSWORD, next_url="//evil.example/admin")
    assert response.headers["location"] == "/admin/"


def test_login_is_rate_limited_per_user_name(console: Console):
    limit = console.console.settings.login_max_failures
    client = console.client()
    for _ in range(limit):
        assert client.login("admin", "guess").status_code == 401
    refused = client.login("admin", ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in refused.text
    # another user name from the same address is refused too: the address has used up its tries
    assert console.client().login("someone", "else").status_code == 429


def test_state_changing_requests_need_the_csrf_token(console: Console):
    client = console.signed_in()
    refused = client.post("/admin/tenants", data={"name": "no-token"}, headers={"hx-request": "true"})
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    wrong = client.post("/admin/tenants", data={"name": "bad-token"}, headers={"x-csrftoken": "0" * 128})
    assert wrong.status_code == 403
    ok = client.htmx("POST", "/admin/tenants", data={"name": "with-token", "enabled": "on"})
    assert ok.status_code == 200 and ok.headers["hx-redirect"] == "/admin/tenants/with-token"
    # the login form itself is protected (no login CSRF)
    assert (
        console.client().post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 403
    )


def test_logout_ends_the_session_everywhere(console: Console):
    client = console.signed_in()
    token = client.cookies["pg_console"]
    client.page("/admin/dashboard")
    response = client.post("/admin/logout", data={"_csrf_token": client.csrf})
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    assert console.console.sessions.load(token) is None
    replay = console.client()
    replay.cookies.set("pg_console", token, path="/admin")
    assert replay.get("/admin/dashboard").status_code == 302


def test_sso_admin_signs_in_through_the_provider(console: Console):
    client, callback = sso_login(console, "alice")
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/admin/tenants"
    page = soup(client.get("/admin/tenants"))
    assert page.find(class_="user").get_text(strip=True) == "Alice Admin"
    assert page.find(class_="role-admin") is not None


def test_sso_reviewer_gets_the_reviewer_role(console: Console):
    client, callback = sso_login(console, "rob")
    assert callback.status_code == 303
    assert client.get("/admin/queue").status_code == 200
    assert client.get("/admin/tenants").status_code == 403


def test_sso_user_without_a_mapped_group_is_refused(console: Console):
    client, callback = sso_login(console, "eve")
    assert callback.status_code == 403
    assert "no console role" in callback.text and "staff" in callback.text
    assert "pg_console" not in client.cookies


def test_sso_callback_refuses_a_state_from_another_browser(console: Console):
    victim = console.client()
    start = console.client().get("/admin/oidc/start")  # the attacker's own flow
    authorize = start.headers["location"]
    with httpx.Client() as browser:
        callback = browser.post(authorize, data={"sub": "alice"}).headers["location"]
    response = victim.get(callback.removeprefix(console.url))
    assert response.status_code == 400
    assert "did not start in this browser" in response.text


def test_sso_callback_is_single_use(console: Console):
    client, callback = sso_login(console, "alice")
    assert callback.status_code == 303
    again = client.get(callback.request.url.raw_path.decode())
    assert again.status_code == 400


def test_console_settings_come_from_the_environment(monkeypatch):
    from admin.settings import ConsoleSettings

    monkeypatch.setenv("GATEWAY_CONSOLE__OIDC_ROLE_MAP", '{"ops": "admin"}')
    monkeypatch.setenv("GATEWAY_CONSOLE__LOGIN_MAX_FAILURES", "3")
    settings = ConsoleSettings.from_env()
    assert settings.oidc_role_map == {"ops": "admin"} and settings.login_max_failures == 3
    monkeypatch.setenv("GATEWAY_CONSOLE__NOT_A_SETTING", "1")
    with pytest.raises(ValueError, match="NOT_A_SETTING"):
        ConsoleSettings.from_env()


def test_a_single_sign_on_user_is_sent_on_to_the_provider_s_logout(console: Console, issuer: str):
    client, callback = sso_login(console, "alice")
    assert callback.status_code == 303, callback.text
    token = client.cookies["pg_console"]
    client.page("/admin/dashboard")
    response = client.post("/admin/logout", data={"_csrf_token": client.csrf})
    assert response.status_code == 200 and console.console.sessions.load(token) is None
    onward = soup(response).find(id="provider-logout")["href"]
    assert onward.startswith(f"{issuer}/oauth2/end_session?")
    assert httpx.URL(onward).params["post_logout_redirect_uri"] == f"{console.url}/admin/login"
    with httpx.Client(timeout=30) as browser:  # the provider's own confirmation page answers
        assert browser.get(onward).status_code == 200


def test_a_local_user_s_logout_stays_in_the_console_even_with_single_sign_on_configured(console: Console):
    client = console.signed_in()
    client.page("/admin/dashboard")
    response = client.post("/admin/logout", data={"_csrf_token": client.csrf})
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
