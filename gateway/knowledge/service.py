"""The knowledge capability's long-lived objects, built once per app (nothing heavy until first use)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.knowledge.book import KnowledgeBook
from gateway.knowledge.decisions import DecisionLog
from gateway.knowledge.documents import DocumentService
from gateway.knowledge.intents import IntentRouter
from gateway.knowledge.request_path import RequestKnowledge
from gateway.knowledge.retrieval import Collections
from gateway.knowledge.settings import KnowledgeSettings
from gateway.knowledge.tenant_config import KnowledgeConfigService
from gateway.storage.database import Database


@dataclass
class Knowledge:
    """Documents, per-tenant settings and intents, the router and the request-path hooks."""

    settings: KnowledgeSettings
    book: KnowledgeBook
    collections: Collections
    documents: DocumentService
    config: KnowledgeConfigService
    decisions: DecisionLog
    router: IntentRouter
    request: RequestKnowledge
    _warming: asyncio.Task | None = None

    @classmethod
    def build(
        cls,
        settings: KnowledgeSettings,
        db: Database,
        data_dir: Path,
        allowed_aliases: Callable[[str], Iterable[str]],
    ) -> Knowledge:
        book = KnowledgeBook(settings)
        collections = Collections(settings, data_dir)
        documents = DocumentService(db, collections)
        decisions = DecisionLog(db)
        router = IntentRouter(
            book,
            collections.embedder.with_int8(settings.intent_int8),
            decisions,
            settings.intent_temperature,
            settings.intent_max_words,
        )
        return cls(
            settings=settings,
            book=book,
            collections=collections,
            documents=documents,
            config=KnowledgeConfigService(db, settings, allowed_aliases),
            decisions=decisions,
            router=router,
            request=RequestKnowledge(settings, book, collections, documents, router),
        )

    async def start(self) -> None:
        self.decisions.start()
        if self.settings.warm_on_start or self.book.in_use():
            # Loading (or, the first time, exporting) the model takes seconds: not on a request.
            self._warming = asyncio.create_task(self.collections.embedder.warm())

    async def stop(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)
        await self.documents.stop()
        await self.decisions.stop()
        await asyncio.to_thread(self.collections.close)


def reachable_aliases(db: Database, default_models: Iterable[str]) -> Callable[[str], set[str]]:
    """For a tenant name: the model aliases it may call (its routes, plus the configured models if allowed)."""
    from sqlmodel import select

    from gateway.storage.models import Route
    from gateway.tenants import find_tenant

    defaults = set(default_models)

    def aliases(tenant_name: str) -> set[str]:
        with db.session() as session:
            tenant = find_tenant(session, tenant_name)
            routes = set(session.exec(select(Route.alias).where(Route.tenant_id == tenant.id)))
            return routes | (defaults if tenant.allow_default_models else set())

    return aliases
