"""The engine, sessions and schema migrations, for SQLite (WAL) and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, update
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from gateway.storage.models import DirectoryState

MIGRATIONS = Path(__file__).parent / "migrations"
_DIRECTORY_CHANGED = "gateway.directory_changed"


def _normalise_url(url: str) -> str:
    """Let ``postgresql://`` mean psycopg 3, the driver the package installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


SQLITE_CACHE_KIB = 65_536
"""Each SQLite connection's page cache, at most (it grows as pages are read). SQLite's default of
2 MB lets the audit chain's hash indexes, which every attestation writes at a random place, fall
out of the cache within minutes of load; each insert then reads its pages back from the file."""


def _enable_sqlite_wal(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()


class Database:
    """One engine per process; ``session()`` opens a unit of work.

    Callables in ``on_directory_change`` run after a commit that bumped the directory version,
    so the replica that made a change sees it at once (others see it at their next poll).
    """

    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False} if self.is_sqlite else {"connect_timeout": 3}
        self.engine = create_engine(self.url, connect_args=connect_args, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            _enable_sqlite_wal(self.engine)
        self.on_directory_change: list[Callable[[], None]] = []

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
        if session.info.get(_DIRECTORY_CHANGED):
            for listener in self.on_directory_change:
                listener()

    def dispose(self) -> None:
        self.engine.dispose()


def bump_directory_version(session: Session) -> None:
    """Tell every replica that tenants, keys or routes changed (same transaction as the change)."""
    session.info[_DIRECTORY_CHANGED] = True
    session.exec(update(DirectoryState).where(DirectoryState.id == 1).values(version=DirectoryState.version + 1))
