"""Sentence embeddings with onnxruntime from an exported folder (see ``onnx_export``): no torch.

One ``OnnxEncoder`` per process and model is enough: ``InferenceSession.run`` may be called from
several threads at once, and the tokenizer is configured once at load and never changed after
(``encode_batch`` only reads it), so ``encode`` is thread-safe.

The int8 copy quantises activations per batch (dynamic quantisation), so a text's int8 vector
moves slightly with its batch-mates; the router embeds each prompt on its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.knowledge.onnx_export import FORMAT, INT8_FILE, META_FILE, MODEL_FILE, TOKENIZER_FILE

if TYPE_CHECKING:
    import numpy as np


def default_threads() -> int:
    """Intra-op threads when the setting says 0: half the cores, 1 to 4 (the event loop needs one)."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The export's ``meta.json``, or None when the folder holds no complete export of this format."""
    try:
        meta = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not (folder / MODEL_FILE).is_file():
        return None
    return meta


class OnnxEncoder:
    """Unit-length float32 embeddings from an exported model (fp32, or its int8 copy)."""

    def __init__(self, session, tokenizer, meta: dict[str, Any], quantized: bool) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.meta = meta
        self.quantized = quantized
        self.dimension = int(meta["dimension"])
        self._inputs = tuple(meta["inputs"])
        self._lower = bool(meta.get("do_lower_case"))

    @property
    def runtime(self) -> str:
        return "onnx-int8" if self.quantized else "onnx"

    @classmethod
    def load(cls, folder: Path, threads: int = 0, quantized: bool = False) -> OnnxEncoder:
        """Open the export in ``folder``; ``quantized`` picks the int8 copy (``FileNotFoundError`` if absent)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = read_meta(folder)
        if meta is None:
            raise FileNotFoundError(f"no ONNX export in {folder}")
        path = folder / (INT8_FILE if quantized else MODEL_FILE)
        if not path.is_file():
            raise FileNotFoundError(path)
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        tokenizer.enable_padding(pad_id=int(meta["pad_token_id"]), pad_token=str(meta["pad_token"]))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads yield the CPU
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return cls(session, tokenizer, meta, quantized)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """A ``(len(texts), dimension)`` float32 array of normalised embeddings (blocking)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        cleaned = [str(t).strip() for t in texts]
        if self._lower:
            cleaned = [t.lower() for t in cleaned]
        order = sorted(range(len(cleaned)), key=lambda i: len(cleaned[i]))  # similar lengths, less padding
        out = np.empty((len(cleaned), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([cleaned[i] for i in batch])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            vectors = self.session.run(None, {name: feed[name] for name in self._inputs})[0]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
            out[batch] = vectors / norms
        return out
