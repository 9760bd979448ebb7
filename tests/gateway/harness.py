"""Running the real gateway on a loopback port for tests, and setting up tenants through its API."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import openai

from gateway.api.hot_path import GatewayApp
from gateway.app import Extension, create_app
from gateway.guardrails import GuardrailEngine
from gateway.services import Services
from gateway.settings import Settings
from tests.fakes.server import serve_in_thread

ADMIN_TOKEN = "test-admin-token"
TEST_KEK = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
"""One key-encryption key for every replica a test starts on a shared database (as production needs)."""


@dataclass
class RunningGateway:
    url: str
    services: Services
    admin: httpx.Client
    app: GatewayApp

    def openai(self, key: str, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **kwargs)

    def tenant(self, name: str, **limits: Any) -> str:
        """Create a tenant with the admin API and return a fresh key for it."""
        response = self.admin.post("/admin/api/tenants", json={"name": name, **limits})
        assert response.status_code == 201, response.text
        return self.key(name)

    def key(self, tenant: str, **spec: Any) -> str:
        response = self.admin.post(f"/admin/api/tenants/{tenant}/keys", json=spec or None)
        assert response.status_code == 201, response.text
        return response.json()["key"]

    def route(self, tenant: str, alias: str, targets: list[dict], fallback: list[dict] | None = None) -> None:
        body = {"targets": targets, "fallback": fallback or []}
        response = self.admin.put(f"/admin/api/tenants/{tenant}/routes/{alias}", json=body)
        assert response.status_code == 200, response.text


def settings_for(database_url: str, data_dir, backends: list[dict], **extra: Any) -> Settings:
    return Settings.load(
        database_url=database_url,
        data_dir=data_dir,
        backends=backends,
        admin_token=ADMIN_TOKEN,
        directory_refresh_seconds=0.2,
        **{"attestation": {"kek": TEST_KEK}, **extra},
    )


@functools.cache
def shared_guardrail_engine() -> GuardrailEngine:
    """One guardrail engine for every app the test process starts (Presidio takes seconds to load)."""
    return GuardrailEngine()


@contextmanager
def running_gateway(settings: Settings, extensions: Sequence[Extension] = ()) -> Iterator[RunningGateway]:
    app = create_app(settings, extensions=extensions, guardrail_engine=shared_guardrail_engine())
    with serve_in_thread(app, lifespan="on") as url:
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as admin:
            yield RunningGateway(url, app.state.services, admin, app)


def wait_for(condition, timeout: float = 3.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
