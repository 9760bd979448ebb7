"""Persisting attestations off the response path: one background thread, group commits.

``submit`` only enqueues (a few µs). The thread waits for an attestation, lingers
``linger_seconds`` for more (up to ``batch_size``) and writes them in one transaction: the
attestation rows and their audit entries, holding the audit lock once per batch, so the chain's
cost is paid per batch, not per request. Lingering keeps batches large under moderate load too:
without it, a few hundred requests a second meant a transaction (and a thread wake-up taking
the GIL from the event loop) for nearly every attestation. Until written, an attestation is
served from memory.

When a TSA is configured, a second thread timestamps each written attestation's signature and
stores the token; a slow or failing TSA never delays the audit chain.

If the database is unreachable the writer retries with backoff and keeps what is queued in
memory; ``close`` waits up to its timeout, then reports how many were not written.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from gateway.attestation.audit import ATTESTATION_KIND, AuditLog, NewEntry
from gateway.attestation.keys import b64url
from gateway.attestation.locks import LOCK_AUDIT, write_transaction
from gateway.attestation.models import AttestationRecord, utcnow
from gateway.attestation.signer import Attestation
from gateway.attestation.tsa import TimestampClient, TimestampError
from gateway.storage.database import Database

log = logging.getLogger("gateway.attestation")

_STOP = object()
_MAX_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class PendingAttestation:
    request_id: str
    tenant_id: int
    attestation: Attestation


class _Progress:
    """Counts submitted and finished items so ``wait`` can tell when everything before it is done."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.submitted = 0
        self.finished = 0

    def add(self, n: int = 1) -> None:
        with self._cond:
            self.submitted += n

    def done(self, n: int) -> None:
        with self._cond:
            self.finished += n
            self._cond.notify_all()

    def wait(self, timeout: float | None) -> bool:
        with self._cond:
            target = self.submitted
            return self._cond.wait_for(lambda: self.finished >= target, timeout)


class AttestationWriter:
    """Writes ``PendingAttestation``s and their audit entries in batches."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        batch_size: int = 500,
        linger_seconds: float = 0.05,
        on_written: Callable[[list[PendingAttestation], str], None] = lambda items, head: None,
        tick_seconds: float = 5.0,
        on_tick: Callable[[], None] = lambda: None,  # called every tick_seconds, busy or not
        timestamps: TimestampClient | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.batch_size = batch_size
        self.linger_seconds = linger_seconds
        self.on_written = on_written
        self.tick_seconds = tick_seconds
        self.on_tick = on_tick
        self.timestamps = timestamps
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stamp_queue: queue.SimpleQueue = queue.SimpleQueue()
        self._written = _Progress()
        self._stamped = _Progress()
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self.dropped = 0

    def start(self) -> None:
        if self._threads:
            return
        self._threads.append(threading.Thread(target=self._run, name="attestation-writer", daemon=True))
        if self.timestamps is not None:
            self._threads.append(threading.Thread(target=self._run_stamps, name="attestation-tsa", daemon=True))
        for thread in self._threads:
            thread.start()

    def submit(self, item: PendingAttestation) -> None:
        self._written.add()
        self._queue.put(item)

    def flush(self, timeout: float | None = 10.0, *, timestamps: bool = False) -> bool:
        """Wait until everything submitted so far is written (and, if asked, timestamped)."""
        if not self._written.wait(timeout):
            return False
        return self._stamped.wait(timeout) if timestamps else True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting at most ``timeout``), then stop the threads."""
        if not self._threads:
            return
        written = self._written.wait(timeout)
        self._closing.set()
        self._queue.put(_STOP)
        self._stamp_queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if not written:
            lost = self._written.submitted - self._written.finished
            log.error("attestation writer stopped with %d attestations not written", lost)

    # the writer thread

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_seconds
        while True:
            now = time.monotonic()
            if now >= next_tick:  # also under constant load, not only when the queue is empty
                self._safely(self.on_tick)
                next_tick = now + self.tick_seconds
                continue
            try:
                first = self._queue.get(timeout=next_tick - now)
            except queue.Empty:
                continue
            if first is _STOP:
                return
            batch = [first]
            stop = False
            # Sleep through the linger, then drain: waiting on the queue instead would wake this
            # thread (and take the GIL from the event loop) once per request.
            if self._queue.qsize() < self.batch_size:
                self._closing.wait(self.linger_seconds)
            while len(batch) < self.batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._write_with_retry(batch)
            if stop:
                return

    def _write_with_retry(self, batch: list[PendingAttestation]) -> None:
        backoff = 0.05
        while True:
            try:
                self._write(batch)
                return
            except IntegrityError:
                self._write_one_by_one(batch)
                return
            except Exception:
                if self._closing.is_set():
                    log.exception("attestation writer giving up on %d attestations at shutdown", len(batch))
                    self.dropped += len(batch)
                    self._written.done(len(batch))
                    return
                log.exception("attestation batch write failed; retrying in %.2fs", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    def _write(self, batch: list[PendingAttestation]) -> None:
        created = utcnow()
        with write_transaction(self.db, LOCK_AUDIT) as session:
            session.execute(
                insert(AttestationRecord.__table__),
                [
                    {
                        "request_id": item.request_id,
                        "tenant_id": item.tenant_id,
                        "kid": item.attestation.kid,
                        "payload": item.attestation.payload_bytes.decode("utf-8"),
                        "signature": b64url(item.attestation.signature),
                        "created_at": created,
                        "timestamp_token": None,
                    }
                    for item in batch
                ],
            )
            entries = self.audit.append_in(
                session,
                [
                    NewEntry(
                        ATTESTATION_KIND, item.request_id, hashlib.sha256(item.attestation.payload_bytes).hexdigest()
                    )
                    for item in batch
                ],
            )
        self._written_ok(batch, entries[-1]["entry_hash"])

    def _write_one_by_one(self, batch: list[PendingAttestation]) -> None:
        for item in batch:
            try:
                self._write([item])
            except IntegrityError:
                log.error("attestation for %s already stored; the new one is dropped", item.request_id)
                self.dropped += 1
                self._written.done(1)
            except Exception:
                log.exception("attestation for %s not written", item.request_id)
                self.dropped += 1
                self._written.done(1)

    def _written_ok(self, batch: list[PendingAttestation], head: str) -> None:
        self._safely(lambda: self.on_written(batch, head))
        if self.timestamps is not None:
            self._stamped.add(len(batch))
            for item in batch:
                self._stamp_queue.put(item)
        self._written.done(len(batch))

    # the timestamp thread

    def _run_stamps(self) -> None:
        while True:
            item = self._stamp_queue.get()
            if item is _STOP:
                return
            try:
                token = self.timestamps.stamp(item.attestation.signature)
                with self.db.session() as session:
                    session.exec(
                        update(AttestationRecord)
                        .where(col(AttestationRecord.request_id) == item.request_id)
                        .values(timestamp_token=token)
                    )
            except TimestampError as exc:
                log.warning("no trusted timestamp for %s: %s", item.request_id, exc)
            except Exception:
                log.exception("storing the trusted timestamp for %s failed", item.request_id)
            finally:
                self._stamped.done(1)

    @staticmethod
    def _safely(action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            log.exception("attestation writer callback failed")
