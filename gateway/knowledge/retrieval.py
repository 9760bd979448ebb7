"""Retrieval: the tenant's top-k chunks above a similarity threshold, within a token budget."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from gateway.knowledge.chunking import count_tokens
from gateway.knowledge.embedder import Embedder
from gateway.knowledge.settings import KnowledgeSettings
from gateway.knowledge.store import Hit, VectorStore, build_store


class Collections:
    """The vector store and the embedder, both built on first use (so an unused feature loads nothing)."""

    def __init__(self, settings: KnowledgeSettings, data_dir: Path, store: VectorStore | None = None) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.embedder = Embedder(
            settings.embedding_model,
            settings.embedding_runtime,
            data_dir / "knowledge" / "onnx",
            settings.embedding_threads,
        )
        self._store = store
        self._lock = threading.Lock()

    @property
    def store(self) -> VectorStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = build_store(self.settings, self.data_dir)
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


@dataclass(frozen=True, slots=True)
class RetrievalLimits:
    top_k: int
    threshold: float
    token_budget: int


def select_within(hits: list[Hit], limits: RetrievalLimits) -> list[Hit]:
    """Hits at or above the threshold, best first, while their tokens fit the budget."""
    chosen, used = [], 0
    for hit in sorted(hits, key=lambda h: h.score, reverse=True)[: limits.top_k]:
        if hit.score < limits.threshold:
            break
        tokens = count_tokens(hit.text)
        if used + tokens > limits.token_budget:
            continue
        chosen.append(hit)
        used += tokens
    return chosen


def retrieve(collections: Collections, tenant_id: int, query: str, limits: RetrievalLimits) -> list[Hit]:
    """Embed ``query`` and return the selected chunks of this tenant's collection (blocking)."""
    if not query.strip():
        return []
    vector = collections.embedder.encode([query])[0]
    return select_within(collections.store.query(tenant_id, vector, limits.top_k), limits)
