"""Knowledge on the chat path: the ``auto`` alias (intent router) and RAG context for one request.

The request extension is one top-level field, friendly to the OpenAI SDK's ``extra_body``::

    "paramgate": {"rag": true, "top_k": 5}    # rag: force on/off for this request; top_k: optional

It is removed before the request goes upstream. When context was added, the response carries
``x-gateway-rag-documents`` (comma-separated document ids) and, in a non-streamed body,
``"paramgate": {"rag": {"documents": [{"id", "name", "sha256", "chunks"}]}}``; the attestation
signs ``{"documents": [{"id", "sha256"}], "context_sha256"}`` (see ``gateway/attestation/README.md``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.directory import TenantRecord
from gateway.errors import InvalidRequest, ModelNotFound
from gateway.knowledge.book import KnowledgeBook
from gateway.knowledge.chunking import count_tokens
from gateway.knowledge.documents import DocumentService
from gateway.knowledge.intents import IntentRouter, RouteDecision, prompt_text
from gateway.knowledge.retrieval import Collections, RetrievalLimits, retrieve
from gateway.knowledge.settings import KnowledgeSettings
from gateway.knowledge.store import Hit

log = logging.getLogger("gateway.knowledge")

EXTENSION_FIELD = "paramgate"
MESSAGE_TOKENS = 4
NAME_TOKENS = 16
"""A document name's share of the context reservation (a name of 64 characters; longer ones are rare)."""
DOCUMENTS_HEADER = "x-gateway-rag-documents"
CONTEXT_PREAMBLE = (
    "Use the following excerpts from the organisation's knowledge base when they are relevant to the "
    "user's question. Cite them by their [number]. If they do not contain the answer, say so."
)


@dataclass(frozen=True, slots=True)
class Choice:
    """What the knowledge layer decided before routing: the alias to route, and the request's RAG wish."""

    alias: str
    decision: RouteDecision | None = None
    rag: bool | None = None
    top_k: int | None = None

    def headers(self) -> dict[str, str]:
        return self.decision.headers() if self.decision else {}


@dataclass(slots=True)
class Context:
    """The body to send upstream, and (when context was added) what to report and attest."""

    body: dict[str, Any]
    documents: list[dict[str, Any]] = field(default_factory=list)
    context_sha256: str | None = None

    def headers(self) -> dict[str, str]:
        if not self.documents:
            return {}
        return {DOCUMENTS_HEADER: ",".join(str(d["id"]) for d in self.documents)}

    def attested(self) -> dict[str, Any] | None:
        if not self.documents:
            return None
        return {
            "documents": [{"id": d["id"], "sha256": d["sha256"]} for d in self.documents],
            "context_sha256": self.context_sha256,
        }

    def extension(self) -> dict[str, Any] | None:
        return {"rag": {"documents": self.documents}} if self.documents else None


def parse_extension(body: dict[str, Any]) -> tuple[bool | None, int | None]:
    raw = body.get(EXTENSION_FIELD)
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise InvalidRequest(f"'{EXTENSION_FIELD}' must be an object", param=EXTENSION_FIELD)
    unknown = sorted(set(raw) - {"rag", "top_k"})
    if unknown:
        raise InvalidRequest(f"unknown fields in '{EXTENSION_FIELD}': {unknown}", param=EXTENSION_FIELD)
    rag, top_k = raw.get("rag"), raw.get("top_k")
    if rag is not None and not isinstance(rag, bool):
        raise InvalidRequest(f"'{EXTENSION_FIELD}.rag' must be true or false", param=f"{EXTENSION_FIELD}.rag")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 50):
        raise InvalidRequest(
            f"'{EXTENSION_FIELD}.top_k' must be an integer from 1 to 50", param=f"{EXTENSION_FIELD}.top_k"
        )
    return rag, top_k


def context_message(hits: list[Hit], names: dict[int, tuple[str, str]]) -> str:
    parts = [CONTEXT_PREAMBLE]
    for number, hit in enumerate(hits, start=1):
        name = names.get(hit.document_id, ("document", ""))[0]
        parts.append(f"[{number}] {name}\n{hit.text}")
    return "\n\n".join(parts)


def with_context(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The messages with a system message holding ``text`` after any leading system messages."""
    position = 0
    while position < len(messages) and messages[position].get("role") in ("system", "developer"):
        position += 1
    return [*messages[:position], {"role": "system", "content": text}, *messages[position:]]


class RequestKnowledge:
    """The hooks ``ChatService`` calls: ``choose`` before routing, ``augment`` after the input guardrails."""

    def __init__(
        self,
        settings: KnowledgeSettings,
        book: KnowledgeBook,
        collections: Collections,
        documents: DocumentService,
        router: IntentRouter,
    ) -> None:
        self.settings = settings
        self.book = book
        self.collections = collections
        self.documents = documents
        self.router = router

    async def choose(self, tenant: TenantRecord, model: str, body: dict[str, Any], request_id: str) -> Choice:
        """Validate the extension field, and resolve the intent alias to one of the tenant's experts."""
        rag, top_k = parse_extension(body)
        if model != self.settings.intent_alias or not self.router.has_intents(tenant.id):
            return Choice(model, None, rag, top_k)
        decision = await self.router.route(tenant.id, body["messages"], request_id)
        if not decision.alias:
            raise ModelNotFound("The intent router has no fallback model configured for this tenant.", param="model")
        return Choice(decision.alias, decision, rag, top_k)

    def _wanted(self, tenant: TenantRecord, choice: Choice) -> bool:
        return choice.rag if choice.rag is not None else self.book.config(tenant.id).rag_enabled

    def context_reservation(self, tenant: TenantRecord, choice: Choice) -> int:
        """Prompt tokens to reserve for the context ``augment`` may add (0 when RAG will not apply):
        the tenant's context budget, the preamble and each chunk's heading (estimated like the prompt).

        Reserved with the prompt at admission so a quota cannot be overrun by retrieved context;
        the settlement to the real usage gives back what was not used."""
        if not self._wanted(tenant, choice):
            return 0
        config = self.book.config(tenant.id)
        top_k = choice.top_k or config.top_k
        return (
            MESSAGE_TOKENS
            + count_tokens(CONTEXT_PREAMBLE)
            + config.token_budget
            + top_k * (count_tokens("\n\n[50] \n") + NAME_TOKENS)
        )

    async def augment(
        self,
        tenant: TenantRecord,
        body: dict[str, Any],
        choice: Choice,
        screen: Callable[[str], Awaitable[str]] | None = None,
    ) -> Context:
        """The upstream body: the extension field removed and, when RAG applies, the context added.

        ``screen`` is applied to the context before it is added (the tenant's input PII masking)."""
        if EXTENSION_FIELD in body:
            body = {k: v for k, v in body.items() if k != EXTENSION_FIELD}
        config = self.book.config(tenant.id)
        if not self._wanted(tenant, choice):
            return Context(body)
        limits = RetrievalLimits(choice.top_k or config.top_k, config.threshold, config.token_budget)
        query = prompt_text(body["messages"])
        try:
            hits = await asyncio.to_thread(retrieve, self.collections, tenant.id, query, limits)
            names = await asyncio.to_thread(self.documents.names, tenant.id, {h.document_id for h in hits})
        except Exception:
            log.exception("knowledge: retrieval failed for tenant %s; answering without context", tenant.name)
            return Context(body)
        hits = [h for h in hits if h.document_id in names]
        if not hits:
            return Context(body)
        text = context_message(hits, names)
        if screen is not None:
            try:
                text = await screen(text)
            except Exception:  # never send context that could not be screened
                log.exception("knowledge: screening the context failed for %s; answering without it", tenant.name)
                return Context(body)
        documents: dict[int, dict[str, Any]] = {}
        for hit in hits:
            name, sha256 = names[hit.document_id]
            entry = documents.setdefault(
                hit.document_id, {"id": hit.document_id, "name": name, "sha256": sha256, "chunks": []}
            )
            entry["chunks"].append(hit.chunk_index)
        body = {**body, "messages": with_context(body["messages"], text)}
        return Context(body, list(documents.values()), hashlib.sha256(text.encode("utf-8")).hexdigest())
