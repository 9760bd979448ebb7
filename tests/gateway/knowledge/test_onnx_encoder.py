"""The ONNX export of the embedding model: same embeddings as torch, an int8 copy that routes alike,
exported once and reused, sentence-transformers when the export cannot be made, safe across threads."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from gateway.knowledge.classifier import CentroidClassifier
from gateway.knowledge.embedder import TorchEncoder, build_model, export_folder_name
from gateway.knowledge.onnx_encoder import OnnxEncoder
from gateway.knowledge.onnx_export import INT8_FILE, META_FILE, MODEL_FILE, export
from gateway.knowledge.seed_intents import SEED_INTENTS
from gateway.knowledge.settings import DEFAULT_EMBEDDING_MODEL
from tests.gateway.knowledge.documents import EXPENSES_POLICY, TURKISH_GUIDE, VACATION_POLICY
from tests.gateway.knowledge.held_out import HELD_OUT

HELD_OUT_PROMPTS = [prompt for prompts in HELD_OUT.values() for prompt in prompts]
PROMPTS = [
    *HELD_OUT_PROMPTS,
    "Python ile fibonacci fonksiyonu yaz",
    VACATION_POLICY,
    TURKISH_GUIDE,
    EXPENSES_POLICY * 12,  # longer than the model's 256 tokens: truncated the same way
    "  leading and trailing spaces  ",
    "x",
    "",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A cache folder holding one export of the offline MiniLM (made once for this module)."""
    folder = tmp_path_factory.mktemp("onnx-cache")
    export(DEFAULT_EMBEDDING_MODEL, folder / export_folder_name(DEFAULT_EMBEDDING_MODEL))
    return folder


@pytest.fixture(scope="module")
def exported(cache) -> Path:
    return cache / export_folder_name(DEFAULT_EMBEDDING_MODEL)


@pytest.fixture(scope="module")
def torch_encoder() -> TorchEncoder:
    loaded = build_model(DEFAULT_EMBEDDING_MODEL, "torch")
    assert isinstance(loaded.full, TorchEncoder)
    return loaded.full


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def decisions(encode, threshold: float = 0.7) -> list[tuple[str, bool]]:
    """(best intent, routed) for every held-out prompt, with centroids embedded by the same ``encode``."""
    classifier = CentroidClassifier.fit({name: encode(items) for name, items in SEED_INTENTS.items()}, 0.05)
    results = [classifier.classify(encode([prompt])[0]) for prompt in HELD_OUT_PROMPTS]  # one at a time, as routed
    return [(r.intent, r.confidence >= threshold) for r in results]


def test_fp32_onnx_embeddings_match_torch(exported, torch_encoder):
    onnx = OnnxEncoder.load(exported, threads=1)
    expected = torch_encoder.encode(PROMPTS)
    got = onnx.encode(PROMPTS)
    assert got.shape == (len(PROMPTS), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosines(expected, got).min() >= 0.9999
    meta = json.loads((exported / META_FILE).read_text())
    assert meta["fp32_min_cosine"] >= 0.9999 and meta["source"] == DEFAULT_EMBEDDING_MODEL


def test_int8_routes_the_held_out_prompts_exactly_like_fp32_and_torch(exported, torch_encoder):
    fp32 = OnnxEncoder.load(exported, threads=1)
    int8 = OnnxEncoder.load(exported, threads=1, quantized=True)
    meta = json.loads((exported / META_FILE).read_text())
    assert meta["int8"] is True and meta["int8_min_cosine"] >= 0.98
    assert cosines(fp32.encode(HELD_OUT_PROMPTS), int8.encode(HELD_OUT_PROMPTS)).min() >= 0.98
    reference = decisions(torch_encoder.encode)
    assert decisions(fp32.encode) == reference
    assert decisions(int8.encode) == reference
    right = sum(intent == expected for (intent, _), expected in zip(reference, _expected()))
    assert right >= 18


def _expected() -> list[str]:
    return [intent for intent, prompts in HELD_OUT.items() for _ in prompts]


def test_a_cached_export_is_opened_not_made_again(cache, exported):
    stamps = {name: (exported / name).stat().st_mtime_ns for name in (MODEL_FILE, INT8_FILE, META_FILE)}
    loaded = build_model(DEFAULT_EMBEDDING_MODEL, "onnx", cache, threads=1)
    assert loaded.full.runtime == "onnx" and loaded.int8 is not None and loaded.int8.runtime == "onnx-int8"
    assert {name: (exported / name).stat().st_mtime_ns for name in stamps} == stamps
    assert loaded.full.encode(["Python ile fibonacci fonksiyonu yaz"]).shape == (1, 384)


def test_sentence_transformers_serves_when_the_export_cannot_be_made(tmp_path, torch_encoder):
    not_a_folder = tmp_path / "occupied"
    not_a_folder.write_text("a file where the cache folder should be")
    loaded = build_model(DEFAULT_EMBEDDING_MODEL, "onnx", not_a_folder, threads=1)
    assert loaded.full.runtime == "torch" and loaded.int8 is None
    vector = loaded.full.encode(["How many days of paid leave do I get?"])
    assert vector.shape == (1, 384) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


@pytest.mark.parametrize("quantized", [False, True])
def test_one_encoder_gives_the_same_vectors_from_many_threads(exported, quantized):
    encoder = OnnxEncoder.load(exported, threads=1, quantized=quantized)
    texts = PROMPTS[:-1]
    sequential = [encoder.encode([text])[0] for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda text: encoder.encode([text])[0], texts * 4))
    for index, vector in enumerate(parallel):
        assert np.allclose(vector, sequential[index % len(texts)], atol=1e-6)
    if not quantized:  # (int8 activations are quantised per batch, so there batch-mates move a vector a little)
        assert np.allclose(encoder.encode(texts), np.stack(sequential), atol=1e-5)
