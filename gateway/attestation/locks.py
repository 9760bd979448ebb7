"""Write transactions serialised across processes and replicas.

PostgreSQL: ``pg_advisory_xact_lock`` on a fixed key per lock name, released at commit or
rollback, so N gateway replicas append to the audit chain one transaction at a time.
SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock before the first read, so a
transaction that reads the chain head cannot race another writer (``busy_timeout`` waits).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlmodel import Session

from gateway.storage.database import Database

# The two-int form of pg_advisory_xact_lock: (classid, objid); classid spells "PGAT".
_LOCK_CLASS = 0x50474154
LOCK_KEYS = 1
LOCK_AUDIT = 2


@contextmanager
def write_transaction(db: Database, *locks: int) -> Iterator[Session]:
    """A session whose transaction holds ``locks`` until it commits (always taken in one order)."""
    with db.session() as session:
        connection = session.connection()
        if db.is_sqlite:
            raw = connection.connection.dbapi_connection
            if raw.in_transaction:
                raise RuntimeError("SQLite connection already in a transaction; cannot take the write lock first")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            for lock in sorted(set(locks)):
                connection.execute(text("SELECT pg_advisory_xact_lock(:cls, :obj)"), {"cls": _LOCK_CLASS, "obj": lock})
        yield session
