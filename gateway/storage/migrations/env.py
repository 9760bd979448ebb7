"""Alembic environment: runs on the connection the gateway hands it."""

from alembic import context
from sqlmodel import SQLModel

import gateway.adapters.models  # noqa: F401  (the adapter registry)
import gateway.attestation.models  # noqa: F401  (registers the attestation tables)
import gateway.knowledge.models  # noqa: F401  (knowledge collections and intents)
import gateway.responses.models  # noqa: F401  (stored responses)
import gateway.storage.models  # noqa: F401  (registers the tables)
import gateway.traffic_samples  # noqa: F401  (sampled traffic for labeling)

try:
    import admin.models  # noqa: F401  (the console's tables, for autogenerate)
except ImportError:  # the proxy without the console
    pass

try:
    import training.models  # noqa: F401  (preference pairs, labels, training jobs)
except ImportError:  # the proxy without training
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
