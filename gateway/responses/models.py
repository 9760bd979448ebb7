"""The stored responses table (``0006_stored_responses`` created it).

One row per response created with ``store`` on: the ``response`` object exactly as its client
received it, and ``input_items``, the whole conversation that produced it (the previous
response's items and output, then this request's input), each item with an id. A follow-up
with ``previous_response_id`` reads one row, however long the chain.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class StoredResponse(SQLModel, table=True):
    """A response kept for ``GET /v1/responses/{id}`` and ``previous_response_id``, scoped to its tenant."""

    __tablename__ = "stored_response"
    __table_args__ = (Index("ix_stored_response_created_at", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    request_id: str = Field(max_length=64)
    response: str = Field(sa_column=Column(Text, nullable=False))
    input_items: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
