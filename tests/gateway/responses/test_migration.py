"""Migration 0006 creates and drops the stored responses table on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from gateway.storage.database import MIGRATIONS, Database


def _run(db: Database, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def test_0006_upgrades_and_downgrades(database_url):
    db = Database(database_url)
    try:
        _run(db, command.upgrade, "0006")
        inspector = inspect(db.engine)
        assert "stored_response" in inspector.get_table_names()
        assert {index["name"] for index in inspector.get_indexes("stored_response")} == {
            "ix_stored_response_tenant_id",
            "ix_stored_response_created_at",
        }
        _run(db, command.downgrade, "0005")
        assert "stored_response" not in inspect(db.engine).get_table_names()
        _run(db, command.upgrade, "0006")
        assert "stored_response" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()
