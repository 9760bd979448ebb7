"""Administering a tenant's knowledge settings and intents (each change bumps the directory version)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

import msgspec
from sqlmodel import delete, select

from gateway.errors import InvalidRequest
from gateway.knowledge.book import config_of, defaults_of
from gateway.knowledge.models import Intent, KnowledgeConfig
from gateway.knowledge.seed_intents import SEED_INTENTS
from gateway.knowledge.settings import KnowledgeSettings
from gateway.storage.database import Database, bump_directory_version
from gateway.storage.models import utcnow
from gateway.tenants import find_tenant

MIN_EXAMPLES = 3
RECOMMENDED_EXAMPLES = 20
IntentName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Alias = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class KnowledgeSettingsSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PUT /admin/api/tenants/{name}/knowledge/settings``; omitted fields keep their value."""

    rag_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    top_k: Annotated[int, msgspec.Meta(ge=1, le=50)] | msgspec.UnsetType = msgspec.UNSET
    threshold: Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)] | msgspec.UnsetType = msgspec.UNSET
    token_budget: Annotated[int, msgspec.Meta(ge=16, le=100_000)] | msgspec.UnsetType = msgspec.UNSET


class IntentSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: IntentName
    target: Alias
    examples: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]], msgspec.Meta(max_length=500)]


class IntentsSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PUT /admin/api/tenants/{name}/intents``: the whole intent set, replacing the old one."""

    intents: Annotated[list[IntentSpec], msgspec.Meta(max_length=50)]
    fallback: Alias | None = None
    threshold: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None


def settings_view(tenant: str, row: KnowledgeConfig | None, defaults: KnowledgeSettings) -> dict[str, Any]:
    config = config_of(row) if row is not None else defaults_of(defaults)
    return {
        "tenant": tenant,
        "rag_enabled": config.rag_enabled,
        "top_k": config.top_k,
        "threshold": config.threshold,
        "token_budget": config.token_budget,
    }


class KnowledgeConfigService:
    """``allowed_aliases(tenant_name)`` says which model aliases an intent or the fallback may name."""

    def __init__(
        self, db: Database, settings: KnowledgeSettings, allowed_aliases: Callable[[str], Iterable[str]]
    ) -> None:
        self.db = db
        self.settings = settings
        self.allowed_aliases = allowed_aliases

    def _row(self, session, tenant_id: int) -> KnowledgeConfig | None:
        return session.get(KnowledgeConfig, tenant_id)

    def _new_row(self, tenant_id: int) -> KnowledgeConfig:
        d = defaults_of(self.settings)
        return KnowledgeConfig(
            tenant_id=tenant_id,
            rag_enabled=d.rag_enabled,
            top_k=d.top_k,
            threshold=d.threshold,
            token_budget=d.token_budget,
            intent_threshold=d.intent_threshold,
        )

    def get_settings(self, tenant_name: str) -> dict[str, Any]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            return settings_view(tenant.name, self._row(session, tenant.id), self.settings)

    def put_settings(self, tenant_name: str, spec: KnowledgeSettingsSpec) -> dict[str, Any]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            row = self._row(session, tenant.id) or self._new_row(tenant.id)
            for key, value in msgspec.structs.asdict(spec).items():
                if value is not msgspec.UNSET:
                    setattr(row, key, value)
            row.updated_at = utcnow()
            session.add(row)
            bump_directory_version(session)
            return settings_view(tenant.name, row, self.settings)

    def get_intents(self, tenant_name: str) -> dict[str, Any]:
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            row = self._row(session, tenant.id)
            intents = session.exec(select(Intent).where(Intent.tenant_id == tenant.id).order_by(Intent.name)).all()
            return self._intents_view(tenant.name, row, intents)

    def _intents_view(self, tenant: str, row: KnowledgeConfig | None, intents) -> dict[str, Any]:
        return {
            "tenant": tenant,
            "alias": self.settings.intent_alias,
            "threshold": row.intent_threshold if row else self.settings.intent_threshold,
            "fallback": row.intent_fallback if row else None,
            "intents": [{"name": i.name, "target": i.target, "examples": list(i.examples)} for i in intents],
        }

    def _check(self, tenant_name: str, spec: IntentsSpec) -> None:
        allowed = set(self.allowed_aliases(tenant_name))
        names = [i.name for i in spec.intents]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidRequest(f"intent names must be unique: {duplicates}", param="intents")
        for index, intent in enumerate(spec.intents):
            examples = [e for e in intent.examples if e.strip()]
            if len(examples) < MIN_EXAMPLES:
                raise InvalidRequest(
                    f"intent {intent.name!r} needs at least {MIN_EXAMPLES} example prompts "
                    f"({RECOMMENDED_EXAMPLES}+ recommended)",
                    param=f"intents[{index}].examples",
                )
            if intent.target not in allowed:
                raise InvalidRequest(
                    f"intent {intent.name!r}: unknown model {intent.target!r} for this tenant; "
                    f"choose one of {sorted(allowed)}",
                    param=f"intents[{index}].target",
                )
        if spec.intents and spec.fallback is None:
            raise InvalidRequest(
                "name the fallback model used when the router is unsure (the tenant's base model)", param="fallback"
            )
        if spec.fallback is not None and spec.fallback not in allowed:
            raise InvalidRequest(
                f"unknown fallback model {spec.fallback!r} for this tenant; choose one of {sorted(allowed)}",
                param="fallback",
            )

    def put_intents(self, tenant_name: str, spec: IntentsSpec) -> dict[str, Any]:
        """Replace the tenant's intents (an empty list turns the router off for the tenant)."""
        self._check(tenant_name, spec)
        with self.db.session() as session:
            tenant = find_tenant(session, tenant_name)
            row = self._row(session, tenant.id) or self._new_row(tenant.id)
            row.intent_fallback = spec.fallback
            if spec.threshold is not None:
                row.intent_threshold = spec.threshold
            row.updated_at = utcnow()
            session.add(row)
            session.exec(delete(Intent).where(Intent.tenant_id == tenant.id))
            intents = [
                Intent(
                    tenant_id=tenant.id,
                    name=i.name,
                    target=i.target,
                    examples=[e.strip() for e in i.examples if e.strip()],
                )
                for i in spec.intents
            ]
            session.add_all(intents)
            bump_directory_version(session)
            session.flush()
            return self._intents_view(tenant.name, row, sorted(intents, key=lambda i: i.name))


def seed_spec(targets: dict[str, str], fallback: str, threshold: float | None = None) -> IntentsSpec:
    """The seed intents (``seed_intents.SEED_INTENTS``) with their targets mapped to this tenant's aliases."""
    missing = [name for name in SEED_INTENTS if name not in targets]
    if missing:
        raise InvalidRequest(f"map every seed intent to a model: missing {missing}", param="targets")
    return IntentsSpec(
        intents=[IntentSpec(name, targets[name], list(examples)) for name, examples in SEED_INTENTS.items()],
        fallback=fallback,
        threshold=threshold,
    )
