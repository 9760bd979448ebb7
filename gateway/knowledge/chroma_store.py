"""Embedded ChromaDB, persistent in a folder: a collection per tenant, cosine space."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gateway.knowledge.chunking import Chunk
from gateway.knowledge.store import Hit, collection_name


class ChromaStore:
    """``VectorStore`` over ``chromadb.PersistentClient`` (explicit embeddings, no embedding function)."""

    def __init__(self, path: Path) -> None:
        import chromadb

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._client = chromadb.PersistentClient(
            path=str(path), settings=chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
        )
        self._lock = threading.Lock()

    def _collection(self, tenant_id: int):
        with self._lock:
            return self._client.get_or_create_collection(
                collection_name(tenant_id), embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )

    def upsert(self, tenant_id: int, document_id: int, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if not chunks:
            return
        self._collection(tenant_id).upsert(
            ids=[f"{document_id}:{c.index}" for c in chunks],
            embeddings=np.asarray(vectors, dtype=np.float32),
            documents=[c.text for c in chunks],
            metadatas=[{"tenant_id": tenant_id, "document_id": document_id, "chunk": c.index} for c in chunks],
        )

    def delete_document(self, tenant_id: int, document_id: int) -> None:
        self._collection(tenant_id).delete(where={"$and": [{"tenant_id": tenant_id}, {"document_id": document_id}]})

    def delete_tenant(self, tenant_id: int) -> None:
        with self._lock:
            try:
                self._client.delete_collection(collection_name(tenant_id))
            except Exception:  # chromadb raises NotFoundError (or ValueError in older releases) when absent
                pass

    def query(self, tenant_id: int, vector: np.ndarray, top_k: int) -> list[Hit]:
        collection = self._collection(tenant_id)
        if collection.count() == 0:
            return []
        result = collection.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=top_k,
            where={"tenant_id": tenant_id},
            include=["documents", "metadatas", "distances"],
        )
        hits = []
        for text, meta, distance in zip(result["documents"][0], result["metadatas"][0], result["distances"][0]):
            if meta.get("tenant_id") != tenant_id:
                continue
            hits.append(Hit(int(meta["document_id"]), int(meta["chunk"]), text, 1.0 - float(distance)))
        return hits

    def count(self, tenant_id: int) -> int:
        return self._collection(tenant_id).count()

    def close(self) -> None:
        pass
