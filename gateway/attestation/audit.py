"""The hash-chained audit log: every attestation and every admin action, each linked to the one before.

Entry ``n`` stores ``prev_hash`` = entry ``n-1``'s ``entry_hash`` (``"0" * 64`` for entry 1) and

    entry_hash = hex(SHA-256(JCS({"seq", "kind", "subject", "payload_sha256", "prev_hash", "created"})))

where ``created`` is the entry's time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds) and
JCS is RFC 8785. An attestation's entry has ``kind = "attestation"``, ``subject`` = the request
id and ``payload_sha256`` = SHA-256 of the attestation's canonical payload bytes; an admin
action's entry keeps its ``detail`` (a JSON object) and ``payload_sha256`` = SHA-256 of
JCS(detail). Appends are serialised across replicas (see ``locks``): sequence numbers are
contiguous and ``prev_hash``/``entry_hash`` are unique, so a fork cannot even be written.

``verify_chain`` walks the chain in order and returns the first broken link: a missing
sequence number (a deleted row), a ``prev_hash`` that does not match (a row replaced), an
``entry_hash`` that does not match its row (an edited row), a ``detail`` or attestation
payload that does not match ``payload_sha256``, an attestation whose ``prev_hash`` anchor is
not an earlier entry, or an attestation record with no entry (its entry deleted from the tail).
Deleting the newest entries together with their attestation records is not detectable from
the database alone; anchor the head elsewhere (an RFC 3161 timestamp, an export) for that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from gateway.attestation.canonical import canonicalize, format_time
from gateway.attestation.locks import LOCK_AUDIT, write_transaction
from gateway.attestation.models import AttestationRecord, AuditEntry, utcnow
from gateway.storage.database import Database

__all__ = ["GENESIS_HASH", "AuditLog", "ChainBreak", "NewEntry", "entry_hash"]

GENESIS_HASH = "0" * 64
ATTESTATION_KIND = "attestation"


def entry_hash(seq: int, kind: str, subject: str, payload_sha256: str, prev_hash: str, created: datetime) -> str:
    document = {
        "seq": seq,
        "kind": kind,
        "subject": subject,
        "payload_sha256": payload_sha256,
        "prev_hash": prev_hash,
        "created": format_time(created),
    }
    return hashlib.sha256(canonicalize(document)).hexdigest()


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry not yet in the chain."""

    kind: str
    subject: str
    payload_sha256: str
    detail: dict[str, Any] | None = None

    @classmethod
    def of_detail(cls, kind: str, subject: str, detail: Mapping[str, Any] | None) -> NewEntry:
        detail = dict(detail or {})
        return cls(kind, subject, hashlib.sha256(canonicalize(detail)).hexdigest(), detail)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first broken link: the entry's sequence number (``None``: not tied to one), a code, an explanation."""

    seq: int | None
    reason: str
    detail: str

    def __str__(self) -> str:
        where = f"entry {self.seq}" if self.seq is not None else "chain"
        return f"{where}: {self.reason}: {self.detail}"


class AuditLog:
    """Appends to and verifies the chain in ``audit_entry``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, kind: str, subject: str, payload: Mapping[str, Any] | None = None) -> AuditEntry:
        """Record an admin action (``payload`` is stored and hashed); returns the new entry."""
        with write_transaction(self.db, LOCK_AUDIT) as session:
            (row,) = self.append_in(session, [NewEntry.of_detail(kind, subject, payload)])
        return AuditEntry(**row)

    def append_in(self, session: Session, entries: Sequence[NewEntry]) -> list[dict[str, Any]]:
        """Append inside ``session``, whose transaction must hold ``LOCK_AUDIT`` (``write_transaction``).

        Returns the new rows as dicts (column → value), oldest first.
        """
        table = AuditEntry.__table__
        head = session.execute(sa_select(table.c.seq, table.c.entry_hash).order_by(table.c.seq.desc()).limit(1)).first()
        seq, prev = (head[0], head[1]) if head else (0, GENESIS_HASH)
        created = utcnow()
        rows: list[dict[str, Any]] = []
        for entry in entries:
            seq += 1
            digest = entry_hash(seq, entry.kind, entry.subject, entry.payload_sha256, prev, created)
            rows.append(
                {
                    "seq": seq,
                    "kind": entry.kind,
                    "subject": entry.subject,
                    "payload_sha256": entry.payload_sha256,
                    "prev_hash": prev,
                    "entry_hash": digest,
                    "created_at": created,
                    "detail": entry.detail,
                }
            )
            prev = digest
        session.execute(insert(table), rows)
        return rows

    def head(self) -> AuditEntry | None:
        with self.db.session() as session:
            return session.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()

    def head_hash(self) -> str:
        head = self.head()
        return head.entry_hash if head else GENESIS_HASH

    def count(self) -> int:
        with self.db.session() as session:
            return session.exec(select(func.count()).select_from(AuditEntry)).one()

    def verify_chain(
        self,
        *,
        page_size: int = 1000,
        check_attestation: Callable[[AttestationRecord], str | None] | None = None,
    ) -> ChainBreak | None:
        """Walk the whole chain; the first broken link, or ``None`` when it is intact.

        ``check_attestation`` may add a per-attestation check (e.g. its signature); it returns
        why the record is bad, or ``None``.
        """
        expected, prev = 1, GENESIS_HASH
        with self.db.session() as session:
            while True:
                rows = session.exec(
                    select(AuditEntry)
                    .where(col(AuditEntry.seq) >= expected)
                    .order_by(col(AuditEntry.seq))
                    .limit(page_size)
                ).all()
                if not rows:
                    break
                records = self._records(session, [r.subject for r in rows if r.kind == ATTESTATION_KIND])
                anchors = self._anchor_seqs(session, records.values())
                for row in rows:
                    broken = self._check(row, expected, prev, records, anchors, check_attestation)
                    if broken is not None:
                        return broken
                    prev = row.entry_hash
                    expected += 1
            orphan = session.exec(
                select(AttestationRecord.request_id)
                .outerjoin(
                    AuditEntry,
                    and_(
                        col(AuditEntry.subject) == AttestationRecord.request_id,
                        col(AuditEntry.kind) == ATTESTATION_KIND,
                    ),
                )
                .where(col(AuditEntry.seq).is_(None))
                .limit(1)
            ).first()
        if orphan is not None:
            return ChainBreak(None, "unchained_attestation", f"attestation {orphan} has no audit entry (deleted?)")
        return None

    @staticmethod
    def _check(
        row: AuditEntry,
        expected: int,
        prev: str,
        records: Mapping[str, AttestationRecord],
        anchors: Mapping[str, int],
        check_attestation: Callable[[AttestationRecord], str | None] | None,
    ) -> ChainBreak | None:
        if row.seq != expected:
            return ChainBreak(expected, "missing_entry", f"entry {expected} is missing; the next entry is {row.seq}")
        if row.prev_hash != prev:
            return ChainBreak(
                row.seq, "broken_link", f"prev_hash {row.prev_hash} is not entry {row.seq - 1}'s hash {prev}"
            )
        recomputed = entry_hash(row.seq, row.kind, row.subject, row.payload_sha256, row.prev_hash, row.created_at)
        if recomputed != row.entry_hash:
            return ChainBreak(
                row.seq, "entry_edited", f"the row hashes to {recomputed}, not its entry_hash {row.entry_hash}"
            )
        if row.detail is not None and hashlib.sha256(canonicalize(row.detail)).hexdigest() != row.payload_sha256:
            return ChainBreak(row.seq, "detail_edited", "the stored detail does not match payload_sha256")
        if row.kind != ATTESTATION_KIND:
            return None
        record = records.get(row.subject)
        if record is None:
            return ChainBreak(row.seq, "attestation_missing", f"attestation {row.subject} is gone (deleted?)")
        if hashlib.sha256(record.payload.encode("utf-8")).hexdigest() != row.payload_sha256:
            return ChainBreak(row.seq, "attestation_edited", f"attestation {row.subject}'s payload does not match")
        anchor = _anchor_of(record)
        if anchor != GENESIS_HASH and anchors.get(anchor, row.seq) >= row.seq:
            return ChainBreak(
                row.seq, "bad_anchor", f"attestation {row.subject} names prev_hash {anchor}, not an earlier entry"
            )
        if check_attestation is not None:
            problem = check_attestation(record)
            if problem:
                return ChainBreak(row.seq, "attestation_invalid", f"attestation {row.subject}: {problem}")
        return None

    @staticmethod
    def _records(session: Session, request_ids: list[str]) -> dict[str, AttestationRecord]:
        if not request_ids:
            return {}
        found = session.exec(select(AttestationRecord).where(col(AttestationRecord.request_id).in_(request_ids))).all()
        return {r.request_id: r for r in found}

    @staticmethod
    def _anchor_seqs(session: Session, records) -> dict[str, int]:
        wanted = {_anchor_of(r) for r in records} - {GENESIS_HASH, None}
        if not wanted:
            return {}
        rows = session.exec(
            select(AuditEntry.entry_hash, AuditEntry.seq).where(col(AuditEntry.entry_hash).in_(list(wanted)))
        ).all()
        return {digest: seq for digest, seq in rows}


def _anchor_of(record: AttestationRecord) -> str | None:
    try:
        return json.loads(record.payload).get("prev_hash")
    except (ValueError, AttributeError):
        return None
