"""Chroma (embedded) and Qdrant (local mode) behind one interface: indexing, retrieval limits, isolation."""

from __future__ import annotations

import pytest

from gateway.knowledge.chunking import chunk_text
from gateway.knowledge.retrieval import Collections, RetrievalLimits, retrieve, select_within
from gateway.knowledge.settings import KnowledgeSettings
from gateway.knowledge.store import Hit
from tests.gateway.knowledge.documents import EXPENSES_POLICY, GLOBEX_SECRET, VACATION_POLICY

ACME, GLOBEX = 1, 2


@pytest.fixture(params=["chroma", "qdrant"])
def collections(request, tmp_path, embedder):
    settings = KnowledgeSettings(store=request.param)
    built = Collections(settings, tmp_path)
    yield built
    built.close()


def index(collections: Collections, tenant: int, document: int, text: str, size: int = 40) -> int:
    chunks = chunk_text(text, size, 8)
    collections.store.upsert(tenant, document, chunks, collections.embedder.encode([c.text for c in chunks]))
    return len(chunks)


def test_the_configured_store_is_used(collections):
    expected = "QdrantStore" if collections.settings.store == "qdrant" else "ChromaStore"
    assert type(collections.store).__name__ == expected


def test_best_chunk_first_and_top_k(collections):
    index(collections, ACME, 1, VACATION_POLICY)
    index(collections, ACME, 2, EXPENSES_POLICY)
    limits = RetrievalLimits(top_k=1, threshold=0.2, token_budget=1000)
    hits = retrieve(collections, ACME, "How many days of paid annual leave do I get?", limits)
    assert len(hits) == 1 and hits[0].document_id == 1
    hits = retrieve(collections, ACME, "What is the hotel limit per night when travelling?", limits)
    assert hits[0].document_id == 2
    assert len(retrieve(collections, ACME, "hotel costs", RetrievalLimits(3, -1.0, 10_000))) == 3


def test_threshold_drops_unrelated_chunks(collections):
    index(collections, ACME, 1, VACATION_POLICY)
    query = "Explain the rules of cricket batting averages"
    loose = retrieve(collections, ACME, query, RetrievalLimits(3, -1.0, 1000))
    assert loose and max(h.score for h in loose) < 0.35
    assert retrieve(collections, ACME, query, RetrievalLimits(3, 0.35, 1000)) == []


def test_token_budget_limits_the_context():
    hits = [Hit(1, i, "w " * 30, 0.9 - i / 100) for i in range(5)]
    chosen = select_within(hits, RetrievalLimits(top_k=5, threshold=0.1, token_budget=70))
    assert [h.chunk_index for h in chosen] == [0, 1]
    assert select_within(hits, RetrievalLimits(top_k=5, threshold=0.1, token_budget=10)) == []


def test_tenants_never_see_each_other(collections):
    index(collections, ACME, 1, VACATION_POLICY)
    index(collections, GLOBEX, 2, GLOBEX_SECRET)
    limits = RetrievalLimits(top_k=10, threshold=-1.0, token_budget=100_000)
    acme = retrieve(collections, ACME, "What is the launch code of project Falcon?", limits)
    assert acme and {h.document_id for h in acme} == {1}
    assert all("ZEBRA" not in h.text for h in acme)
    globex = retrieve(collections, GLOBEX, "What is the launch code of project Falcon?", limits)
    assert globex[0].document_id == 2 and "ZEBRA-7731" in globex[0].text
    assert retrieve(collections, 3, "launch code", limits) == []


def test_delete_document_and_tenant(collections):
    chunks = index(collections, ACME, 1, VACATION_POLICY, size=20)
    index(collections, ACME, 2, EXPENSES_POLICY, size=20)
    assert collections.store.count(ACME) == chunks + len(chunk_text(EXPENSES_POLICY, 20, 8))
    collections.store.delete_document(ACME, 1)
    limits = RetrievalLimits(top_k=20, threshold=-1.0, token_budget=100_000)
    assert {h.document_id for h in retrieve(collections, ACME, "annual leave", limits)} == {2}
    collections.store.delete_tenant(ACME)
    assert collections.store.count(ACME) == 0
    assert retrieve(collections, ACME, "annual leave", limits) == []


def test_chroma_collection_persists_across_clients(tmp_path, embedder):
    first = Collections(KnowledgeSettings(), tmp_path)
    index(first, ACME, 1, VACATION_POLICY)
    first.close()
    second = Collections(KnowledgeSettings(), tmp_path)
    hits = retrieve(second, ACME, "annual leave days", RetrievalLimits(1, 0.2, 1000))
    assert hits and hits[0].document_id == 1
