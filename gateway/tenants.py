"""Tenants and their limits: create, list, read, change, enable and disable."""

from __future__ import annotations

from typing import Annotated

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gateway.errors import Conflict, NotFound
from gateway.storage.database import Database, bump_directory_version
from gateway.storage.models import Tenant, utcnow

TenantName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Limit = Annotated[int, msgspec.Meta(ge=0)]
Budget = Annotated[float, msgspec.Meta(ge=0, le=1e12)]


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /admin/api/tenants``; a limit left out (or null) means unlimited."""

    name: TenantName
    rpm: Limit | None = None
    tps: Limit | None = None
    daily_tokens: Limit | None = None
    max_concurrency: Limit | None = None
    enabled: bool = True
    allow_default_models: bool = True
    monthly_budget: Budget | None = None
    """Spend allowed per calendar month (UTC) in the pricing currency; null = no budget."""


class TenantUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PATCH /admin/api/tenants/{name}``: only the fields present change."""

    rpm: Limit | None | msgspec.UnsetType = msgspec.UNSET
    tps: Limit | None | msgspec.UnsetType = msgspec.UNSET
    daily_tokens: Limit | None | msgspec.UnsetType = msgspec.UNSET
    max_concurrency: Limit | None | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    allow_default_models: bool | msgspec.UnsetType = msgspec.UNSET
    monthly_budget: Budget | None | msgspec.UnsetType = msgspec.UNSET


def tenant_view(tenant: Tenant) -> dict:
    """The JSON form of a tenant for the API and CLI."""
    return {
        "name": tenant.name,
        "enabled": tenant.enabled,
        "rpm": tenant.rpm,
        "tps": tenant.tps,
        "daily_tokens": tenant.daily_tokens,
        "max_concurrency": tenant.max_concurrency,
        "allow_default_models": tenant.allow_default_models,
        "monthly_budget": tenant.monthly_budget,
        "created_at": tenant.created_at.isoformat(),
        "updated_at": tenant.updated_at.isoformat(),
    }


def find_tenant(session: Session, name: str) -> Tenant:
    tenant = session.exec(select(Tenant).where(Tenant.name == name)).first()
    if tenant is None:
        raise NotFound(f"tenant {name!r} does not exist", param="tenant")
    return tenant


class TenantService:
    """Tenant administration over the database; every change bumps the directory version."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, spec: TenantCreate) -> Tenant:
        try:
            with self.db.session() as session:
                tenant = Tenant(**msgspec.structs.asdict(spec))
                session.add(tenant)
                bump_directory_version(session)
                session.flush()
                session.refresh(tenant)
                return tenant
        except IntegrityError as exc:
            raise Conflict(f"tenant {spec.name!r} already exists", param="name") from exc

    def list(self) -> list[Tenant]:
        with self.db.session() as session:
            return list(session.exec(select(Tenant).order_by(Tenant.name)).all())

    def get(self, name: str) -> Tenant:
        with self.db.session() as session:
            return find_tenant(session, name)

    def update(self, name: str, change: TenantUpdate) -> Tenant:
        with self.db.session() as session:
            tenant = find_tenant(session, name)
            for field in change.__struct_fields__:
                value = getattr(change, field)
                if value is not msgspec.UNSET:
                    setattr(tenant, field, value)
            tenant.updated_at = utcnow()
            session.add(tenant)
            bump_directory_version(session)
            session.flush()
            session.refresh(tenant)
            return tenant
