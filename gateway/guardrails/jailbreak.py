"""Jailbreak / prompt-injection detection: a pattern set (EN+TR) and an embedding-similarity classifier.

``PatternDetector`` is pure regex over folded text (see :mod:`gateway.guardrails.attacks`): always
available, microseconds per message. ``SimilarityDetector`` embeds the prompt sentence by sentence
and compares each with known attack prompts and with ordinary prompts (a nearest-neighbour margin,
0..1); the policy's ``input.jailbreak.threshold`` decides. The model is English-trained: Turkish attacks
rely mostly on the patterns (the benchmark reports both, per language).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.guardrails.attacks import BENIGN_ANCHORS, EXEMPLARS, PATTERNS, AttackPattern
from gateway.guardrails.embeddings import EmbeddingModel
from gateway.guardrails.normalize import fold

_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
MAX_WINDOW_CHARS = 300
MAX_WINDOWS = 64
MIN_WINDOW_CHARS = 40


@dataclass(frozen=True, slots=True)
class JailbreakFinding:
    detector: str  # "pattern" or "classifier"
    rule: str  # pattern id, or "similarity"
    score: float


class PatternDetector:
    def __init__(self, patterns: tuple[AttackPattern, ...] = PATTERNS) -> None:
        self._folded = [(p.id, re.compile(p.regex)) for p in patterns if not p.raw]
        self._raw = [(p.id, re.compile(p.regex)) for p in patterns if p.raw]

    def scan(self, text: str) -> JailbreakFinding | None:
        """The first pattern that matches ``text``, or None."""
        for rule, regex in self._raw:
            if regex.search(text):
                return JailbreakFinding("pattern", rule, 1.0)
        folded = fold(text)
        for rule, regex in self._folded:
            if regex.search(folded):
                return JailbreakFinding("pattern", rule, 1.0)
        return None


def windows(text: str) -> list[str]:
    """Sentence-sized pieces of ``text`` (short sentences joined to the next), at most ``MAX_WINDOWS``."""
    pieces: list[str] = []
    carry = ""
    for piece in _SENTENCE.split(text):
        piece = f"{carry} {piece.strip()}".strip() if carry else piece.strip()
        carry = ""
        if len(piece) < MIN_WINDOW_CHARS:
            carry = piece
            continue
        while len(piece) > MAX_WINDOW_CHARS:
            cut = piece.rfind(" ", 0, MAX_WINDOW_CHARS)
            cut = cut if cut > MAX_WINDOW_CHARS // 2 else MAX_WINDOW_CHARS
            pieces.append(piece[:cut])
            piece = piece[cut:].strip()
        if piece:
            pieces.append(piece)
    if len(carry) >= 3:
        pieces.append(carry)
    if len(pieces) > MAX_WINDOWS:  # keep the beginning and the end, where injected instructions sit
        half = MAX_WINDOWS // 2
        pieces = pieces[:half] + pieces[-half:]
    return list(dict.fromkeys(pieces))


class SimilarityDetector:
    """Nearest-neighbour classifier over sentence embeddings.

    For each sentence-sized window of the prompt: ``a`` = highest cosine similarity to a known attack
    prompt, ``b`` = highest to an ordinary prompt (``BENIGN_ANCHORS``); the window's score is
    ``(1 + a − b) / 2`` in 0..1 (0.5: as close to either). The prompt's score is its best window's;
    the policy's ``input.jailbreak.threshold`` decides.
    """

    def __init__(
        self,
        model: EmbeddingModel,
        exemplars: tuple[str, ...] = EXEMPLARS,
        anchors: tuple[str, ...] = BENIGN_ANCHORS,
    ) -> None:
        self.model = model
        self._texts = (exemplars, anchors)
        self._attacks: Any = None
        self._benign: Any = None

    @property
    def unavailable_reason(self) -> str | None:
        return self.model.unavailable_reason

    def load(self) -> bool:
        if self._attacks is not None:
            return True
        if not self.model.load():
            return False
        self._benign = self.model.encode(list(self._texts[1])).T
        self._attacks = self.model.encode(list(self._texts[0])).T
        return True

    def score(self, texts: list[str]) -> tuple[float, int]:
        """Best window score over ``texts`` (0..1), and the index of the text it was in (-1: none)."""
        pieces: list[tuple[int, str]] = [(i, w) for i, text in enumerate(texts) for w in windows(text)]
        if not pieces:
            return 0.0, -1
        vectors = self.model.encode([w for _, w in pieces])
        scores = (1.0 + (vectors @ self._attacks).max(axis=1) - (vectors @ self._benign).max(axis=1)) / 2.0
        at = int(scores.argmax())
        return float(scores[at]), pieces[at][0]
