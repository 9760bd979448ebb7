"""The gateway with its console on a loopback port, a client that signs in like a browser, and an OIDC provider."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import openai
from bs4 import BeautifulSoup
from litestar import Litestar
from werkzeug.serving import make_server

from admin import install_console
from admin.services import ConsoleServices
from gateway.app import create_app
from gateway.services import Services
from gateway.settings import Settings
from tests.fakes.server import serve_in_thread
from tests.gateway.harness import ADMIN_TOKEN, shared_guardrail_engine

ADMIN_PASSWORD = "correct horse battery staple"
REVIEWER_PASSWORD = "reviewer password 123"
CLIENT_ID = "paramgate-console"
CLIENT_SECRET = "console-secret"
ROLE_MAP = {"gw-admins": "admin", "labelers": "reviewer"}
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@dataclass
class Console:
    url: str
    services: Services
    console: ConsoleServices
    admin_api: httpx.Client
    app: Litestar

    def client(self) -> ConsoleClient:
        return ConsoleClient(self.url)

    def signed_in(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> ConsoleClient:
        client = self.client()
        response = client.login(username, password)
        assert response.status_code == 303, response.text
        return client

    def reviewer(self, username: str = "rita") -> ConsoleClient:
        self.console.accounts.create_local(username, REVIEWER_PASSWORD, "reviewer")
        return self.signed_in(username, REVIEWER_PASSWORD)

    def openai(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0)


class ConsoleClient(httpx.Client):
    """An httpx client that keeps cookies and sends the CSRF token the way the pages do."""

    def __init__(self, url: str) -> None:
        super().__init__(base_url=url, timeout=30, follow_redirects=False)
        self.csrf: str | None = None

    def page(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def login(self, username: str, password: str, next_url: str = "/admin/") -> httpx.Response:
        self.page("/admin/login")
        return self.post(
            "/admin/login",
            data={"username": username, "password": password, "next": next_url, "_csrf_token": self.csrf or ""},
        )

    def htmx(self, method: str, path: str, target: str | None = None, **kwargs: Any) -> httpx.Response:
        if self.csrf is None:
            self.page("/admin/queue")
        headers = {"hx-request": "true", "x-csrftoken": self.csrf or "", **kwargs.pop("headers", {})}
        if target:
            headers["hx-target"] = target
        return self.request(method, path, headers=headers, **kwargs)


def soup(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def field_error(response: httpx.Response, name: str) -> str | None:
    """The error message shown next to the input named ``name`` (``None`` when there is none)."""
    document = soup(response)
    control = document.find(attrs={"name": name})
    if control is None:
        raise AssertionError(f"no field {name!r} in the response")
    label = control.find_parent("label")
    error = label.find(class_="error") if label else None
    return error.get_text(strip=True) if error else None


@contextmanager
def running_console(settings: Settings) -> Iterator[Console]:
    """``create_app(settings, extensions=[install_console])`` served on loopback with its lifespan."""
    app = create_app(settings, extensions=[install_console], guardrail_engine=shared_guardrail_engine())
    with serve_in_thread(app, lifespan="on") as url:
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as api:
            yield Console(url, app.state.services, app.state.console, api, app)


@contextmanager
def oidc_provider(users: dict[str, dict[str, Any]]) -> Iterator[str]:
    """oidc-provider-mock on 127.0.0.1: authorization code + PKCE, JWKS, userinfo. Yields its issuer URL."""
    import oidc_provider_mock

    provider = oidc_provider_mock.app(
        require_nonce=True,
        user_claims=[oidc_provider_mock.User(sub=sub, claims=claims) for sub, claims in users.items()],
    )
    server = make_server("127.0.0.1", 0, provider, threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def wait_attested(console: Console, request_id: str) -> None:
    """Wait until the answer's attestation (made on the request path) and its audit entry are stored."""
    assert console.services.attestations.flush()
    with console.services.db.session() as session:
        from gateway.attestation.models import AttestationRecord

        assert session.get(AttestationRecord, request_id) is not None
