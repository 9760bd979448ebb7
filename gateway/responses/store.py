"""Stored responses: save, read, delete and purge, scoped to the tenant that created them.

Database work runs in a worker thread (``asyncio.to_thread``) so the event loop never waits on
it. A save is awaited before the client gets the final answer (the ``response`` body, or the
stream's last event), so a follow-up with ``previous_response_id`` never races it; a save that
fails is logged and the answer still goes out, saying ``"store": false``. Rows older than the
retention answer as absent at once and are deleted by a background purge every
``purge_interval_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete
from sqlmodel import select

from gateway.responses.models import StoredResponse
from gateway.responses.settings import ResponsesSettings
from gateway.storage.database import Database

log = logging.getLogger("gateway.responses")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


@dataclass(frozen=True, slots=True)
class Conversation:
    """A stored response as a later request needs it: the response object and the items that produced it."""

    response: dict[str, Any]
    input_items: list[dict[str, Any]]
    request_id: str


class ResponseStore:
    """The ``stored_response`` table behind ``store``, ``previous_response_id`` and ``GET /v1/responses/{id}``."""

    def __init__(self, db: Database, settings: ResponsesSettings) -> None:
        self.db = db
        self.retention = timedelta(days=settings.retention_days)
        self.purge_interval = settings.purge_interval_seconds
        self.max_bytes = settings.max_stored_bytes
        self._purging: asyncio.Task | None = None

    # ------------------------------------------------------------ writes

    async def save(
        self, tenant_id: int, request_id: str, response: dict[str, Any], input_items: list[dict[str, Any]]
    ) -> bool:
        """Keep ``response``; ``False`` (logged, nothing raised) when it is too large or the write failed."""
        encoded_response, encoded_items = _encode(response), _encode(input_items)
        size = len(encoded_response) + len(encoded_items)
        if size > self.max_bytes:
            log.warning(
                "response not stored: too large",
                extra={"request_id": request_id, "bytes": size, "limit": self.max_bytes},
            )
            return False
        row = StoredResponse(
            id=response["id"],
            tenant_id=tenant_id,
            request_id=request_id,
            response=encoded_response.decode(),
            input_items=encoded_items.decode(),
            created_at=datetime.now(UTC),
        )
        try:
            await asyncio.to_thread(self._insert, row)
        except Exception as error:  # the answer must still go out; the error's text may quote the prompt
            log.error(
                "response not stored: the write failed",
                extra={"request_id": request_id, "error": type(error).__name__},
            )
            return False
        return True

    def _insert(self, row: StoredResponse) -> None:
        with self.db.session() as session:
            session.add(row)

    def fits(self, input_items: list[dict[str, Any]]) -> bool:
        """Whether a conversation this long can still be stored (its answer not counted)."""
        return len(_encode(input_items)) <= self.max_bytes

    async def delete(self, tenant_id: int, response_id: str) -> bool:
        """Delete the tenant's response; ``False`` when it has none by that id."""
        return await asyncio.to_thread(self._delete, tenant_id, response_id)

    def _delete(self, tenant_id: int, response_id: str) -> bool:
        with self.db.session() as session:
            row = self._live_row(session, tenant_id, response_id)
            if row is None:
                return False
            session.delete(row)
            return True

    async def purge_expired(self) -> int:
        """Delete every expired response; the number deleted."""
        return await asyncio.to_thread(self._purge)

    def _purge(self) -> int:
        with self.db.session() as session:
            result = session.exec(delete(StoredResponse).where(StoredResponse.created_at <= self._oldest_kept()))
            return result.rowcount or 0

    # ------------------------------------------------------------ reads

    async def get(self, tenant_id: int, response_id: str) -> Conversation | None:
        """The tenant's live response by id; ``None`` for another tenant's, an expired or an unknown one."""
        return await asyncio.to_thread(self._get, tenant_id, response_id)

    def _get(self, tenant_id: int, response_id: str) -> Conversation | None:
        with self.db.session() as session:
            row = self._live_row(session, tenant_id, response_id)
            if row is None:
                return None
            return Conversation(_decode(row.response), _decode(row.input_items), row.request_id)

    def _oldest_kept(self) -> datetime:
        return datetime.now(UTC) - self.retention

    def _live_row(self, session, tenant_id: int, response_id: str) -> StoredResponse | None:
        query = select(StoredResponse).where(
            StoredResponse.id == response_id,
            StoredResponse.tenant_id == tenant_id,
            StoredResponse.created_at > self._oldest_kept(),
        )
        return session.exec(query).first()

    # ------------------------------------------------------------ the purge loop

    async def start(self) -> None:
        self._purging = asyncio.create_task(self._purge_loop())

    async def _purge_loop(self) -> None:
        while True:
            try:
                deleted = await self.purge_expired()
                if deleted:
                    log.info("expired responses purged", extra={"deleted": deleted})
            except Exception as error:
                log.error("purging expired responses failed", extra={"error": type(error).__name__})
            await asyncio.sleep(self.purge_interval)

    async def stop(self) -> None:
        if self._purging is not None:
            self._purging.cancel()
            await asyncio.gather(self._purging, return_exceptions=True)
