"""Tables of the knowledge capability: documents, re-index jobs, per-tenant settings, intents and decisions."""

from __future__ import annotations

from datetime import datetime
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.storage.models import utcnow


class KnowledgeDocument(SQLModel, table=True):
    """One document in a tenant's collection; its extracted text is kept so it can be re-indexed."""

    __tablename__ = "knowledge_document"
    __table_args__ = (UniqueConstraint("tenant_id", "content_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    name: str = Field(max_length=255)
    media_type: str = Field(max_length=64)
    content_hash: str = Field(max_length=64)
    size_bytes: int
    chunks: int = 0
    status: str = Field(default="pending", max_length=16)
    error: str | None = Field(default=None, max_length=500)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class KnowledgeJob(SQLModel, table=True):
    """A background re-index of a tenant's collection; the console polls its progress."""

    __tablename__ = "knowledge_job"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    status: str = Field(default="queued", max_length=16)
    total: int = 0
    done: int = 0
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class KnowledgeConfig(SQLModel, table=True):
    """A tenant's retrieval and intent-router settings (a tenant without a row gets the configured defaults)."""

    __tablename__ = "knowledge_config"

    tenant_id: int = Field(foreign_key="tenant.id", primary_key=True)
    rag_enabled: bool = False
    top_k: int = 3
    threshold: float = 0.35
    token_budget: int = 800
    intent_threshold: float = 0.7
    intent_fallback: str | None = Field(default=None, max_length=128)
    updated_at: datetime = Field(default_factory=utcnow)


class Intent(SQLModel, table=True):
    """One intent of a tenant's router: example prompts and the model alias (expert) it routes to."""

    __tablename__ = "intent"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    name: str = Field(max_length=64)
    target: str = Field(max_length=128)
    examples: list[str] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class IntentDecision(SQLModel, table=True):
    """What the router chose for one request (the dashboard counts these)."""

    __tablename__ = "intent_decision"
    __table_args__ = (Index("ix_intent_decision_tenant_created", "tenant_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    request_id: str = Field(max_length=64)
    intent: str | None = Field(default=None, max_length=64)
    target: str = Field(max_length=128)
    confidence: float
    fell_back: bool
    created_at: datetime = Field(default_factory=utcnow)
