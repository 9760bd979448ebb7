"""How much reviewers agree (percent agreement and Fleiss' kappa), and where the judge and humans differ."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from training.models import CHOICES


@dataclass(frozen=True, slots=True)
class Agreement:
    """Over pairs with at least two labels: ``percent`` of agreeing rater pairs and Fleiss' ``kappa``."""

    pairs: int
    labels: int
    percent: float | None
    kappa: float | None
    split: tuple[int, ...]
    """Ids of pairs whose labels are not unanimous."""


def agreement(labels: Mapping[int, Sequence[str]]) -> Agreement:
    """Fleiss' kappa with a varying number of raters per item (each item weighted by its rater pairs)."""
    rated = {pair: choices for pair, choices in labels.items() if len(choices) >= 2}
    total = sum(len(c) for c in rated.values())
    if not rated:
        return Agreement(0, total, None, None, ())
    agreeing = rater_pairs = 0
    category_totals: Counter[str] = Counter()
    for choices in rated.values():
        counts = Counter(choices)
        category_totals.update(counts)
        agreeing += sum(n * (n - 1) for n in counts.values())
        rater_pairs += len(choices) * (len(choices) - 1)
    observed = agreeing / rater_pairs
    expected = sum((category_totals[c] / total) ** 2 for c in CHOICES)
    kappa = 1.0 if expected == 1.0 else (observed - expected) / (1 - expected)
    split = tuple(sorted(pair for pair, choices in rated.items() if len(set(choices)) > 1))
    return Agreement(len(rated), total, round(observed * 100, 1), round(kappa, 3), split)


def majority(choices: Sequence[str]) -> str | None:
    """The strict-majority choice among labels, or None when there is none."""
    if not choices:
        return None
    (top, count), *rest = Counter(choices).most_common() + [(None, 0)]
    return top if count > rest[0][1] else None


def judge_choice(score_a: float | None, score_b: float | None) -> str | None:
    """The judge's verdict on a pair from its candidates' totals (``tie`` when equal)."""
    if score_a is None or score_b is None:
        return None
    if score_a == score_b:
        return "tie"
    return "a" if score_a > score_b else "b"
