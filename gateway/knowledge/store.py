"""The vector store interface: one collection per tenant, the tenant id also on every point.

Every call names the tenant; implementations keep each tenant in its own collection *and*
filter on the ``tenant_id`` stored with each chunk, so a mistake in one layer cannot leak
another tenant's text. Calls block (the clients are synchronous); callers run them in threads.

    VectorStore
     ├── ChromaStore   embedded, persistent under the data folder (the default)
     └── QdrantStore   a Qdrant server (``qdrant_url``) or Qdrant's local mode (a folder)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

from gateway.knowledge.chunking import Chunk
from gateway.knowledge.settings import KnowledgeSettings


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk and its cosine similarity to the query (1 = same direction)."""

    document_id: int
    chunk_index: int
    text: str
    score: float


class VectorStore(Protocol):
    """What the knowledge service needs from a vector database."""

    def upsert(self, tenant_id: int, document_id: int, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store a document's chunks (replacing any with the same positions)."""

    def delete_document(self, tenant_id: int, document_id: int) -> None:
        """Remove every chunk of one document."""

    def delete_tenant(self, tenant_id: int) -> None:
        """Drop the tenant's whole collection (re-indexing starts from this)."""

    def query(self, tenant_id: int, vector: np.ndarray, top_k: int) -> list[Hit]:
        """The ``top_k`` chunks of this tenant closest to ``vector``, best first."""

    def count(self, tenant_id: int) -> int:
        """How many chunks the tenant's collection holds."""

    def close(self) -> None:
        """Release files and connections."""


def collection_name(tenant_id: int) -> str:
    return f"tenant_{tenant_id}"


def build_store(settings: KnowledgeSettings, data_dir: Path) -> VectorStore:
    """The configured store; its client library is imported here, only when knowledge is used."""
    if settings.store == "qdrant":
        from gateway.knowledge.qdrant_store import QdrantStore

        if settings.qdrant_url:
            import os

            api_key = os.environ.get(settings.qdrant_api_key_env) if settings.qdrant_api_key_env else None
            return QdrantStore(url=settings.qdrant_url, api_key=api_key)
        return QdrantStore(path=data_dir / "knowledge" / "qdrant")
    from gateway.knowledge.chroma_store import ChromaStore

    return ChromaStore(Path(settings.chroma_path) if settings.chroma_path else data_dir / "knowledge" / "chroma")
