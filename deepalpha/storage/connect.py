"""Open the store the app runs on: resolve the database, check it, migrate it, wrap errors."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from deepalpha.storage.database import DatabaseError, create_engine, explain, resolve
from deepalpha.storage.migrate import SchemaError, upgrade
from deepalpha.storage.repository import SqlStore


async def open_store(url: str | None, data_dir: Path, *, migrate: bool = True) -> SqlStore:
    """A ready store; raises :class:`DatabaseError` with a message a person can act on."""
    target = resolve(url, data_dir)
    engine = create_engine(target)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        if migrate:
            await upgrade(engine)
    except SchemaError as exc:
        await engine.dispose()
        raise DatabaseError(f"{target.display}: {exc}") from None
    except (OSError, OperationalError, DBAPIError, TypeError) as exc:  # TypeError: a URL option
        await engine.dispose()
        raise explain(
            exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc, target
        ) from None
    store = SqlStore(engine)
    store.target = target
    return store
