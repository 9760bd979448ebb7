"""Each tenant's knowledge settings and intents, held in memory and reloaded with the directory.

Admin changes bump the directory version, so every replica reloads them within about
``directory_refresh_seconds`` (see ``gateway.directory``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from gateway.knowledge.models import Intent, KnowledgeConfig
from gateway.knowledge.settings import KnowledgeSettings


@dataclass(frozen=True, slots=True)
class TenantKnowledge:
    """A tenant's retrieval settings and its router's threshold and fallback alias."""

    rag_enabled: bool
    top_k: int
    threshold: float
    token_budget: int
    intent_threshold: float
    intent_fallback: str | None


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """One intent: its name, the model alias it routes to, and its example prompts."""

    name: str
    target: str
    examples: tuple[str, ...]


def defaults_of(settings: KnowledgeSettings) -> TenantKnowledge:
    return TenantKnowledge(
        rag_enabled=False,
        top_k=settings.default_top_k,
        threshold=settings.default_threshold,
        token_budget=settings.default_token_budget,
        intent_threshold=settings.intent_threshold,
        intent_fallback=None,
    )


def config_of(row: KnowledgeConfig) -> TenantKnowledge:
    return TenantKnowledge(
        rag_enabled=row.rag_enabled,
        top_k=row.top_k,
        threshold=row.threshold,
        token_budget=row.token_budget,
        intent_threshold=row.intent_threshold,
        intent_fallback=row.intent_fallback,
    )


class KnowledgeBook:
    """The snapshot the request path reads: ``config(tenant_id)`` and ``intents(tenant_id)``."""

    def __init__(self, settings: KnowledgeSettings) -> None:
        self.defaults = defaults_of(settings)
        self._configs: dict[int, TenantKnowledge] = {}
        self._intents: dict[int, tuple[IntentRecord, ...]] = {}

    def load(self, session: Session) -> None:
        """A directory reload hook."""
        configs = {row.tenant_id: config_of(row) for row in session.exec(select(KnowledgeConfig))}
        intents: dict[int, list[IntentRecord]] = {}
        for row in session.exec(select(Intent).order_by(Intent.tenant_id, Intent.name)):
            intents.setdefault(row.tenant_id, []).append(IntentRecord(row.name, row.target, tuple(row.examples)))
        self._configs = configs
        self._intents = {tenant: tuple(items) for tenant, items in intents.items()}

    def config(self, tenant_id: int) -> TenantKnowledge:
        return self._configs.get(tenant_id, self.defaults)

    def in_use(self) -> bool:
        """Whether any tenant retrieves context or has intents (so the embedding model will be needed)."""
        return (
            self.defaults.rag_enabled
            or bool(self._intents)
            or any(config.rag_enabled for config in self._configs.values())
        )

    def intents(self, tenant_id: int) -> tuple[IntentRecord, ...]:
        return self._intents.get(tenant_id, ())
