"""Alembic environment: runs on the connection the gateway hands it."""

from alembic import context
from sqlmodel import SQLModel

import gateway.attestation.models  # noqa: F401  (registers the attestation tables)
import gateway.storage.models  # noqa: F401  (registers the tables)

try:
    import admin.models  # noqa: F401  (the console's tables, for autogenerate)
except ImportError:  # the proxy without the console
    pass

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
