"""Per-tenant adapter assignments: a model alias served by a stable version and, optionally, a canary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from sqlmodel import Session, select

from gateway.adapters.models import AdapterAssignment, AdapterVersion
from gateway.adapters.registry import AdapterRegistry
from gateway.errors import InvalidRequest, NotFound
from gateway.storage.database import Database, bump_directory_version
from gateway.storage.models import Tenant, utcnow
from gateway.tenants import find_tenant

Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class AssignSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PUT /admin/api/tenants/{name}/adapters/{alias}``: the stable version (newest when no version)."""

    adapter: Annotated[str, msgspec.Meta(min_length=1)]
    version: int | None = None
    split_by: Literal["request", "user"] | None = None


class CanarySpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PUT …/adapters/{alias}/canary``: a canary version and its share of traffic in percent."""

    percent: Percent
    adapter: str | None = None
    version: int | None = None


def assignment_view(assignment: AdapterAssignment, tenant: str, versions: dict[int, AdapterVersion]) -> dict[str, Any]:
    def describe(version_id: int | None) -> dict[str, Any] | None:
        version = versions.get(version_id) if version_id is not None else None
        if version is None:
            return None
        return {"name": version.name, "version": version.version, "served_name": version.served_name,
                "sha256": version.sha256}  # fmt: skip

    return {
        "tenant": tenant,
        "tenant_id": assignment.tenant_id,
        "alias": assignment.alias,
        "stable": describe(assignment.stable_id),
        "canary": describe(assignment.canary_id),
        "canary_percent": assignment.canary_percent,
        "split_by": assignment.split_by,
        "status": assignment.status,
        "note": assignment.note,
        "updated_at": assignment.updated_at.isoformat(),
    }


class AssignmentService:
    """Assign, canary, promote and roll back; every change bumps the directory version so all replicas follow."""

    def __init__(self, db: Database, registry: AdapterRegistry, default_split: str) -> None:
        self.db = db
        self.registry = registry
        self.default_split = default_split

    def _find(self, session: Session, tenant_name: str, alias: str) -> tuple[Tenant, AdapterAssignment]:
        tenant = find_tenant(session, tenant_name)
        stmt = select(AdapterAssignment).where(
            AdapterAssignment.tenant_id == tenant.id, AdapterAssignment.alias == alias
        )
        assignment = session.exec(stmt).first()
        if assignment is None:
            raise NotFound(f"tenant {tenant_name!r} has no adapter on {alias!r}", param="alias")
        return tenant, assignment

    def _view(self, session: Session, tenant: Tenant, assignment: AdapterAssignment) -> dict[str, Any]:
        ids = [i for i in (assignment.stable_id, assignment.canary_id) if i is not None]
        versions = {v.id: v for v in session.exec(select(AdapterVersion).where(AdapterVersion.id.in_(ids)))}
        return assignment_view(assignment, tenant.name, versions)

    def list(self, tenant_name: str | None = None) -> list[dict[str, Any]]:
        with self.db.session() as session:
            versions = {v.id: v for v in session.exec(select(AdapterVersion))}
            stmt = select(AdapterAssignment, Tenant).where(AdapterAssignment.tenant_id == Tenant.id)
            if tenant_name is not None:
                stmt = stmt.where(Tenant.id == find_tenant(session, tenant_name).id)
            rows = session.exec(stmt.order_by(Tenant.name, AdapterAssignment.alias))
            return [assignment_view(a, t.name, versions) for a, t in rows]

    def get(self, tenant_name: str, alias: str) -> dict[str, Any]:
        with self.db.session() as session:
            return self._view(session, *self._find(session, tenant_name, alias))

    def assign(self, tenant_name: str, alias: str, spec: AssignSpec) -> dict[str, Any]:
        """Serve ``alias`` for the tenant with this stable version (any canary is cleared)."""
        if not alias or len(alias) > 128:
            raise InvalidRequest("alias: 1-128 characters", param="alias")
        version = self.registry.get(spec.adapter, spec.version)
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            _check_owner(version, tenant)
            stmt = select(AdapterAssignment).where(
                AdapterAssignment.tenant_id == tenant.id, AdapterAssignment.alias == alias
            )
            assignment = session.exec(stmt).first() or AdapterAssignment(
                tenant_id=tenant.id, alias=alias, stable_id=version.id, split_by=self.default_split
            )
            assignment.stable_id, assignment.canary_id, assignment.canary_percent = version.id, None, 0.0
            assignment.status, assignment.note, assignment.updated_at = "stable", "", utcnow()
            if spec.split_by:
                assignment.split_by = spec.split_by
            session.add(assignment)
            bump_directory_version(session)
            session.flush()
            return self._view(session, tenant, assignment)

    def unassign(self, tenant_name: str, alias: str) -> None:
        with self.db.session() as session:
            _, assignment = self._find(session, tenant_name, alias)
            session.delete(assignment)
            bump_directory_version(session)

    def set_canary(self, tenant_name: str, alias: str, spec: CanarySpec) -> dict[str, Any]:
        """Start a canary (``adapter`` given) or change its traffic share (90/10 → 50/50 → …)."""
        with self.db.session() as session:
            tenant, assignment = self._find(session, tenant_name, alias)
            stable = session.get(AdapterVersion, assignment.stable_id)
            if spec.adapter is not None:
                canary = self.registry.get(spec.adapter, spec.version)
                _check_owner(canary, tenant)
                if canary.id == stable.id:
                    raise InvalidRequest("the canary must be another version than the stable one", param="version")
                if (canary.base_model, canary.format) != (stable.base_model, stable.format):
                    raise InvalidRequest(
                        f"the canary is a {canary.format} adapter for {canary.base_model!r}; the stable one is a "
                        f"{stable.format} adapter for {stable.base_model!r}",
                        param="adapter",
                    )
                assignment.canary_id = canary.id
            elif assignment.canary_id is None:
                raise InvalidRequest("no canary version yet: name one in 'adapter'", param="adapter")
            assignment.canary_percent = spec.percent
            assignment.status, assignment.note, assignment.updated_at = "canary", "", utcnow()
            session.add(assignment)
            bump_directory_version(session)
            session.flush()
            return self._view(session, tenant, assignment)

    def promote(self, tenant_name: str, alias: str) -> dict[str, Any]:
        """The canary becomes the stable version and takes all traffic."""
        with self.db.session() as session:
            tenant, assignment = self._find(session, tenant_name, alias)
            if assignment.canary_id is None:
                raise InvalidRequest(f"{alias!r} has no canary to promote", param="alias")
            assignment.stable_id, assignment.canary_id, assignment.canary_percent = assignment.canary_id, None, 0.0
            assignment.status, assignment.note, assignment.updated_at = "promoted", "", utcnow()
            session.add(assignment)
            bump_directory_version(session)
            session.flush()
            return self._view(session, tenant, assignment)

    def rollback(self, tenant_name: str, alias: str, note: str = "") -> dict[str, Any]:
        """Send all traffic back to the stable version; the canary version is marked ``rolled_back``."""
        with self.db.session() as session:
            tenant, assignment = self._find(session, tenant_name, alias)
            return self._rollback(session, tenant, assignment, note)

    def rollback_by_id(self, tenant_id: int, alias: str, note: str) -> dict[str, Any] | None:
        """The automatic rollback's entry point; ``None`` when there was no live canary any more."""
        with self.db.session() as session:
            tenant = session.get(Tenant, tenant_id)
            stmt = select(AdapterAssignment).where(
                AdapterAssignment.tenant_id == tenant_id, AdapterAssignment.alias == alias
            )
            assignment = session.exec(stmt).first()
            if tenant is None or assignment is None or assignment.status != "canary" or not assignment.canary_percent:
                return None
            return self._rollback(session, tenant, assignment, note)

    def _rollback(self, session: Session, tenant: Tenant, assignment: AdapterAssignment, note: str) -> dict[str, Any]:
        if assignment.canary_id is None:
            raise InvalidRequest(f"{assignment.alias!r} has no canary to roll back", param="alias")
        canary = session.get(AdapterVersion, assignment.canary_id)
        canary.status = "rolled_back"
        assignment.canary_percent, assignment.status = 0.0, "rolled_back"
        assignment.note, assignment.updated_at = note[:1024], utcnow()
        session.add_all([canary, assignment])
        bump_directory_version(session)
        session.flush()
        return self._view(session, tenant, assignment)


def _check_owner(version: AdapterVersion, tenant: Tenant) -> None:
    """An adapter trained on one tenant's data (its lineage names that tenant) serves only that tenant."""
    owner = (version.lineage or {}).get("tenant_id")
    if owner is not None and owner != tenant.id:
        raise InvalidRequest(
            f"adapter {version.name!r} version {version.version} was trained on another tenant's data",
            param="adapter",
            code="adapter_not_allowed",
        )
