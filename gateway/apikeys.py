"""API keys: issue (shown once), list, revoke. Only the SHA-256 of a key is stored."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import msgspec
from sqlmodel import select

from gateway.errors import InvalidRequest, NotFound
from gateway.keys import new_key, new_key_id
from gateway.storage.database import Database, bump_directory_version
from gateway.storage.models import ApiKey, Tenant, utcnow
from gateway.tenants import find_tenant

_Limit = Annotated[int, msgspec.Meta(ge=0)]


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /admin/api/tenants/{name}/keys``; limits here apply to this key on top of its tenant's."""

    name: Annotated[str, msgspec.Meta(max_length=128)] = ""
    expires_at: datetime | None = None
    rpm: _Limit | None = None
    tps: _Limit | None = None
    daily_tokens: _Limit | None = None
    max_concurrency: _Limit | None = None


def key_view(key: ApiKey, tenant_name: str) -> dict:
    """The JSON form of a key; never includes the key or its hash."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": key.id,
        "tenant": tenant_name,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
        "last_used_at": iso(key.last_used_at),
        "rpm": key.rpm,
        "tps": key.tps,
        "daily_tokens": key.daily_tokens,
        "max_concurrency": key.max_concurrency,
    }


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class ApiKeyService:
    """Key administration over the database; every change bumps the directory version."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, tenant_name: str, spec: KeyCreate | None = None) -> tuple[ApiKey, str]:
        """Issue a key; returns the stored record and the raw key, which is not kept anywhere."""
        spec = spec or KeyCreate()
        expires_at = _as_utc(spec.expires_at) if spec.expires_at else None
        if expires_at is not None and expires_at <= utcnow():
            raise InvalidRequest("expires_at must be in the future", param="expires_at")
        raw, prefix, digest = new_key()
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            key = ApiKey(
                id=new_key_id(),
                tenant_id=tenant.id,
                name=spec.name,
                prefix=prefix,
                key_hash=digest,
                expires_at=expires_at,
                rpm=spec.rpm,
                tps=spec.tps,
                daily_tokens=spec.daily_tokens,
                max_concurrency=spec.max_concurrency,
            )
            session.add(key)
            bump_directory_version(session)
            session.flush()
            session.refresh(key)
            return key, raw

    def list(self, tenant_name: str) -> list[ApiKey]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            return list(session.exec(select(ApiKey).where(ApiKey.tenant_id == tenant.id).order_by(ApiKey.created_at)))

    def revoke(self, key_id: str) -> tuple[ApiKey, str]:
        """Revoke a key (idempotent); returns it with its tenant's name."""
        with self.db.session() as session:
            key = session.get(ApiKey, key_id)
            if key is None:
                raise NotFound(f"key {key_id!r} does not exist", param="key_id")
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                session.add(key)
                bump_directory_version(session)
            tenant = session.get(Tenant, key.tenant_id)
            session.flush()
            return key, tenant.name

    def record_last_use(self, last_used: dict[str, datetime]) -> None:
        """Write batched last-use times (not a directory change: nothing to invalidate)."""
        if not last_used:
            return
        with self.db.session() as session:
            for key_id, when in last_used.items():
                key = session.get(ApiKey, key_id)
                if key is not None and (key.last_used_at is None or _as_utc(key.last_used_at) < when):
                    key.last_used_at = when
                    session.add(key)
