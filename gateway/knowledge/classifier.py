"""Nearest-centroid intent classification over normalised sentence embeddings.

Each intent's centroid is the normalised mean of its examples' embeddings. For a prompt ``x``
the score of intent ``i`` is the cosine similarity ``s_i = x·c_i``; the confidence is the
softmax of those similarities at temperature ``T`` (``[knowledge] intent_temperature``,
default 0.05)::

    p_i = exp(s_i / T) / Σ_j exp(s_j / T)

so a prompt half-way between two intents gets about 0.5 each, and one whose similarity to
the best intent is 0.1 above all the others gets ``1 / (1 + (n-1)·e^-2)`` (0.71 with four
intents). Below the tenant's threshold (0.7 by default) the router uses the fallback model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class Classification:
    """The best intent, its confidence, and every intent's probability."""

    intent: str
    confidence: float
    probabilities: dict[str, float]


class CentroidClassifier:
    """Built from per-intent example embeddings; ``classify`` takes one normalised prompt embedding."""

    def __init__(self, names: Sequence[str], centroids: np.ndarray, temperature: float) -> None:
        self.names = tuple(names)
        self.centroids = centroids
        self.temperature = temperature

    @classmethod
    def fit(cls, examples: dict[str, np.ndarray], temperature: float) -> CentroidClassifier:
        """``examples``: intent name → ``(n_examples, dim)`` normalised embeddings."""
        import numpy as np

        names = list(examples)
        centroids = np.stack([examples[name].mean(axis=0) for name in names])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True).clip(min=1e-12)
        return cls(names, centroids.astype(np.float32), temperature)

    def classify(self, vector: np.ndarray) -> Classification:
        import numpy as np

        similarities = self.centroids @ np.asarray(vector, dtype=np.float32).reshape(-1)
        logits = (similarities - similarities.max()) / self.temperature
        weights = np.exp(logits)
        probabilities = weights / weights.sum()
        best = int(np.argmax(probabilities))
        return Classification(
            self.names[best],
            float(probabilities[best]),
            {name: float(p) for name, p in zip(self.names, probabilities)},
        )
