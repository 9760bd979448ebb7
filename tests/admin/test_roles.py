"""Roles: a reviewer sees the labeling queue and nothing else, in the console and in the management API."""

from __future__ import annotations

import re

import pytest

from tests.admin.harness import Console

OPEN_TO_REVIEWERS = {
    "/admin/queue",
    "/admin",
    "/admin/login",
    "/admin/logout",
    "/admin/oidc/start",
    "/admin/oidc/callback",
}


def console_routes(console: Console) -> list[tuple[str, str]]:
    """Every (method, path) the console serves, path parameters filled in with things that exist."""
    found = []
    for route in console.app.routes:
        path = route.path
        if not path.startswith("/admin") or path.startswith(("/admin/api", "/admin/static")):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            concrete = re.sub(r"\{name:str\}", "acme", path)
            concrete = re.sub(r"\{alias:str\}", "chat", concrete)
            concrete = re.sub(r"\{key_id:str\}", "key_doesnotexist", concrete)
            concrete = re.sub(r"\{[^}]+:int\}", "1", concrete)
            concrete = re.sub(r"\{[^}]+\}", "x", concrete)
            found.append((method, concrete.rstrip("/") or "/admin/"))
    return found


@pytest.fixture
def acme(console: Console) -> Console:
    assert console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).status_code == 201
    return console


def test_every_console_page_and_action_refuses_a_reviewer(acme: Console):
    reviewer = acme.reviewer()
    routes = console_routes(acme)
    assert len(routes) >= 20
    checked = 0
    for method, path in routes:
        if path in OPEN_TO_REVIEWERS or path.rstrip("/") in OPEN_TO_REVIEWERS or path.startswith("/admin/queue/"):
            continue
        response = reviewer.htmx(method, path) if method != "GET" else reviewer.get(path)
        assert response.status_code == 403, (method, path, response.status_code)
        checked += 1
    assert checked >= 18
    assert reviewer.get("/admin/queue").status_code == 200
    assert reviewer.get("/admin/").headers["location"] == "/admin/queue"


def test_a_reviewer_page_shows_only_the_queue_in_the_navigation(acme: Console):
    page = acme.reviewer().get("/admin/queue").text
    assert "Labeling queue" in page
    assert 'href="/admin/tenants"' not in page and 'href="/admin/dashboard"' not in page


def test_the_management_api_refuses_a_reviewer_session(acme: Console):
    reviewer = acme.reviewer()
    for method, path in [
        ("GET", "/admin/api/tenants"),
        ("GET", "/admin/api/backends"),
        ("POST", "/admin/api/tenants"),
        ("DELETE", "/admin/api/keys/key_x"),
        ("GET", "/admin/api/adapters"),
        ("GET", "/admin/api/tenants/acme/knowledge/documents"),
        ("GET", "/admin/api/tenants/acme/intents"),
    ]:
        response = reviewer.request(method, path, json={"name": "x"} if method == "POST" else None)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "insufficient_role"


def test_the_management_api_needs_csrf_for_an_admin_session_write(acme: Console):
    admin = acme.signed_in()
    response = admin.post("/admin/api/tenants", json={"name": "sneaky"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    # reads pass the session check and reach the API's own authentication
    assert admin.get("/admin/api/tenants").status_code != 403


def test_an_admin_session_reaches_every_management_api_controller(acme: Console):
    admin = acme.signed_in()
    for path in ("/admin/api/tenants", "/admin/api/adapters", "/admin/api/tenants/acme/knowledge/settings"):
        response = admin.get(path)
        assert response.status_code == 200, (path, response.text)


def test_the_bearer_token_still_works_beside_console_sessions(acme: Console):
    assert acme.admin_api.get("/admin/api/tenants").status_code == 200


def test_the_openapi_schema_still_describes_the_management_api_and_not_the_console(acme: Console):
    paths = acme.admin_api.get("/schema/openapi.json").json()["paths"]
    assert "/admin/api/tenants" in paths and "/admin/api/keys/{key_id}" in paths
    assert not [p for p in paths if p.startswith("/admin/") and not p.startswith("/admin/api/")]
