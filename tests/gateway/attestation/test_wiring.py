"""The endpoints inside the real app, with real API-key auth (wired here through an app extension
until ``Services`` carries ``attestations`` itself)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest

from gateway.api.attestations import AttestationController
from gateway.attestation import AttestationService, AttestationSettings
from tests.gateway.attestation.conftest import KEK_TEXT, attest
from tests.gateway.harness import running_gateway, settings_for


def attestation_extension(config, services) -> None:
    """Does nothing once ``Services``/``create_app`` wire attestation themselves."""
    if getattr(services, "attestations", None) is not None:
        return
    service = AttestationService.from_settings(
        services.db, AttestationSettings(kek=KEK_TEXT), services.settings.data_dir
    )
    services.attestations = service

    @asynccontextmanager
    async def lifespan(_app):
        await asyncio.to_thread(service.start)  # after the gateway's own lifespan has migrated the database
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)

    config.route_handlers.append(AttestationController)
    config.lifespan.append(lifespan)


@pytest.fixture
def gateway(sqlite_url, tmp_path):
    backends = [{"name": "gpu-1", "kind": "vllm", "base_url": "http://127.0.0.1:9/v1", "models": ["qwen"]}]
    with running_gateway(settings_for(sqlite_url, tmp_path, backends), extensions=[attestation_extension]) as running:
        yield running


def test_attestations_through_the_real_app(gateway):
    hq_key, legal_key = gateway.tenant("HQ"), gateway.tenant("Legal")
    service: AttestationService = gateway.services.attestations
    hq = gateway.services.tenants.get("HQ")
    made = attest(service, "req_0123456789abcdef01234567", tenant_id=hq.id)
    with httpx.Client(base_url=gateway.url) as client:
        own = client.get(f"/v1/attestations/{made.request_id}", headers={"authorization": f"Bearer {hq_key}"})
        assert own.status_code == 200 and own.json()["compact"] == made.compact()
        assert "x-request-id" in own.headers
        other = client.get(f"/v1/attestations/{made.request_id}", headers={"authorization": f"Bearer {legal_key}"})
        assert other.status_code == 404
        assert client.get(f"/v1/attestations/{made.request_id}").status_code == 401
        keys = client.get("/v1/attestation/keys").json()["keys"]
        assert [k["kid"] for k in keys] == [made.kid]
        verdict = client.post(
            "/v1/attestations/verify", json={"attestation": made.compact(), "output": "Güneşli, 24°C."}
        )
        assert verdict.json()["valid"] is True
