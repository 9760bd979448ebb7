"""Each tenant's guardrail policy: versioned in the database, cached with the directory.

A tenant without a stored policy gets ``default_policy()`` (GDPR/KVKK: personal data masked,
jailbreaks blocked). Every change is a new version; the audit log records which version acted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from gateway.guardrails import GuardrailPolicy, default_policy
from gateway.guardrails.validators import ValidatorRegistry
from gateway.storage.database import Database, bump_directory_version
from gateway.storage.models import GuardrailPolicyVersion
from gateway.tenants import find_tenant

DEFAULT_VERSION = 0


class PolicyBook:
    """The policy in force per tenant, reloaded inside the directory's reload."""

    def __init__(self) -> None:
        self.default = default_policy()
        self._by_tenant: dict[int, tuple[int, GuardrailPolicy]] = {}

    def load(self, session: Session) -> None:
        latest = (
            select(GuardrailPolicyVersion.tenant_id, func.max(GuardrailPolicyVersion.version).label("version"))
            .group_by(GuardrailPolicyVersion.tenant_id)
            .subquery()
        )
        rows = session.exec(
            select(GuardrailPolicyVersion).join(
                latest,
                (GuardrailPolicyVersion.tenant_id == latest.c.tenant_id)
                & (GuardrailPolicyVersion.version == latest.c.version),
            )
        )
        self._by_tenant = {r.tenant_id: (r.version, GuardrailPolicy.from_dict(r.policy)) for r in rows}

    def for_tenant(self, tenant_id: int) -> tuple[int, GuardrailPolicy]:
        """``(version, policy)``; version 0 is the built-in default."""
        return self._by_tenant.get(tenant_id, (DEFAULT_VERSION, self.default))


class PolicyService:
    """Reading and versioning tenants' policies through the management API.

    ``validators``: the engine's guardrails-ai validators; a policy is only saved when each
    validator it names is installed and accepts its args."""

    def __init__(self, db: Database, validators: ValidatorRegistry | None = None) -> None:
        self.db = db
        self.validators = validators or ValidatorRegistry()

    def validate(self, data: Any) -> GuardrailPolicy:
        """``data`` as a policy that can run here; ``PolicyError`` naming the field otherwise."""
        policy = GuardrailPolicy.from_dict(data)
        self.validators.check_policy(policy)
        return policy

    def get(self, tenant_name: str) -> dict[str, Any]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            row = session.exec(
                select(GuardrailPolicyVersion)
                .where(GuardrailPolicyVersion.tenant_id == tenant.id)
                .order_by(GuardrailPolicyVersion.version.desc())
            ).first()
        if row is None:
            return {
                "tenant": tenant_name,
                "version": DEFAULT_VERSION,
                "default": True,
                "policy": default_policy().to_dict(),
            }
        return {"tenant": tenant_name, "version": row.version, "default": False, "policy": row.policy}

    def history(self, tenant_name: str, limit: int = 50) -> list[dict[str, Any]]:
        """The tenant's stored versions, newest first: version, who saved it and when."""
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            rows = session.exec(
                select(GuardrailPolicyVersion)
                .where(GuardrailPolicyVersion.tenant_id == tenant.id)
                .order_by(GuardrailPolicyVersion.version.desc())
                .limit(limit)
            ).all()
        return [
            {"version": r.version, "created_by": r.created_by, "created_at": r.created_at, "name": r.policy.get("name")}
            for r in rows
        ]

    def put(self, tenant_name: str, data: Any, actor: str = "admin-token") -> dict[str, Any]:
        """Validate ``data`` as a policy and store it as the tenant's next version (saved by ``actor``)."""
        policy = self.validate(data)
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            current = session.exec(
                select(func.max(GuardrailPolicyVersion.version)).where(GuardrailPolicyVersion.tenant_id == tenant.id)
            ).one()
            version = (current or 0) + 1
            stored = policy.to_dict() | {"version": version}
            session.add(
                GuardrailPolicyVersion(tenant_id=tenant.id, version=version, policy=stored, created_by=actor[:256])
            )
            bump_directory_version(session)
        return {"tenant": tenant_name, "version": version, "default": False, "policy": stored}
