"""Attestation fixtures: a migrated database of each kind, a KEK, and a started service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.attestation import AttestationService, KeyEncryptionKey, Output
from gateway.storage.database import Database

KEK_TEXT = KeyEncryptionKey.generate_text()

REQUEST: dict[str, Any] = {
    "model": "support",
    "messages": [
        {"role": "system", "content": "Kısa cevap ver."},
        {"role": "user", "content": "Merhaba, İstanbul'da hava nasıl?"},
    ],
    "temperature": 0.7,
    "max_tokens": 128,
    "user": "alice",
}

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "qwen:acme-legal",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Güneşli, 24°C."}, "finish_reason": "stop"}],
}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.parse(KEK_TEXT)


@pytest.fixture
def service(db: Database, kek: KeyEncryptionKey) -> Iterator[AttestationService]:
    svc = AttestationService(db, kek, key_refresh_seconds=0.2)
    svc.start()
    yield svc
    svc.close()


def attest(
    service: AttestationService,
    request_id: str,
    *,
    tenant_id: int = 1,
    tenant: str = "HQ",
    request: dict | None = None,
    completion: dict | None = None,
    **extra,
):
    return service.attest(
        request_id=request_id,
        tenant_id=tenant_id,
        tenant=tenant,
        model="support",
        backend="gpu-1",
        upstream_model="qwen:acme-legal",
        request=request or REQUEST,
        output=Output.from_completion(completion or COMPLETION),
        **extra,
    )
