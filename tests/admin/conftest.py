"""Fixtures for the console: a fake vLLM backend, the gateway with its console, an OIDC provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.admin.harness import (
    ADMIN_PASSWORD,
    CLIENT_ID,
    CLIENT_SECRET,
    ROLE_MAP,
    Console,
    oidc_provider,
    running_console,
)
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import settings_for

OIDC_USERS = {
    "alice": {"name": "Alice Admin", "email": "alice@example.com", "groups": ["staff", "gw-admins"]},
    "rob": {"name": "Rob Reviewer", "email": "rob@example.com", "groups": ["labelers"]},
    "eve": {"name": "Eve Outsider", "email": "eve@example.com", "groups": ["staff"]},
}


@pytest.fixture(scope="session")
def issuer() -> Iterator[str]:
    with oidc_provider(OIDC_USERS) as url:
        yield url


@pytest.fixture
def vllm() -> Iterator[tuple[FakeVLLM, str]]:
    fake = FakeVLLM(models=["qwen"], adapters={"acme-legal": "qwen"})
    with fake.serve() as url:
        yield fake, url


def console_env(monkeypatch: pytest.MonkeyPatch, issuer: str | None = None, **extra: str) -> None:
    monkeypatch.setenv("GATEWAY_CONSOLE__BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("GATEWAY_CONSOLE__SESSION_SECRET", "test-session-secret-0123456789abcdef")
    if issuer:
        monkeypatch.setenv("GATEWAY_CONSOLE__OIDC_ISSUER", issuer)
        monkeypatch.setenv("GATEWAY_CONSOLE__OIDC_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("GATEWAY_CONSOLE__OIDC_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("GATEWAY_CONSOLE__OIDC_ROLE_MAP", __import__("json").dumps(ROLE_MAP))
        monkeypatch.setenv("GATEWAY_CONSOLE__OIDC_LABEL", "Sign in with Example SSO")
    for name, value in extra.items():
        monkeypatch.setenv(f"GATEWAY_CONSOLE__{name.upper()}", value)


@pytest.fixture
def console(sqlite_url, tmp_path, vllm, issuer, monkeypatch) -> Iterator[Console]:
    console_env(monkeypatch, issuer)
    _, url = vllm
    backends = [{"name": "gpu-1", "kind": "vllm", "base_url": url, "models": ["qwen"]}]
    settings = settings_for(sqlite_url, tmp_path, backends, ledger={"flush_interval_seconds": 0.1})
    with running_console(settings) as running:
        yield running


@pytest.fixture
def attestations(console: Console):
    """The gateway's own attestation service (the request path signs every answer with it)."""
    service = getattr(console.services, "attestations", None)
    if service is None:
        pytest.skip("this gateway has no attestation service")
    return service
