"""Tables of the adapter capability: the registry of adapter versions and each tenant's assignment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.storage.models import utcnow


class AdapterVersion(SQLModel, table=True):
    """One uploaded (or trained) LoRA adapter version, stored content-addressed under its SHA-256."""

    __tablename__ = "adapter_version"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=64)
    version: int
    format: str = Field(max_length=8)
    """``peft`` (served by vLLM) or ``mlx`` (served by an in-process MLX backend)."""
    base_model: str = Field(max_length=256)
    rank: int
    target_modules: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sha256: str = Field(index=True, max_length=64)
    size_bytes: int
    uploaded_by: str = Field(max_length=128)
    status: str = Field(default="ready", max_length=16)
    """``ready`` or ``rolled_back`` (a canary that was rolled back); whether it serves is in the assignments."""
    lineage: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def served_name(self) -> str:
        """The name requests carry upstream (vLLM's ``lora_name``, the ``model`` field)."""
        return f"{self.name}-v{self.version}"


class AdapterAssignment(SQLModel, table=True):
    """A tenant's model alias served by a stable adapter version and, optionally, a canary version."""

    __tablename__ = "adapter_assignment"
    __table_args__ = (UniqueConstraint("tenant_id", "alias"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    alias: str = Field(max_length=128)
    stable_id: int = Field(foreign_key="adapter_version.id", index=True)
    canary_id: int | None = Field(default=None, foreign_key="adapter_version.id", index=True)
    canary_percent: float = 0.0
    split_by: str = Field(default="request", max_length=8)
    """``request`` (hash of the request id) or ``user`` (hash of the body's ``user``, else the API key)."""
    status: str = Field(default="stable", max_length=16)
    """``stable``, ``canary``, ``promoted`` or ``rolled_back``."""
    note: str = Field(default="", max_length=1024)
    updated_at: datetime = Field(default_factory=utcnow)
