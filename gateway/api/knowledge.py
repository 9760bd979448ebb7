"""``/admin/api/tenants/{name}/knowledge/...`` and ``/intents``: documents, retrieval settings, the intent router."""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from gateway.api.admin import admin_guard, record
from gateway.errors import InvalidRequest
from gateway.knowledge.retrieval import RetrievalLimits, retrieve
from gateway.knowledge.tenant_config import Alias, IntentsSpec, KnowledgeSettingsSpec, seed_spec
from gateway.services import Services


class SearchSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST .../knowledge/search``: what retrieval would add for ``query``."""

    query: Annotated[str, msgspec.Meta(min_length=1, max_length=8000)]
    top_k: Annotated[int, msgspec.Meta(ge=1, le=50)] | None = None


class SeedSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST .../intents/seed``: the seed intents' targets (intent → alias) and the fallback alias."""

    targets: dict[str, Alias]
    fallback: Alias
    threshold: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None


class ClassifySpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST .../intents/classify``: a dry run of the router (not logged)."""

    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=32_000)]


async def _tenant_id(services: Services, name: str) -> int:
    return await asyncio.to_thread(services.knowledge.documents.tenant_id, name)


class KnowledgeApiController(Controller):
    """A tenant's knowledge collection and intent router."""

    path = "/admin/api/tenants/{name:str}"
    guards = [admin_guard]
    tags = ["knowledge"]

    @get("/knowledge/documents", sync_to_thread=True)
    def list_documents(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return {"data": services.knowledge.documents.list(name)}

    @post("/knowledge/documents")
    async def upload_document(
        self, services: NamedDependency[Services], name: FromPath[str], request: Request
    ) -> Response:
        """Upload one document as multipart form data (field ``file``: .txt, .md or .pdf)."""
        try:
            form = await request.form()
        except Exception:
            raise InvalidRequest("send the document as multipart/form-data in the field 'file'", param="file") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("send the document as multipart/form-data in the field 'file'", param="file")
        data = await upload.read()
        view, created = await asyncio.to_thread(
            services.knowledge.documents.upload, name, upload.filename or "", data, upload.content_type
        )
        if created:
            change = {"name": view["name"], "sha256": view["sha256"], "chunks": view["chunks"]}
            await asyncio.to_thread(
                record, services, "knowledge.upload", f"tenant:{name}/document:{view['id']}", change
            )
        return Response({**view, "duplicate": not created}, status_code=201 if created else 200)

    @get("/knowledge/documents/{document_id:int}", sync_to_thread=True)
    def get_document(
        self, services: NamedDependency[Services], name: FromPath[str], document_id: FromPath[int]
    ) -> dict:
        return services.knowledge.documents.get(name, document_id)

    @delete("/knowledge/documents/{document_id:int}", status_code=200, sync_to_thread=True)
    def delete_document(
        self, services: NamedDependency[Services], name: FromPath[str], document_id: FromPath[int]
    ) -> dict:
        view = services.knowledge.documents.delete(name, document_id)
        record(services, "knowledge.delete", f"tenant:{name}/document:{document_id}", {"sha256": view["sha256"]})
        return view

    @post("/knowledge/reindex", status_code=202)
    async def reindex(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        job = await services.knowledge.documents.reindex(name)
        await asyncio.to_thread(record, services, "knowledge.reindex", f"tenant:{name}/job:{job['id']}")
        return job

    @get("/knowledge/jobs", sync_to_thread=True)
    def list_jobs(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return {"data": services.knowledge.documents.jobs(name)}

    @get("/knowledge/jobs/{job_id:int}", sync_to_thread=True)
    def get_job(self, services: NamedDependency[Services], name: FromPath[str], job_id: FromPath[int]) -> dict:
        return services.knowledge.documents.job(name, job_id)

    @get("/knowledge/settings", sync_to_thread=True)
    def get_settings(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return services.knowledge.config.get_settings(name)

    @put("/knowledge/settings", sync_to_thread=True)
    def put_settings(
        self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[KnowledgeSettingsSpec]
    ) -> dict:
        view = services.knowledge.config.put_settings(name, data)
        record(services, "knowledge.settings", f"tenant:{name}", view)
        return view

    @post("/knowledge/search", status_code=200)
    async def search(
        self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[SearchSpec]
    ) -> dict:
        knowledge = services.knowledge
        tenant_id = await _tenant_id(services, name)
        config = knowledge.book.config(tenant_id)
        limits = RetrievalLimits(data.top_k or config.top_k, config.threshold, config.token_budget)
        hits = await asyncio.to_thread(retrieve, knowledge.collections, tenant_id, data.query, limits)
        names = await asyncio.to_thread(knowledge.documents.names, tenant_id, {h.document_id for h in hits})
        return {
            "data": [
                {
                    "document_id": h.document_id,
                    "document": names[h.document_id][0],
                    "chunk": h.chunk_index,
                    "score": round(h.score, 4),
                    "text": h.text,
                }
                for h in hits
                if h.document_id in names
            ]
        }

    @get("/intents", sync_to_thread=True)
    def get_intents(self, services: NamedDependency[Services], name: FromPath[str]) -> dict:
        return services.knowledge.config.get_intents(name)

    @put("/intents", sync_to_thread=True)
    def put_intents(
        self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[IntentsSpec]
    ) -> dict:
        view = services.knowledge.config.put_intents(name, data)
        summary = {i["name"]: {"target": i["target"], "examples": len(i["examples"])} for i in view["intents"]}
        record(services, "intents.put", f"tenant:{name}", {"intents": summary, "fallback": view["fallback"]})
        return view

    @post("/intents/seed", status_code=200, sync_to_thread=True)
    def seed_intents(self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[SeedSpec]) -> dict:
        view = services.knowledge.config.put_intents(name, seed_spec(data.targets, data.fallback, data.threshold))
        record(services, "intents.seed", f"tenant:{name}", {"fallback": view["fallback"]})
        return view

    @post("/intents/classify", status_code=200)
    async def classify(
        self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[ClassifySpec]
    ) -> dict:
        knowledge = services.knowledge
        tenant_id = await _tenant_id(services, name)
        if not knowledge.router.has_intents(tenant_id):
            raise InvalidRequest("this tenant has no intents; add some first", param="prompt")
        config = knowledge.book.config(tenant_id)
        result = await knowledge.router.classify(tenant_id, data.prompt)
        targets = {i.name: i.target for i in knowledge.book.intents(tenant_id)}
        confident = result.intent in targets and result.confidence >= config.intent_threshold
        return {
            "intent": result.intent,
            "confidence": round(result.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in result.probabilities.items()},
            "threshold": config.intent_threshold,
            "target": targets[result.intent] if confident else config.intent_fallback,
            "fell_back": not confident,
        }
