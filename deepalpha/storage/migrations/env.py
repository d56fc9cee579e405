"""Alembic environment: runs on a connection the caller hands in (see storage.migrate)."""

from __future__ import annotations

from alembic import context

from deepalpha.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through 'deepalpha db upgrade', not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():  # pragma: no cover - offline SQL generation is not offered
    raise RuntimeError("offline migrations are not supported")
run_migrations_online()
