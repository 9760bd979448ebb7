"""Guardrails benchmark: latency each check adds, stream hold-back, and accuracy on bench/data/.

    python bench/guardrail_checks.py            # everything (about two minutes on 2 cores)
    python bench/guardrail_checks.py --quick    # fewer iterations
    python bench/guardrail_checks.py --no-classifier

Latency is measured in-process on the check itself (no HTTP), for a 500- and a 5,000-character
prompt (English and Turkish prose with a few pieces of personal data), p50/p99 over N runs. The
embedding cache is cleared before each classifier run so every run embeds from scratch.

Stream: an answer is fed as ~4-character deltas; "held" is how many deltas pass before the first
text comes out (each costs one inter-token interval of time-to-first-token), "CPU/delta" what
``feed`` costs per delta.

Accuracy: PII on bench/data/pii.jsonl (a detection counts when it overlaps a labelled value of the
same entity), jailbreak on bench/data/jailbreak_{attacks,benign}.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.guardrails import GuardrailEngine, default_policy
from gateway.guardrails.pii import DEFAULT_ENTITIES
from gateway.guardrails.policy import InputChecks, JailbreakCheck, OutputChecks, PiiCheck, ToxicityCheck

DATA = ROOT / "bench" / "data"

PROSE = (
    "Merhaba, geçen ay aldığım çamaşır makinesi ile ilgili yazıyorum. Makine ilk haftadan beri yıkama sırasında "
    "çok ses çıkarıyor ve su boşaltmada hata veriyor. Servis iki kez geldi ama sorun çözülmedi. "
    "I also wrote to your English support line last week and was told that a replacement would be arranged, "
    "but nobody has contacted me since then. Could you please check the status of my case and let me know "
    "what the next steps are? Fatura ve garanti belgesi ekte. "
)
PII_BITS = [
    "You can reach me at ayse.yilmaz@example.com.tr or on +90 532 123 45 67.",
    "İade için IBAN: TR33 0006 1005 1978 6457 8413 26, T.C. kimlik no 10000000146.",
    "The order was paid with card 4111 1111 1111 1111.",
]


def prompt_of(length: int) -> str:
    text, i = "", 0
    while len(text) < length:
        text += PROSE + (PII_BITS[i % len(PII_BITS)] + " " if i % 2 == 0 else "")
        i += 1
    return text[:length]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn, n: int) -> tuple[float, float]:
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return pct(runs, 0.5), pct(runs, 0.99)


def atimed(engine: GuardrailEngine, coro_fn, n: int) -> tuple[float, float]:
    async def run() -> list[float]:
        runs = []
        for _ in range(n):
            t0 = time.perf_counter()
            await coro_fn()
            runs.append((time.perf_counter() - t0) * 1000)
        return runs

    runs = asyncio.run(run())
    return pct(runs, 0.5), pct(runs, 0.99)


def latency(engine: GuardrailEngine, n: int, classifier: bool) -> list[tuple[str, str, str]]:
    rows = []
    pii_only = default_policy().replace(
        input=InputChecks(jailbreak=JailbreakCheck(enabled=False), toxicity=ToxicityCheck(enabled=False))
    )
    full = (
        default_policy()
        if classifier
        else default_policy().replace(input=InputChecks(jailbreak=JailbreakCheck(classifier=False)))
    )
    for length in (500, 5000):
        text = prompt_of(length)
        messages = [{"role": "user", "content": text}]
        k = n if length == 500 else max(10, n // 4)
        cases = [
            ("jailbreak patterns (EN+TR regex)", lambda text=text: engine.patterns.scan(text)),
            ("toxicity lexicon", lambda text=text: engine.scorer.score(text)),
            (
                "PII detect (Presidio, 7 entities)",
                lambda text=text: engine.detector.find(text, list(DEFAULT_ENTITIES), 0.4),
            ),
        ]
        if classifier and engine.similarity is not None and engine.similarity.load():
            sim = engine.similarity

            def classify(sim=sim, text=text) -> None:
                sim.model._cache.clear()
                sim.score([text])

            cases.append(("jailbreak classifier (MiniLM, uncached)", classify))
        for name, fn in cases:
            fn()
            p50, p99 = timed(fn, k)
            rows.append((f"{name}", f"{length}", f"{p50:.2f} / {p99:.2f}"))
        for name, policy in (("check_input: PII mask only", pii_only), ("check_input: default policy", full)):

            async def check(policy=policy, messages=messages) -> None:
                if engine.similarity is not None:
                    engine.similarity.model._cache.clear()
                await engine.check_input(policy, messages)

            p50, p99 = atimed(engine, check, k)
            rows.append((name, f"{length}", f"{p50:.2f} / {p99:.2f}"))

        async def out(text=text) -> None:
            await engine.apply_output(default_policy(), None, text)

        p50, p99 = atimed(engine, out, k)
        rows.append(("apply_output (non-stream, default)", f"{length}", f"{p50:.2f} / {p99:.2f}"))
    return rows


def stream_holdback(engine: GuardrailEngine, n: int) -> list[tuple[str, str, str, str]]:
    rows = []
    answer = prompt_of(2000)
    deltas = [answer[i : i + 4] for i in range(0, len(answer), 4)]
    policies = {
        "default (output PII mask)": default_policy(),
        "reversible + medical disclaimer": default_policy().replace(
            reversible_masking=True, output=OutputChecks(disclaimers=["Bu bilgiler tıbbi tavsiye yerine geçmez."])
        ),
        "digits-only entities": default_policy().replace(
            output=OutputChecks(pii=PiiCheck(entities=["PHONE_NUMBER", "CREDIT_CARD", "TR_NATIONAL_ID", "US_SSN"]))
        ),
        "output PII off": default_policy().replace(output=OutputChecks(pii=PiiCheck(enabled=False))),
    }
    for name, policy in policies.items():
        held_first, per_delta, max_held = [], [], 0
        for _ in range(max(3, n // 20)):
            filt = engine.output_filter(policy, None)
            first = None
            for i, delta in enumerate(deltas):
                t0 = time.perf_counter()
                out = filt.feed(delta)
                per_delta.append((time.perf_counter() - t0) * 1000)
                max_held = max(max_held, filt.held)
                if out and first is None:
                    first = i
            filt.finish()
            held_first.append(first if first is not None else len(deltas))
        rows.append(
            (
                name,
                f"{statistics.median(held_first):.0f}",
                f"{pct(per_delta, 0.5):.3f} / {pct(per_delta, 0.99):.3f}",
                f"{max_held}",
            )
        )
    return rows


def pii_accuracy(engine: GuardrailEngine) -> tuple[list[tuple[str, ...]], dict]:
    rows = [json.loads(line) for line in (DATA / "pii.jsonl").read_text(encoding="utf-8").splitlines()]
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    near_miss_hits = 0
    for row in rows:
        text, lang = row["text"], row["lang"]
        spans = engine.detector.find(text, list(DEFAULT_ENTITIES), 0.4)
        gold = []
        for label in row["labels"]:
            at = text.index(label["value"])
            gold.append((label["entity"], at, at + len(label["value"])))
        matched = set()
        for span in spans:
            hit = next((g for g in gold if g[0] == span.entity and span.start < g[2] and g[1] < span.end), None)
            if hit is not None and hit not in matched:
                matched.add(hit)
                tp[span.entity] += 1
                tp["lang:" + lang] += 1
            else:
                fp[span.entity] += 1
                fp["lang:" + lang] += 1
                if "near_miss" in row:
                    near_miss_hits += 1
        for g in gold:
            if g not in matched:
                fn[g[0]] += 1
                fn["lang:" + lang] += 1
    out = []
    keys = sorted({k for k in (tp | fp | fn) if not k.startswith("lang:")}) + ["lang:en", "lang:tr"]
    for key in keys:
        p = tp[key] / (tp[key] + fp[key]) if tp[key] + fp[key] else 1.0
        r = tp[key] / (tp[key] + fn[key]) if tp[key] + fn[key] else 1.0
        out.append((key, str(tp[key] + fn[key]), f"{p:.3f}", f"{r:.3f}"))
    all_tp, all_fp, all_fn = (sum(c[k] for k in c if not k.startswith("lang:")) for c in (tp, fp, fn))
    out.append(("ALL", str(all_tp + all_fn), f"{all_tp / (all_tp + all_fp):.3f}", f"{all_tp / (all_tp + all_fn):.3f}"))
    info = {
        "examples": len(rows),
        "labelled": all_tp + all_fn,
        "near_misses": sum(1 for r in rows if "near_miss" in r),
        "near_miss_hits": near_miss_hits,
    }
    return out, info


def read_prompts(name: str) -> list[tuple[str, str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines if line.strip() and not line.startswith("#")]  # type: ignore[misc]


def jailbreak_accuracy(engine: GuardrailEngine, threshold: float) -> list[tuple[str, ...]]:
    attacks, benign = read_prompts("jailbreak_attacks.txt"), read_prompts("jailbreak_benign.txt")
    sim = engine.similarity if engine.similarity is not None and engine.similarity.load() else None
    verdicts: dict[str, list[tuple[str, bool, bool]]] = {"patterns": [], "classifier": [], "patterns + classifier": []}
    for label, items in ((True, attacks), (False, benign)):
        for lang, text in items:
            by_pattern = engine.patterns.scan(text) is not None
            by_model = sim is not None and sim.score([text])[0] >= threshold
            verdicts["patterns"].append((lang, label, by_pattern))
            if sim is not None:
                verdicts["classifier"].append((lang, label, by_model))
                verdicts["patterns + classifier"].append((lang, label, by_pattern or by_model))
    rows = []
    for detector, results in verdicts.items():
        if not results:
            continue
        for lang in ("en", "tr", "all"):
            sel = [(y, p) for lg, y, p in results if lang == "all" or lg == lang]
            tp = sum(1 for y, p in sel if y and p)
            fp = sum(1 for y, p in sel if not y and p)
            fn = sum(1 for y, p in sel if y and not p)
            n_pos, n_neg = sum(1 for y, _ in sel if y), sum(1 for y, _ in sel if not y)
            precision = tp / (tp + fp) if tp + fp else 1.0
            rows.append((detector, lang, f"{n_pos}/{n_neg}", f"{precision:.3f}", f"{tp / (tp + fn):.3f}", str(fp)))
    return rows


def table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--no-classifier", action="store_true", help="skip the embedding model")
    args = parser.parse_args()
    n = 40 if args.quick else 200
    classifier = not args.no_classifier

    t0 = time.perf_counter()
    engine = GuardrailEngine(classifier=classifier)
    status = asyncio.run(engine.warm())
    print(f"warm-up {time.perf_counter() - t0:.1f} s: {status}\n")

    print("## Latency each check adds (ms, p50 / p99)\n")
    print(table(("check", "prompt chars", "p50 / p99 ms"), latency(engine, n, classifier)))
    print("\n## Streaming output filter (2,000-char answer in 4-char deltas)\n")
    print(
        table(
            ("policy", "deltas held before first text", "CPU/delta ms p50 / p99", "max chars held"),
            stream_holdback(engine, n),
        )
    )
    rows, info = pii_accuracy(engine)
    print(
        f"\n## PII accuracy (bench/data/pii.jsonl: {info['examples']} texts, {info['labelled']} labelled values, "
        f"{info['near_misses']} near-miss texts, {info['near_miss_hits']} near-miss detections)\n"
    )
    print(table(("entity", "labelled", "precision", "recall"), rows))
    threshold = default_policy().input.jailbreak.threshold
    print(f"\n## Jailbreak accuracy (classifier threshold {threshold})\n")
    print(
        table(
            ("detector", "lang", "attacks/benign", "precision", "recall", "false positives"),
            jailbreak_accuracy(engine, threshold),
        )
    )
    engine.close()


if __name__ == "__main__":
    main()
