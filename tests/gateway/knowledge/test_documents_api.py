"""Documents through ``/admin/api``: upload (text, Markdown, PDF), dedup, list, delete, re-index, isolation."""

from __future__ import annotations

import time

from sqlmodel import select

from gateway.attestation.models import AuditEntry
from tests.gateway.harness import wait_for
from tests.gateway.knowledge.documents import EXPENSES_POLICY, GLOBEX_SECRET, VACATION_POLICY, make_pdf


def search(kstack, tenant: str, query: str, **extra) -> list[dict]:
    response = kstack.admin.post(f"/admin/api/tenants/{tenant}/knowledge/search", json={"query": query, **extra})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_upload_list_dedup_and_delete(kstack):
    first = kstack.upload("acme", "vacation.md", VACATION_POLICY, "text/markdown")
    assert first.status_code == 201, first.text
    doc = first.json()
    assert doc["status"] == "ready" and doc["chunks"] >= 2 and doc["duplicate"] is False
    assert doc["media_type"] == "text/markdown"
    pdf = kstack.upload("acme", "expenses.pdf", make_pdf([EXPENSES_POLICY.splitlines()]), "application/pdf")
    assert pdf.status_code == 201 and pdf.json()["media_type"] == "application/pdf"

    again = kstack.upload("acme", "copy-of-vacation.md", VACATION_POLICY)
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["id"] == doc["id"]
    listed = kstack.admin.get("/admin/api/tenants/acme/knowledge/documents").json()["data"]
    assert sorted(d["name"] for d in listed) == ["expenses.pdf", "vacation.md"]

    hits = search(kstack, "acme", "What is the hotel limit per night?")
    assert hits[0]["document"] == "expenses.pdf" and "150 euros" in hits[0]["text"]
    assert len(search(kstack, "acme", "annual leave carry over", top_k=1)) == 1

    deleted = kstack.admin.delete(f"/admin/api/tenants/acme/knowledge/documents/{doc['id']}")
    assert deleted.status_code == 200
    assert all(h["document"] != "vacation.md" for h in search(kstack, "acme", "annual leave days carry over"))
    assert kstack.admin.get(f"/admin/api/tenants/acme/knowledge/documents/{doc['id']}").status_code == 404
    with kstack.gateway.services.db.session() as session:
        kinds = [e.kind for e in session.exec(select(AuditEntry))]
    assert kinds.count("knowledge.upload") == 2 and "knowledge.delete" in kinds


def test_bad_uploads_get_openai_shaped_errors(kstack):
    cases = [
        (kstack.upload("acme", "deck.pptx", b"PK\x03\x04zip"), 400, "unsupported_document"),
        (kstack.upload("acme", "empty.txt", b""), 400, "empty_document"),
        (kstack.admin.post("/admin/api/tenants/acme/knowledge/documents", json={"text": "x"}), 400, None),
        (kstack.upload("nobody", "a.txt", "text"), 404, None),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
        if code:
            assert error["code"] == code and error["param"] == "file"
    assert kstack.admin.get("/admin/api/tenants/acme/knowledge/documents").json()["data"] == []


def test_reindex_is_a_background_job_with_progress(kstack):
    for name, text in (("vacation.md", VACATION_POLICY), ("expenses.txt", EXPENSES_POLICY)):
        assert kstack.upload("acme", name, text).status_code == 201
    started = kstack.admin.post("/admin/api/tenants/acme/knowledge/reindex")
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["total"] == 2 and job["status"] in ("queued", "running", "done")

    def finished():
        current = kstack.admin.get(f"/admin/api/tenants/acme/knowledge/jobs/{job['id']}").json()
        return current if current["status"] == "done" else None

    assert wait_for(finished, timeout=60)
    done = finished()
    assert done["done"] == 2 and done["progress"] == 1.0 and done["finished_at"]
    assert search(kstack, "acme", "hotel limit per night")[0]["document"] == "expenses.txt"
    assert kstack.admin.get("/admin/api/tenants/acme/knowledge/jobs").json()["data"][0]["id"] == job["id"]
    assert kstack.admin.get("/admin/api/tenants/globex/knowledge/jobs/%d" % job["id"]).status_code == 404


def test_a_tenant_never_reaches_another_tenants_documents(kstack):
    secret = kstack.upload("globex", "falcon.txt", GLOBEX_SECRET).json()
    kstack.upload("acme", "vacation.md", VACATION_POLICY)
    assert all("ZEBRA" not in h["text"] for h in search(kstack, "acme", "What is the launch code of project Falcon?"))
    assert search(kstack, "globex", "What is the launch code of project Falcon?")[0]["document"] == "falcon.txt"
    path = f"/admin/api/tenants/acme/knowledge/documents/{secret['id']}"
    assert kstack.admin.get(path).status_code == 404
    assert kstack.admin.delete(path).status_code == 404
    assert [d["name"] for d in kstack.admin.get("/admin/api/tenants/acme/knowledge/documents").json()["data"]] == [
        "vacation.md"
    ]
    same_bytes = kstack.upload("acme", "falcon-copy.txt", GLOBEX_SECRET)
    assert same_bytes.status_code == 201 and same_bytes.json()["id"] != secret["id"]


def test_settings_are_validated_and_reach_every_replica_view(kstack):
    assert kstack.admin.get("/admin/api/tenants/acme/knowledge/settings").json() == {
        "tenant": "acme",
        "rag_enabled": False,
        "top_k": 3,
        "threshold": 0.35,
        "token_budget": 800,
    }
    bad = kstack.admin.put("/admin/api/tenants/acme/knowledge/settings", json={"top_k": 0})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "top_k"
    bad = kstack.admin.put("/admin/api/tenants/acme/knowledge/settings", json={"enabled": True})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "enabled"
    ok = kstack.admin.put("/admin/api/tenants/acme/knowledge/settings", json={"rag_enabled": True, "top_k": 2})
    assert ok.status_code == 200 and ok.json()["rag_enabled"] is True and ok.json()["top_k"] == 2
    book = kstack.gateway.services.knowledge.book
    tenant_id = kstack.gateway.services.directory.snapshot.tenants
    acme = next(t.id for t in tenant_id.values() if t.name == "acme")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not book.config(acme).rag_enabled:
        time.sleep(0.05)
    assert book.config(acme).rag_enabled and book.config(acme).top_k == 2


def test_one_reindex_at_a_time_and_abandoned_jobs_do_not_block(kstack_sqlite):
    from datetime import timedelta

    from gateway.knowledge.models import KnowledgeJob
    from gateway.storage.models import utcnow

    services = kstack_sqlite.gateway.services
    tenant_id = services.knowledge.documents.tenant_id("acme")
    with services.db.session() as session:
        session.add(KnowledgeJob(tenant_id=tenant_id, status="running"))
    busy = kstack_sqlite.admin.post("/admin/api/tenants/acme/knowledge/reindex")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "job_running"
    with services.db.session() as session:
        for job in session.exec(select(KnowledgeJob)):
            job.created_at = utcnow() - timedelta(hours=7)
            session.add(job)
    started = kstack_sqlite.admin.post("/admin/api/tenants/acme/knowledge/reindex")
    assert started.status_code == 202, started.text
    jobs = kstack_sqlite.admin.get("/admin/api/tenants/acme/knowledge/jobs").json()["data"]
    assert jobs[1]["status"] == "failed" and "abandoned" in jobs[1]["error"]


def test_qdrant_is_a_configuration_switch(sqlite_url, tmp_path, embedder):
    from tests.gateway.knowledge.conftest import knowledge_stack

    stack = knowledge_stack(sqlite_url, tmp_path, store="qdrant")
    kstack = next(stack)
    try:
        assert type(kstack.gateway.services.knowledge.collections.store).__name__ == "QdrantStore"
        assert kstack.upload("acme", "expenses.txt", EXPENSES_POLICY).status_code == 201
        kstack.upload("globex", "falcon.txt", GLOBEX_SECRET)
        assert search(kstack, "acme", "hotel limit per night")[0]["document"] == "expenses.txt"
        assert all("ZEBRA" not in h["text"] for h in search(kstack, "acme", "launch code of project Falcon"))
        assert (tmp_path / "knowledge" / "qdrant").is_dir()
    finally:
        stack.close()
