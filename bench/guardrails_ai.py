"""guardrails-ai validators: what importing guardrails-ai, building a validator and running it cost.

    .venv-guardrails-ai/bin/python bench/guardrails_ai.py          # make .venv-guardrails-ai/.installed first
    .venv-guardrails-ai/bin/python bench/guardrails_ai.py --quick

Import: ``import guardrails.validator_base`` in a fresh interpreter (the first policy with a
validator pays it once per process). Build: the first ``ValidatorRegistry.check`` of a validator
(instance + a try on a sample sentence). Run: ``ValidatorRegistry.run`` on a 500- and a
5,000-character prompt (the same prose as bench/guardrail_checks.py), p50/p99 over N runs, in-process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from gateway.guardrails.validators import ValidatorRegistry

PROSE = (
    "Merhaba, geçen ay aldığım çamaşır makinesi ile ilgili yazıyorum. Makine ilk haftadan beri yıkama sırasında "
    "çok ses çıkarıyor ve su boşaltmada hata veriyor. I also wrote to your English support line last week and "
    "was told that a replacement would be arranged, but nobody has contacted me since then. "
)
VALIDATORS = [
    ("ban_list", {"banned_words": ["Project Falcon", "Proje Şahin"]}),
    ("regex_match", {"regex": r"[^0-9]*"}),
    ("valid_length", {"max": 4000}),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def import_seconds(runs: int) -> float:
    code = "import time; t = time.perf_counter(); import guardrails.validator_base; print(time.perf_counter() - t)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    n = 50 if options.quick else 300
    print(f"import guardrails.validator_base (fresh interpreter, median of 3): {import_seconds(3):.2f} s\n")
    import guardrails.validator_base  # noqa: F401  (paid above; "build" below is the validator's own)

    registry = ValidatorRegistry()
    rows = []
    for name, args in VALIDATORS:
        t0 = time.perf_counter()
        registry.check(name, args)
        build_ms = (time.perf_counter() - t0) * 1000
        row = [name, f"{build_ms:.1f}"]
        for length in (500, 5000):
            text = (PROSE * (length // len(PROSE) + 1))[:length]
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                registry.run(name, args, text)
                times.append((time.perf_counter() - t0) * 1000)
            row += [f"{pct(times, 0.5):.3f}", f"{pct(times, 0.99):.3f}"]
        rows.append(tuple(row))
    headers = ("validator", "build ms", "500 ch p50 ms", "500 ch p99 ms", "5000 ch p50 ms", "5000 ch p99 ms")
    print(table(headers, rows))


if __name__ == "__main__":
    main()
