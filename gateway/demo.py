"""The demo tenants from the seed documents, created once with a key each."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.apikeys import ApiKeyService, KeyCreate
from gateway.errors import Conflict
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.tenants import TenantCreate, TenantService

DEMO_TENANTS = (
    TenantCreate(name="HQ", rpm=300, tps=10, daily_tokens=10_000_000),
    TenantCreate(name="Medical", rpm=150, tps=5, daily_tokens=5_000_000),
    TenantCreate(name="Legal", rpm=100, tps=3, daily_tokens=3_000_000),
)


def seed_demo(db: Database, settings: Settings) -> Iterator[str]:
    """Create the missing demo tenants and one key for each; yields lines for the operator."""
    tenants, keys = TenantService(db), ApiKeyService(db)
    created = False
    for spec in DEMO_TENANTS:
        try:
            tenants.create(spec)
        except Conflict:
            yield f"{spec.name}: already exists (new key: gateway key create {spec.name})"
            continue
        key, raw = keys.create(spec.name, KeyCreate(name="demo"))
        created = True
        yield f"{spec.name}: {spec.rpm} rpm, {spec.tps} tps, {spec.daily_tokens:,} tokens/day  key: {raw}"
    if created:
        yield "These keys are shown once. Try:"
        yield (
            f"  curl http://{settings.host}:{settings.port}/v1/chat/completions -H 'Authorization: Bearer <key>' "
            f"-H 'content-type: application/json' "
            f'-d \'{{"model": "{settings.local_model_alias}", "messages": [{{"role": "user", "content": "Merhaba"}}]}}\''
        )
