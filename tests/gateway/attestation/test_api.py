"""The HTTP endpoints, driven over HTTP the way clients use them (services and caller stubbed in)."""

from __future__ import annotations

import dataclasses

import pytest
from litestar import Litestar, Request
from litestar.di import Provide
from litestar.testing import TestClient

from gateway.api.attestations import AttestationController
from gateway.api.errors import EXCEPTION_HANDLERS
from gateway.directory import Caller, KeyRecord, TenantRecord
from gateway.errors import AuthenticationFailed
from gateway.services import Services
from tests.gateway.attestation.conftest import REQUEST, attest

TENANTS = {"Bearer key-hq": 1, "Bearer key-legal": 2}


def _record(cls, **known):
    """A directory record with only the fields these endpoints read (whatever else the class grows)."""
    return cls(
        **{
            f.name: known.get(f.name)
            for f in dataclasses.fields(cls)
            if f.name in known or f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
    )


@pytest.fixture
def client(service):
    services = object.__new__(Services)  # only .attestations is used; the other engineer wires the real one
    services.attestations = service

    async def caller(request: Request) -> Caller:
        tenant_id = TENANTS.get(request.headers.get("authorization", ""))
        if tenant_id is None:
            raise AuthenticationFailed("bad key")
        return Caller(
            key=_record(KeyRecord, id="k", tenant_id=tenant_id),
            tenant=_record(TenantRecord, id=tenant_id, name=f"t{tenant_id}"),
        )

    app = Litestar(
        route_handlers=[AttestationController],
        dependencies={"services": Provide(lambda: services, sync_to_thread=False), "caller": Provide(caller)},
        exception_handlers=EXCEPTION_HANDLERS,
    )
    with TestClient(app) as test_client:
        yield test_client


def test_fetch_own_attestation_only(client, service):
    made = attest(service, "req_api", tenant_id=1)
    for flushed in (False, True):
        if flushed:
            service.flush()
        response = client.get("/v1/attestations/req_api", headers={"authorization": "Bearer key-hq"})
        assert response.status_code == 200
        body = response.json()
        assert body["compact"] == made.compact() and body["payload"]["request_id"] == "req_api"
        assert body["signature"] and body["kid"] == made.kid
    other = client.get("/v1/attestations/req_api", headers={"authorization": "Bearer key-legal"})
    assert other.status_code == 404 and other.json()["error"]["code"] == "attestation_not_found"
    assert client.get("/v1/attestations/req_api").status_code == 401


def test_jwks_is_public(client, service):
    response = client.get("/v1/attestation/keys")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.json() == service.jwks()


def test_verify_endpoint_says_why(client, service):
    made = attest(service, "req_verify")
    ok = client.post(
        "/v1/attestations/verify",
        json={"attestation": made.compact(), "output": "Güneşli, 24°C.", "messages": REQUEST["messages"]},
    )
    assert ok.status_code == 200 and ok.json()["valid"] is True
    assert ok.json()["checked"] == ["signature", "messages", "output"]
    bad = client.post("/v1/attestations/verify", json={"attestation": made.as_dict(), "output": "Yağmurlu."})
    assert bad.status_code == 200
    assert bad.json()["valid"] is False and bad.json()["reason"] == "output_hash_mismatch"
    service.revoke(made.kid, "test")
    revoked = client.post("/v1/attestations/verify", json={"attestation": made.compact()})
    assert revoked.json()["reason"] == "revoked_key"
    garbage = client.post("/v1/attestations/verify", json={"attestation": "a.b.c"})
    assert garbage.json()["reason"] == "malformed"


def test_verify_rejects_a_malformed_request(client):
    response = client.post("/v1/attestations/verify", json={"output": "x"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    response = client.post("/v1/attestations/verify", json={"attestation": "x", "extra": 1})
    assert response.status_code == 400
