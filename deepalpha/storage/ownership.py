"""One engine per Postgres database: a session-level advisory lock the server holds for the
engine's connection, released by the server when that connection ends (a crash included).

The lock's connection is named (``application_name``) after the engine's host and pid, so a
second engine that is refused can say who holds the database and since when (the session's
start). The engine checks the connection every few seconds: losing it means another engine may
now hold the database, and the engine must stop writing (``EngineLease.alive``).
"""

from __future__ import annotations

import os
import socket

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from deepalpha.storage.database import DatabaseTarget, explain
from deepalpha.storage.errors import EngineBusy

# pg_try_advisory_lock(int4, int4): a key of DeepAlpha's own ('DA'), 1 = the trading engine.
LOCK_KEY = (0x4441, 1)
_HOLDER = text(
    """
    SELECT a.pid, a.application_name, a.client_addr, a.backend_start
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :a AND l.objid = :b
      AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """
)


class EngineLease:
    """The advisory lock, held on its own connection while the engine runs."""

    def __init__(self, engine: AsyncEngine, conn: AsyncConnection) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = conn

    async def alive(self) -> bool:
        """True while the lock's connection (so the lock) is still there."""
        if self._conn is None:
            return False
        try:
            await self._conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return False
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), _key())
                await conn.close()
            except (SQLAlchemyError, OSError):
                pass  # the connection is gone: so is the lock
        await self._engine.dispose()


def _key() -> dict[str, int]:
    return {"a": LOCK_KEY[0], "b": LOCK_KEY[1]}


async def acquire_lease(target: DatabaseTarget) -> EngineLease:
    """Hold the database for this engine, or raise :class:`EngineBusy` naming the holder."""
    name = f"deepalpha engine {socket.gethostname()} pid {os.getpid()}"[:63]
    engine = create_async_engine(
        target.url,
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": 10, "server_settings": {"application_name": name}},
    )
    try:
        conn = await engine.connect()
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), _key())).scalar()
        if got:
            return EngineLease(engine, conn)
        row = (await conn.execute(_HOLDER, _key())).first()
        await conn.close()
    except (SQLAlchemyError, OSError, TypeError) as exc:
        await engine.dispose()
        raise explain(getattr(exc, "orig", None) or exc, target) from None
    await engine.dispose()
    holder = "another session"
    if row is not None:
        pid, app_name, addr, started = row
        who = str(app_name or f"backend pid {pid}")
        holder = f"{who} from {addr or 'a local socket'}, since {started:%Y-%m-%d %H:%M:%S %Z}"
    raise EngineBusy(
        f"another DeepAlpha ({holder}) is using the database {target.display}; stop it first "
        "or give this one its own database"
    )
