"""Paginated lists for the console: tenants, a tenant's keys, and the audit chain."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, DateTime, String, column, func, table
from sqlmodel import select

from admin.pagination import Page, offset
from gateway.storage.database import Database
from gateway.storage.models import ApiKey, Tenant
from gateway.tenants import find_tenant

# The audit chain's table (migration 0003), read without importing the attestation package.
AUDIT_ENTRY = table(
    "audit_entry",
    column("seq", BigInteger),
    column("kind", String),
    column("subject", String),
    column("payload_sha256", String),
    column("prev_hash", String),
    column("entry_hash", String),
    column("created_at", DateTime(timezone=True)),
    column("detail", JSON),
)


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite through a plain table() gives text back
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Listings:
    def __init__(self, db: Database) -> None:
        self.db = db

    def tenants(self, number: int, size: int, search: str | None = None) -> Page:
        with self.db.session() as session:
            active_keys = (
                select(ApiKey.tenant_id, func.count().label("key_count"))
                .where(ApiKey.revoked_at.is_(None))
                .group_by(ApiKey.tenant_id)
                .subquery()
            )
            statement = select(Tenant, func.coalesce(active_keys.c.key_count, 0)).outerjoin(
                active_keys, active_keys.c.tenant_id == Tenant.id
            )
            counted = select(func.count()).select_from(Tenant)
            if search:
                statement = statement.where(Tenant.name.icontains(search, autoescape=True))
                counted = counted.where(Tenant.name.icontains(search, autoescape=True))
            total = session.execute(counted).scalar_one()
            rows = [
                {"tenant": tenant, "keys": keys}
                for tenant, keys in session.execute(
                    statement.order_by(Tenant.name).offset(offset(number, size)).limit(size)
                ).all()
            ]
        return Page(rows, number, size, total, {"q": search})

    def keys(self, tenant_name: str, number: int, size: int) -> Page:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            total = session.execute(
                select(func.count()).select_from(ApiKey).where(ApiKey.tenant_id == tenant.id)
            ).scalar_one()
            keys = list(
                session.exec(
                    select(ApiKey)
                    .where(ApiKey.tenant_id == tenant.id)
                    .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc())
                    .offset(offset(number, size))
                    .limit(size)
                )
            )
        now = datetime.now(UTC)
        rows = []
        for key in keys:
            expires = _utc(key.expires_at)
            state = "revoked" if key.revoked_at else ("expired" if expires and expires <= now else "active")
            rows.append(
                {
                    "id": key.id,
                    "name": key.name,
                    "prefix": key.prefix,
                    "created_at": _utc(key.created_at),
                    "expires_at": expires,
                    "revoked_at": _utc(key.revoked_at),
                    "last_used_at": _utc(key.last_used_at),
                    "state": state,
                }
            )
        return Page(rows, number, size, total)

    def audit(
        self, number: int, size: int, kind: str | None = None, subject: str | None = None
    ) -> tuple[Page, list[str]]:
        """A page of the chain, newest first, and every kind of entry there is (for the filter)."""
        conditions = []
        if kind:
            conditions.append(AUDIT_ENTRY.c.kind == kind)
        if subject:
            conditions.append(AUDIT_ENTRY.c.subject.startswith(subject, autoescape=True))
        with self.db.session() as session:
            total = session.execute(select(func.count()).select_from(AUDIT_ENTRY).where(*conditions)).scalar_one()
            rows = [
                {**row._mapping, "created_at": _utc(row.created_at)}
                for row in session.execute(
                    select(AUDIT_ENTRY)
                    .where(*conditions)
                    .order_by(AUDIT_ENTRY.c.seq.desc())
                    .offset(offset(number, size))
                    .limit(size)
                ).all()
            ]
            kinds = [k for (k,) in session.execute(select(AUDIT_ENTRY.c.kind).distinct().order_by(AUDIT_ENTRY.c.kind))]
        return Page(rows, number, size, total, {"kind": kind, "subject": subject}), kinds

    def tenant_id(self, name: str) -> int:
        with self.db.session() as session:
            return find_tenant(session, name).id
