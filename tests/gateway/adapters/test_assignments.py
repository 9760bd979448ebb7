"""Assignments on both databases: assign, canary, promote, roll back; the request path's book follows."""

from __future__ import annotations

import io

import pytest
from sqlmodel import Session

from gateway.adapters.assignments import AssignmentService, AssignSpec, CanarySpec
from gateway.adapters.book import AdapterBook
from gateway.adapters.registry import AdapterRegistry, ServedBase
from gateway.adapters.settings import AdapterSettings
from gateway.adapters.store import AdapterStore
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.storage.database import Database
from gateway.tenants import TenantCreate, TenantService
from tests.gateway.adapters.builders import files_of


@pytest.fixture
def services(database_url, tmp_path, peft_folder):
    db = Database(database_url)
    db.migrate()
    registry = AdapterRegistry(
        db, AdapterStore(tmp_path / "adapters"), AdapterSettings(), {"qwen": ServedBase("qwen", frozenset({"peft"}), 16)}
    )
    for _ in range(3):
        registry.upload_files([(n, io.BytesIO(d)) for n, d in files_of(peft_folder).items()], "legal", "qwen", "t")
    tenants = TenantService(db)
    acme, globex = tenants.create(TenantCreate(name="acme")), tenants.create(TenantCreate(name="globex"))
    yield db, registry, AssignmentService(db, registry, "request"), acme.id, globex.id
    db.dispose()


def reload(db: Database, book: AdapterBook) -> AdapterBook:
    with Session(db.engine) as session:
        book.load(session)
    return book


def test_the_lifecycle_of_a_canary(services, tmp_path):
    db, registry, assignments, acme, globex = services
    book = AdapterBook(tmp_path / "adapters")
    assignments.assign("acme", "legal-assistant", AssignSpec("legal", 1))
    assert reload(db, book).choose(acme, "legal-assistant", "req_1", None).adapter.served_name == "legal-v1"
    assert book.choose(globex, "legal-assistant", "req_1", None) is None  # another tenant's alias is not theirs

    view = assignments.set_canary("acme", "legal-assistant", CanarySpec(100, "legal", 2))
    assert (view["status"], view["canary"]["served_name"]) == ("canary", "legal-v2")
    assert reload(db, book).choose(acme, "legal-assistant", "req_1", None).arm == "canary"
    assert set(book.adapters) == {"legal-v1", "legal-v2"}
    assert {u["role"] for u in registry.usage()[registry.get("legal", 2).id]} == {"canary"}

    promoted = assignments.promote("acme", "legal-assistant")
    assert promoted["stable"]["served_name"] == "legal-v2" and promoted["canary"] is None
    assignments.set_canary("acme", "legal-assistant", CanarySpec(30, "legal", 3))
    assert assignments.rollback_by_id(acme, "legal-assistant", "automatic rollback: test")["status"] == "rolled_back"
    assert assignments.rollback_by_id(acme, "legal-assistant", "again") is None  # nothing live to roll back
    assert registry.get("legal", 3).status == "rolled_back"
    choice = reload(db, book).choose(acme, "legal-assistant", "req_1", None)
    assert (choice.arm, choice.adapter.served_name, choice.canary_live) == ("stable", "legal-v2", False)
    assert set(book.adapters) == {"legal-v2"} and book.known_names == {"legal-v1", "legal-v2", "legal-v3"}


def test_refusals(services):
    _, registry, assignments, _, _ = services
    with pytest.raises(NotFound):
        assignments.assign("nobody", "x", AssignSpec("legal"))
    with pytest.raises(NotFound):
        assignments.assign("acme", "x", AssignSpec("missing"))
    assignments.assign("acme", "x", AssignSpec("legal", 1))
    with pytest.raises(InvalidRequest, match="another version"):
        assignments.set_canary("acme", "x", CanarySpec(10, "legal", 1))
    with pytest.raises(InvalidRequest):
        assignments.promote("acme", "x")
    with pytest.raises(Conflict):
        registry.delete("legal", 1)
    assignments.unassign("acme", "x")
    assert registry.delete("legal", 1).served_name == "legal-v1"
    assert registry.store.path(registry.get("legal", 2).sha256).is_dir()  # v2 shares the files


def test_an_adapter_trained_on_one_tenant_s_data_serves_no_other_tenant(services, peft_folder):
    db, registry, assignments, acme, globex = services
    trained = registry.register_directory(peft_folder, "acme-dpo", "qwen", "job", lineage={"tenant_id": acme})
    with pytest.raises(InvalidRequest) as refused:
        assignments.assign("globex", "chat", AssignSpec("acme-dpo", trained.version))
    assert refused.value.code == "adapter_not_allowed" and refused.value.param == "adapter"
    assignments.assign("globex", "chat", AssignSpec("legal", 1))
    with pytest.raises(InvalidRequest):
        assignments.set_canary("globex", "chat", CanarySpec(10, "acme-dpo", trained.version))
    assert assignments.assign("acme", "chat", AssignSpec("acme-dpo", trained.version))["stable"]["served_name"]
