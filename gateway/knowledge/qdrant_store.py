"""Qdrant: a server (``url``) for many replicas, or local mode in a folder; a collection per tenant."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gateway.knowledge.chunking import Chunk
from gateway.knowledge.store import Hit, collection_name

_POINT_NAMESPACE = uuid.UUID("8f7c2a52-4c0e-4a8e-9b1e-3d6c5f0a7e21")


def _point_id(tenant_id: int, document_id: int, chunk: int) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{tenant_id}:{document_id}:{chunk}"))


class QdrantStore:
    """``VectorStore`` over ``qdrant_client.QdrantClient`` with cosine distance and a tenant filter on every query."""

    def __init__(self, *, url: str | None = None, api_key: str | None = None, path: Path | None = None) -> None:
        from qdrant_client import QdrantClient, models

        self._models = models
        if url:
            self._client = QdrantClient(url=url, api_key=api_key)
        else:
            path = path or Path("data/knowledge/qdrant")
            path.mkdir(parents=True, exist_ok=True)
            self._client = QdrantClient(path=str(path))
        self._lock = threading.Lock()

    def _tenant_filter(self, tenant_id: int, document_id: int | None = None):
        models = self._models
        must = [models.FieldCondition(key="tenant_id", match=models.MatchValue(value=tenant_id))]
        if document_id is not None:
            must.append(models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id)))
        return models.Filter(must=must)

    def _ensure(self, tenant_id: int, dimension: int) -> str:
        name = collection_name(tenant_id)
        with self._lock:
            if not self._client.collection_exists(name):
                self._client.create_collection(
                    name,
                    vectors_config=self._models.VectorParams(size=dimension, distance=self._models.Distance.COSINE),
                )
        return name

    def upsert(self, tenant_id: int, document_id: int, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if not chunks:
            return
        name = self._ensure(tenant_id, int(vectors.shape[1]))
        points = [
            self._models.PointStruct(
                id=_point_id(tenant_id, document_id, chunk.index),
                vector=vector.tolist(),
                payload={"tenant_id": tenant_id, "document_id": document_id, "chunk": chunk.index, "text": chunk.text},
            )
            for chunk, vector in zip(chunks, vectors)
        ]
        with self._lock:
            self._client.upsert(name, points=points, wait=True)

    def delete_document(self, tenant_id: int, document_id: int) -> None:
        name = collection_name(tenant_id)
        with self._lock:
            if self._client.collection_exists(name):
                selector = self._models.FilterSelector(filter=self._tenant_filter(tenant_id, document_id))
                self._client.delete(name, points_selector=selector, wait=True)

    def delete_tenant(self, tenant_id: int) -> None:
        with self._lock:
            if self._client.collection_exists(collection_name(tenant_id)):
                self._client.delete_collection(collection_name(tenant_id))

    def query(self, tenant_id: int, vector: np.ndarray, top_k: int) -> list[Hit]:
        name = collection_name(tenant_id)
        with self._lock:
            if not self._client.collection_exists(name):
                return []
            result = self._client.query_points(
                name,
                query=np.asarray(vector, dtype=np.float32).tolist(),
                limit=top_k,
                query_filter=self._tenant_filter(tenant_id),
                with_payload=True,
            )
        return [
            Hit(int(p.payload["document_id"]), int(p.payload["chunk"]), p.payload["text"], float(p.score))
            for p in result.points
            if p.payload.get("tenant_id") == tenant_id
        ]

    def count(self, tenant_id: int) -> int:
        name = collection_name(tenant_id)
        with self._lock:
            if not self._client.collection_exists(name):
                return 0
            return self._client.count(name, count_filter=self._tenant_filter(tenant_id), exact=True).count

    def close(self) -> None:
        with self._lock:
            self._client.close()
