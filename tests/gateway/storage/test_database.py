"""SQLite connections get the settings the gateway relies on: WAL, foreign keys, a page cache that holds the hot indexes."""

from __future__ import annotations

from sqlalchemy import text

from gateway.storage.database import SQLITE_CACHE_KIB, Database


def test_every_sqlite_connection_is_set_up(sqlite_url):
    db = Database(sqlite_url)
    with db.engine.connect() as first, db.engine.connect() as second:
        for connection in (first, second):
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
    assert SQLITE_CACHE_KIB > 2_000  # above SQLite's default of 2,000 KiB
