"""The intent router: the ``auto`` model alias, resolved per prompt to one of the tenant's experts.

A tenant's intents (example prompts → a model alias) are embedded once per change and turned
into a ``CentroidClassifier``; a prompt whose confidence is below the tenant's threshold goes
to the tenant's fallback alias (its base model). Every decision is logged (``DecisionLog``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.knowledge.book import IntentRecord, KnowledgeBook
from gateway.knowledge.classifier import CentroidClassifier, Classification
from gateway.knowledge.decisions import Decision, DecisionLog
from gateway.knowledge.embedder import Embedder

log = logging.getLogger("gateway.knowledge")


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where ``auto`` sent one prompt."""

    alias: str
    intent: str | None
    confidence: float
    fell_back: bool

    def headers(self) -> dict[str, str]:
        return {
            "x-gateway-intent": self.intent or "none",
            "x-gateway-intent-confidence": f"{self.confidence:.3f}",
            "x-gateway-intent-target": self.alias,
        }


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The text classified and used as the retrieval query: the last user message's text."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def excerpt(text: str, max_words: int) -> str:
    """What is classified: the whole prompt, or its first ¾ and last ¼ of ``max_words`` words (bounded latency)."""
    words = text.split()
    if len(words) <= max_words:
        return text
    head = max_words * 3 // 4
    return " ".join(words[:head] + words[len(words) - (max_words - head) :])


def _fingerprint(intents: tuple[IntentRecord, ...], temperature: float) -> str:
    raw = msgspec.json.encode([[i.name, list(i.examples)] for i in intents] + [temperature])
    return hashlib.sha256(raw).hexdigest()


class IntentRouter:
    """Classifies prompts for tenants that have intents; classifiers are cached until the intents change."""

    def __init__(
        self, book: KnowledgeBook, embedder: Embedder, log: DecisionLog, temperature: float, max_words: int = 64
    ) -> None:
        self.book = book
        self.embedder = embedder
        self.log = log
        self.temperature = temperature
        self.max_words = max_words
        self._classifiers: dict[int, tuple[str, CentroidClassifier]] = {}
        self._building: dict[int, asyncio.Lock] = {}

    def has_intents(self, tenant_id: int) -> bool:
        return bool(self.book.intents(tenant_id))

    def _build(self, intents: tuple[IntentRecord, ...]) -> CentroidClassifier:
        examples = {i.name: self.embedder.encode(list(i.examples)) for i in intents}
        return CentroidClassifier.fit(examples, self.temperature)

    async def classifier(self, tenant_id: int) -> CentroidClassifier:
        intents = self.book.intents(tenant_id)
        fingerprint = _fingerprint(intents, self.temperature)
        cached = self._classifiers.get(tenant_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        lock = self._building.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            cached = self._classifiers.get(tenant_id)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            classifier = await asyncio.to_thread(self._build, intents)
            self._classifiers[tenant_id] = (fingerprint, classifier)
            return classifier

    async def classify(self, tenant_id: int, text: str) -> Classification:
        classifier = await self.classifier(tenant_id)
        vector = (await self.embedder.aencode([excerpt(text, self.max_words)]))[0]
        return classifier.classify(vector)

    async def route(self, tenant_id: int, messages: list[dict[str, Any]], request_id: str) -> RouteDecision:
        """Pick the alias for this prompt and log the decision."""
        config = self.book.config(tenant_id)
        targets = {i.name: i.target for i in self.book.intents(tenant_id)}
        text = prompt_text(messages)
        if not text.strip():
            decision = RouteDecision(config.intent_fallback or "", None, 0.0, True)
        else:
            try:
                result = await self.classify(tenant_id, text)
            except Exception:
                log.exception("knowledge: intent classification failed; using the fallback model")
                result = Classification("", 0.0, {})
            target = targets.get(result.intent)  # None when the intents changed while classifying
            if target is not None and result.confidence >= config.intent_threshold:
                decision = RouteDecision(target, result.intent, result.confidence, False)
            else:
                decision = RouteDecision(config.intent_fallback or "", result.intent or None, result.confidence, True)
        self.log.record(
            Decision(tenant_id, request_id, decision.intent, decision.alias, decision.confidence, decision.fell_back)
        )
        return decision
