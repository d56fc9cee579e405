"""Schema migrations (Alembic, shipped inside the package), applied on start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaError(RuntimeError):
    pass


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script().get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    revision: str
    down_revision: str | None
    message: str


def history() -> list[RevisionInfo]:
    out = []
    for rev in script().walk_revisions():
        down = rev.down_revision
        out.append(
            RevisionInfo(
                rev.revision,
                down if isinstance(down, str) or down is None else ",".join(down),
                rev.doc or "",
            )
        )
    return out


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def _upgrade(conn: Connection, target: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


async def upgrade(engine: AsyncEngine, target: str = "head") -> str | None:
    """Bring the schema to ``target``; refuses a database from a newer DeepAlpha."""
    known = {r.revision for r in history()}
    current = await current_revision(engine)
    if current is not None and current not in known:
        raise SchemaError(
            f"the database is at schema revision {current}, which this version of DeepAlpha "
            "does not know (it was written by a newer version); upgrade DeepAlpha"
        )
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, target)
    return await current_revision(engine)
