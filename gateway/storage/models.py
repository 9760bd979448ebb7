"""The tables. Changes to them go through an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Tenant(SQLModel, table=True):
    """An organisation using the gateway, with its limits."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    enabled: bool = True
    rpm: int | None = None
    tps: int | None = None
    daily_tokens: int | None = None
    max_concurrency: int | None = None
    allow_default_models: bool = True
    monthly_budget: float | None = None
    """Spend allowed per calendar month (UTC), in the pricing currency; ``None`` = no budget."""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """A tenant's API key; only its SHA-256 is stored."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=32)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    name: str = Field(default="", max_length=128)
    prefix: str = Field(max_length=32)
    key_hash: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    rpm: int | None = None
    tps: int | None = None
    daily_tokens: int | None = None
    max_concurrency: int | None = None


class Route(SQLModel, table=True):
    """A tenant's model alias → ordered, weighted targets and a fallback chain."""

    __table_args__ = (UniqueConstraint("tenant_id", "alias"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    alias: str = Field(max_length=128)
    targets: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    fallback: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class DirectoryState(SQLModel, table=True):
    """One row whose version increases with every change to tenants, keys or routes.

    Every replica polls it; a new version makes the replica reload its in-memory directory.
    """

    __tablename__ = "directory_state"

    id: int = Field(default=1, primary_key=True)
    version: int = 0


class UsageRecord(SQLModel, table=True):
    """The ledger: one row per answered (or failed) request, written through the durable spool."""

    __tablename__ = "usage_record"
    __table_args__ = (Index("ix_usage_record_tenant_created", "tenant_id", "created_at"),)

    request_id: str = Field(primary_key=True, max_length=40)
    tenant_id: int = Field(foreign_key="tenant.id")
    key_id: str = Field(max_length=32)
    endpoint: str = Field(max_length=32)
    route: str = Field(max_length=128)
    backend: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=256)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    status: int = 200
    fallback: bool = False
    policy_version: int | None = None
    """The version of the tenant's guardrail policy that screened the request (0 = built-in default)."""
    created_at: datetime = Field(default_factory=utcnow)


class UsageDaily(SQLModel, table=True):
    """Daily rollup of the ledger per tenant and upstream model, for charts and billing."""

    __tablename__ = "usage_daily"

    tenant_id: int = Field(foreign_key="tenant.id", primary_key=True)
    day: date = Field(primary_key=True)
    model: str = Field(primary_key=True, max_length=256)
    requests: int = 0
    errors: int = 0
    fallbacks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms_total: float = 0.0


class ModelPrice(SQLModel, table=True):
    """A price set in the console or API; overrides the config's price for the same backend and model."""

    __tablename__ = "model_price"

    backend: str = Field(primary_key=True, max_length=64)
    model: str = Field(primary_key=True, max_length=256)
    input_per_million: float = 0.0
    output_per_million: float = 0.0
    per_gpu_second: float = 0.0
    updated_at: datetime = Field(default_factory=utcnow)


class GuardrailPolicyVersion(SQLModel, table=True):
    """One version of a tenant's guardrail policy; the highest version is the one in force."""

    __tablename__ = "guardrail_policy"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    version: int
    policy: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="", max_length=256)
    """Who saved it: ``console:<login>`` or ``admin-token``."""
    created_at: datetime = Field(default_factory=utcnow)

