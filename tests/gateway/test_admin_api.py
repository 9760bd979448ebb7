"""The management JSON API under /admin/api, on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import running_gateway, settings_for


@pytest.fixture
def gateway(database_url, tmp_path):
    fake = FakeVLLM(models=["qwen"])
    with fake.serve() as base:
        backends = [{"name": "gpu-1", "kind": "vllm", "base_url": base, "models": ["qwen"]}]
        with running_gateway(settings_for(database_url, tmp_path, backends)) as running:
            yield running


def test_tenant_lifecycle(gateway):
    admin = gateway.admin
    created = admin.post("/admin/api/tenants", json={"name": "Medical", "rpm": 150, "tps": 5, "daily_tokens": 5_000_000})
    assert created.status_code == 201
    assert created.json() | {"created_at": None, "updated_at": None} == {
        "name": "Medical", "enabled": True, "rpm": 150, "tps": 5, "daily_tokens": 5_000_000,
        "max_concurrency": None, "allow_default_models": True, "monthly_budget": None, "created_at": None, "updated_at": None,
    }
    assert admin.post("/admin/api/tenants", json={"name": "Medical"}).status_code == 409
    changed = admin.patch("/admin/api/tenants/Medical", json={"rpm": 200, "daily_tokens": None})
    assert changed.status_code == 200
    assert (changed.json()["rpm"], changed.json()["daily_tokens"], changed.json()["tps"]) == (200, None, 5)
    assert [t["name"] for t in admin.get("/admin/api/tenants").json()["data"]] == ["Medical"]
    assert admin.get("/admin/api/tenants/Medical").json()["rpm"] == 200


@pytest.mark.parametrize(
    "method, path, body, status, param",
    [
        ("post", "/admin/api/tenants", {"name": ""}, 400, "name"),
        ("post", "/admin/api/tenants", {"name": "a b"}, 400, "name"),
        ("post", "/admin/api/tenants", {"name": "ok", "rpm": -1}, 400, "rpm"),
        ("post", "/admin/api/tenants", {"name": "ok", "colour": "red"}, 400, "colour"),
        ("get", "/admin/api/tenants/nobody", None, 404, "tenant"),
        ("patch", "/admin/api/tenants/nobody", {"rpm": 1}, 404, "tenant"),
        ("post", "/admin/api/tenants/nobody/keys", {}, 404, "tenant"),
        ("delete", "/admin/api/keys/key_missing", None, 404, "key_id"),
    ],
)
def test_mistakes_are_4xx_naming_the_field(gateway, method, path, body, status, param):
    kwargs = {"json": body} if body is not None else {}
    response = getattr(gateway.admin, method)(path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"]


def test_routes_are_checked_against_the_configured_backends(gateway):
    admin = gateway.admin
    admin.post("/admin/api/tenants", json={"name": "acme"})
    bad = admin.put("/admin/api/tenants/acme/routes/x", json={"targets": [{"backend": "gpu-9"}]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "targets[0].backend"
    zero = admin.put("/admin/api/tenants/acme/routes/x", json={"targets": [{"backend": "gpu-1", "weight": 0}]})
    assert zero.status_code == 400
    empty = admin.put("/admin/api/tenants/acme/routes/x", json={"targets": []})
    assert empty.status_code == 400
    good = admin.put("/admin/api/tenants/acme/routes/x", json={"targets": [{"backend": "gpu-1"}]})
    assert good.json() == {"alias": "x", "targets": [{"backend": "gpu-1", "model": "qwen", "weight": 1.0}], "fallback": []}
    replaced = admin.put("/admin/api/tenants/acme/routes/x", json={"targets": [{"backend": "gpu-1", "model": "lora-a"}]})
    assert replaced.json()["targets"][0]["model"] == "lora-a"
    assert [r["alias"] for r in admin.get("/admin/api/tenants/acme/routes").json()["data"]] == ["x"]
    assert admin.delete("/admin/api/tenants/acme/routes/x").status_code == 204
    assert admin.delete("/admin/api/tenants/acme/routes/x").status_code == 404


def test_backends_are_listed_with_their_health(gateway):
    backends = gateway.admin.get("/admin/api/backends").json()["data"]
    assert backends == [{"name": "gpu-1", "kind": "vllm", "models": ["qwen"], "up": True, "circuit": "closed"}]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic dGVzdC1hZG1pbi10b2tlbg=="])
def test_the_admin_api_needs_the_token(gateway, authorization):
    headers = {"authorization": authorization} if authorization is not None else {}
    response = httpx.get(f"{gateway.url}/admin/api/tenants", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"


def test_without_a_configured_token_token_auth_is_off(sqlite_url, tmp_path):
    fake = FakeVLLM(models=["qwen"])
    with fake.serve() as base:
        settings = settings_for(sqlite_url, tmp_path, [{"name": "g", "kind": "vllm", "base_url": base, "models": ["q"]}])
        settings.admin_token = None
        with running_gateway(settings) as running:
            response = httpx.get(f"{running.url}/admin/api/tenants", headers={"authorization": "Bearer anything"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "admin_auth_required"


def test_the_management_api_is_described_in_openapi(gateway):
    schema = httpx.get(f"{gateway.url}/schema/openapi.json").json()
    for path in ("/admin/api/tenants", "/admin/api/tenants/{name}/keys", "/admin/api/keys/{key_id}",
                 "/admin/api/tenants/{name}/routes/{alias}"):
        assert path in schema["paths"], path
