"""A tenant's documents: upload (extract, chunk, embed, index), list, delete, and background re-indexing."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gateway.errors import Conflict, NotFound
from gateway.knowledge.chunking import chunk_text
from gateway.knowledge.ingest import extract
from gateway.knowledge.models import KnowledgeDocument, KnowledgeJob
from gateway.knowledge.retrieval import Collections
from gateway.storage.database import Database
from gateway.storage.models import utcnow
from gateway.tenants import find_tenant

log = logging.getLogger("gateway.knowledge")

ACTIVE_JOB_STATES = ("queued", "running")
ABANDONED_AFTER = timedelta(hours=6)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def document_view(doc: KnowledgeDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "name": doc.name,
        "media_type": doc.media_type,
        "sha256": doc.content_hash,
        "size_bytes": doc.size_bytes,
        "chunks": doc.chunks,
        "status": doc.status,
        "error": doc.error,
        "created_at": _time(doc.created_at),
    }


def job_view(job: KnowledgeJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "progress": round(job.done / job.total, 3) if job.total else (1.0 if job.status == "done" else 0.0),
        "error": job.error,
        "created_at": _time(job.created_at),
        "finished_at": _time(job.finished_at),
    }


class DocumentService:
    """Document administration; blocking methods run in worker threads, ``reindex`` starts a task."""

    def __init__(self, db: Database, collections: Collections) -> None:
        self.db = db
        self.collections = collections
        self.settings = collections.settings
        self._jobs: set[asyncio.Task] = set()

    def tenant_id(self, tenant_name: str) -> int:
        """The tenant's id, or ``NotFound``."""
        with self.db.session() as session:
            return find_tenant(session, tenant_name).id

    def _index(self, tenant_id: int, document_id: int, text: str) -> int:
        chunks = chunk_text(text, self.settings.chunk_tokens, self.settings.chunk_overlap)
        vectors = self.collections.embedder.encode([c.text for c in chunks])
        self.collections.store.upsert(tenant_id, document_id, chunks, vectors)
        return len(chunks)

    def upload(self, tenant_name: str, name: str, data: bytes, content_type: str | None = None) -> tuple[dict, bool]:
        """Store and index one document; an identical one (same bytes) is returned as it is, ``created`` False."""
        extracted = extract(name, data, self.settings.max_document_bytes, content_type)
        tenant_id = self.tenant_id(tenant_name)
        try:
            with self.db.session() as session:
                doc = KnowledgeDocument(
                    tenant_id=tenant_id,
                    name=extracted.name,
                    media_type=extracted.media_type,
                    content_hash=extracted.content_hash,
                    size_bytes=extracted.size_bytes,
                    status="indexing",
                    text=extracted.text,
                )
                session.add(doc)
                session.flush()
                document_id = doc.id
        except IntegrityError:
            with self.db.session() as session:
                existing = session.exec(
                    select(KnowledgeDocument).where(
                        KnowledgeDocument.tenant_id == tenant_id,
                        KnowledgeDocument.content_hash == extracted.content_hash,
                    )
                ).one()
            return document_view(existing), False
        try:
            chunks, status, error = self._index(tenant_id, document_id, extracted.text), "ready", None
        except Exception as exc:
            log.exception("knowledge: indexing document %s failed", document_id)
            chunks, status, error = 0, "failed", f"indexing failed: {type(exc).__name__}"
        with self.db.session() as session:
            doc = session.get(KnowledgeDocument, document_id)
            doc.chunks, doc.status, doc.error, doc.updated_at = chunks, status, error, utcnow()
            session.add(doc)
            return document_view(doc), True

    def list(self, tenant_name: str) -> list[dict]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            rows = session.exec(
                select(KnowledgeDocument)
                .where(KnowledgeDocument.tenant_id == tenant.id)
                .order_by(KnowledgeDocument.created_at.desc(), KnowledgeDocument.id.desc())
            )
            return [document_view(d) for d in rows]

    def _document(self, session, tenant_id: int, document_id: int) -> KnowledgeDocument:
        doc = session.get(KnowledgeDocument, document_id)
        if doc is None or doc.tenant_id != tenant_id:
            raise NotFound(f"no document {document_id} in this tenant's collection", param="document_id")
        return doc

    def get(self, tenant_name: str, document_id: int) -> dict:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            return document_view(self._document(session, tenant.id, document_id))

    def names(self, tenant_id: int, document_ids: set[int]) -> dict[int, tuple[str, str]]:
        """``id → (name, sha256)`` for documents of this tenant (the request path uses it for attribution)."""
        if not document_ids:
            return {}
        with self.db.session() as session:
            rows = session.exec(
                select(KnowledgeDocument.id, KnowledgeDocument.name, KnowledgeDocument.content_hash).where(
                    KnowledgeDocument.tenant_id == tenant_id, KnowledgeDocument.id.in_(document_ids)
                )
            )
            return {row[0]: (row[1], row[2]) for row in rows}

    def delete(self, tenant_name: str, document_id: int) -> dict:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            doc = self._document(session, tenant.id, document_id)
            view = document_view(doc)
            self.collections.store.delete_document(tenant.id, document_id)
            session.delete(doc)
        return view

    def jobs(self, tenant_name: str, limit: int = 10) -> list[dict]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            rows = session.exec(
                select(KnowledgeJob)
                .where(KnowledgeJob.tenant_id == tenant.id)
                .order_by(KnowledgeJob.id.desc())
                .limit(limit)
            )
            return [job_view(j) for j in rows]

    def job(self, tenant_name: str, job_id: int) -> dict:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            job = session.get(KnowledgeJob, job_id)
            if job is None or job.tenant_id != tenant.id:
                raise NotFound(f"no re-index job {job_id} for this tenant", param="job_id")
            return job_view(job)

    def _create_job(self, tenant_name: str) -> tuple[int, int]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            running = session.exec(
                select(KnowledgeJob.id).where(
                    KnowledgeJob.tenant_id == tenant.id, KnowledgeJob.status.in_(ACTIVE_JOB_STATES)
                )
            ).first()
            if running is not None and self._abandoned(session, running):
                running = None
            if running is not None:
                raise Conflict(f"re-index job {running} is still running for this tenant", code="job_running")
            total = len(
                session.exec(select(KnowledgeDocument.id).where(KnowledgeDocument.tenant_id == tenant.id)).all()
            )
            job = KnowledgeJob(tenant_id=tenant.id, total=total)
            session.add(job)
            session.flush()
            return tenant.id, job.id

    @staticmethod
    def _abandoned(session, job_id: int) -> bool:
        """A job still "running" long after it started was left by a replica that stopped; mark it failed."""
        job = session.get(KnowledgeJob, job_id)
        created = job.created_at if job.created_at.tzinfo else job.created_at.replace(tzinfo=timezone.utc)
        if utcnow() - created < ABANDONED_AFTER:
            return False
        job.status, job.error, job.finished_at = "failed", "abandoned (the replica running it stopped)", utcnow()
        session.add(job)
        return True

    async def reindex(self, tenant_name: str) -> dict:
        """Start re-embedding every document of the tenant into a fresh collection; returns the job."""
        tenant_id, job_id = await asyncio.to_thread(self._create_job, tenant_name)
        task = asyncio.create_task(asyncio.to_thread(self._run_job, tenant_id, job_id))
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return await asyncio.to_thread(self.job, tenant_name, job_id)

    def _update_job(self, job_id: int, **values: Any) -> None:
        with self.db.session() as session:
            job = session.get(KnowledgeJob, job_id)
            for key, value in values.items():
                setattr(job, key, value)
            session.add(job)

    def _run_job(self, tenant_id: int, job_id: int) -> None:
        try:
            self._update_job(job_id, status="running")
            with self.db.session() as session:
                ids = list(
                    session.exec(
                        select(KnowledgeDocument.id)
                        .where(KnowledgeDocument.tenant_id == tenant_id)
                        .order_by(KnowledgeDocument.id)
                    )
                )
            self.collections.store.delete_tenant(tenant_id)
            for done, document_id in enumerate(ids, start=1):
                with self.db.session() as session:
                    doc = session.get(KnowledgeDocument, document_id)
                    if doc is None:
                        continue
                    text = doc.text
                chunks = self._index(tenant_id, document_id, text)
                with self.db.session() as session:
                    doc = session.get(KnowledgeDocument, document_id)
                    if doc is not None:
                        doc.chunks, doc.status, doc.error, doc.updated_at = chunks, "ready", None, utcnow()
                        session.add(doc)
                self._update_job(job_id, done=done, total=max(len(ids), done))
            self._update_job(job_id, status="done", finished_at=utcnow())
        except Exception as exc:
            log.exception("knowledge: re-index job %s failed", job_id)
            self._update_job(job_id, status="failed", error=f"{type(exc).__name__}", finished_at=utcnow())

    async def stop(self) -> None:
        """Wait for running re-index jobs (their threads cannot be interrupted)."""
        if self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)
