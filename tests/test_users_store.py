"""The users table and trader ownership (migration 0004) on SQLite and Postgres: the store's
methods, the rules the database itself keeps, and the migration against the models."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.storage.connect import open_store
from deepalpha.storage.database import create_engine, resolve
from deepalpha.storage.errors import InvalidUser, UnknownTrader, UnknownUser, UserExists
from deepalpha.storage.migrate import alembic_config, current_revision, head_revision, upgrade
from deepalpha.storage.models import USER_ROLES, Base
from deepalpha.storage.repository import SqlStore

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"  # shape only


def on_store(
    database_url: str, tmp_path: Path, scenario: Callable[[SqlStore], Awaitable[None]]
) -> None:
    async def go() -> None:
        store = await open_store(database_url, tmp_path)
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(go())


async def two_traders(store: SqlStore) -> None:
    await store.save_trader(TraderConfig("t1", "Alpha", TraderKind.DISCRETIONARY))
    await store.save_trader(TraderConfig("t2", "Beta", TraderKind.AI))


def test_users_round_trip(database_url: str, tmp_path: Path) -> None:
    async def scenario(store: SqlStore) -> None:
        assert await store.list_users() == []
        await store.add_user("bob", "trader", HASH)
        await store.add_user("alice", "admin", HASH + "x", disabled=True)
        [alice, bob] = await store.list_users()  # by name
        assert (alice.name, alice.role, alice.disabled) == ("alice", "admin", True)
        assert (bob.name, bob.role, bob.disabled, bob.password_hash) == (
            "bob",
            "trader",
            False,
            HASH,
        )
        assert bob.created_at.tzinfo is not None
        assert HASH not in repr(bob)  # a hash that reaches a log by accident is not shown
        assert await store.get_user("bob") == bob
        assert await store.get_user("Bob") is None  # names are case-sensitive

        await store.set_password("bob", "new-hash")
        await store.set_role("bob", "viewer")
        await store.set_disabled("alice", False)
        bob2 = await store.get_user("bob")
        assert bob2 is not None and (bob2.role, bob2.password_hash) == ("viewer", "new-hash")
        alice2 = await store.get_user("alice")
        assert alice2 is not None and not alice2.disabled

        await store.remove_user("alice")
        assert [u.name for u in await store.list_users()] == ["bob"]

    on_store(database_url, tmp_path, scenario)


def test_users_refuse_what_they_cannot_be(database_url: str, tmp_path: Path) -> None:
    async def scenario(store: SqlStore) -> None:
        await store.add_user("alice", "admin", HASH)
        with pytest.raises(UserExists, match="already a user 'alice'"):
            await store.add_user("alice", "viewer", HASH)
        with pytest.raises(UserExists, match="differing from 'ALICE' in case"):
            await store.add_user("ALICE", "viewer", HASH)
        with pytest.raises(InvalidUser, match="unknown role 'root'"):
            await store.add_user("carol", "root", HASH)
        for bad in ("", "has space", "-dash", "x" * 65, "名字"):
            with pytest.raises(InvalidUser):
                await store.add_user(bad, "viewer", HASH)
        with pytest.raises(InvalidUser, match="unknown role"):
            await store.set_role("alice", "superuser")
        for change in (
            store.remove_user("zed"),
            store.set_password("zed", HASH),
            store.set_role("zed", "viewer"),
            store.set_disabled("zed", True),
        ):
            with pytest.raises(UnknownUser, match="no user 'zed'"):
                await change
        assert [u.name for u in await store.list_users()] == ["alice"]

    on_store(database_url, tmp_path, scenario)


def test_trader_ownership(database_url: str, tmp_path: Path) -> None:
    async def scenario(store: SqlStore) -> None:
        await two_traders(store)
        await store.add_user("bob", "trader", HASH)
        await store.add_user("carol", "trader", HASH)
        assert await store.trader_owner("t1") is None
        assert await store.trader_names() == {"t1": "Alpha", "t2": "Beta"}

        await store.set_trader_owner("t1", "bob")
        await store.set_trader_owner("t2", "bob")
        assert await store.trader_owner("t1") == "bob"
        assert await store.traders_owned("bob") == ["t1", "t2"]
        await store.set_trader_owner("t2", "carol")  # one owner: t2 leaves bob
        assert await store.traders_owned("bob") == ["t1"]
        assert await store.traders_owned("carol") == ["t2"]

        # The engine rewrites a trader row from its config, which knows nothing of owners.
        await store.save_trader(TraderConfig("t1", "Alpha renamed", TraderKind.DISCRETIONARY))
        assert await store.trader_owner("t1") == "bob"

        with pytest.raises(UnknownTrader, match="no trader with id 'nope'"):
            await store.set_trader_owner("nope", "bob")
        with pytest.raises(UnknownUser, match="no user 'zed'"):
            await store.set_trader_owner("t1", "zed")
        assert await store.trader_owner("t1") == "bob"

        await store.set_trader_owner("t1", None)
        assert await store.trader_owner("t1") is None
        await store.set_trader_owner("t1", None)  # already none: nothing to do

        await store.remove_user("carol")  # its trader is left without an owner
        assert await store.trader_owner("t2") is None
        assert await store.traders_owned("carol") == []

    on_store(database_url, tmp_path, scenario)


def test_the_database_keeps_the_rules_itself(database_url: str, tmp_path: Path) -> None:
    """Roles outside the three, an owner that is no user, and a removed user's traders are
    the database's business too, not only the store's."""

    async def scenario(store: SqlStore) -> None:
        await two_traders(store)
        await store.add_user("bob", "trader", HASH)
        await store.set_trader_owner("t1", "bob")
        now = {"now": datetime(2025, 1, 1, tzinfo=UTC)}
        with pytest.raises(IntegrityError):
            async with store.engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO users (id, name, role, password_hash, disabled, created_at, "
                        "updated_at) VALUES ('u9', 'eve', 'root', 'h', false, :now, :now)"
                    ),
                    now,
                )
        with pytest.raises(IntegrityError):
            async with store.engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO trader_owners (id, trader_id, owner, created_at, updated_at)"
                        " VALUES ('t2', 't2', 'nobody', :now, :now)"
                    ),
                    now,
                )
        async with store.engine.begin() as conn:
            await conn.execute(text("DELETE FROM users WHERE name = 'bob'"))
        assert await store.trader_owner("t1") is None  # ON DELETE CASCADE

    on_store(database_url, tmp_path, scenario)


def test_migration_0004_applies_over_existing_data_and_goes_back(
    database_url: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        engine = create_engine(resolve(database_url, tmp_path))
        assert await upgrade(engine, "0003") == "0003"
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO traders (id, name, kind, running, base_currency, settings, "
                    "risk_limits, created_at, updated_at) VALUES ('t1', 'Alpha', 'ai', false, "
                    "'CNY', '{}', '{}', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
                )
            )
        assert await upgrade(engine) == head_revision() == "0004"
        await engine.dispose()

        store = await open_store(database_url, tmp_path)
        await store.add_user("bob", "trader", HASH)
        await store.set_trader_owner("t1", "bob")
        assert await store.traders_owned("bob") == ["t1"]

        def down(conn: Connection, target: str) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, target)

        async with store.engine.begin() as conn:
            await conn.run_sync(down, "0003")
        assert await current_revision(store.engine) == "0003"
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("SELECT name FROM traders"))).scalar() == "Alpha"
        assert await upgrade(store.engine) == "0004"  # and up again, on the same data
        assert await store.list_users() == []
        await store.close()

    asyncio.run(scenario())


def test_the_migrations_build_exactly_the_models(database_url: str, tmp_path: Path) -> None:
    """What Alembic would autogenerate against a migrated database is nothing: the head is
    current, and a change to the models without a migration fails here."""

    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def scenario(store: SqlStore) -> None:
        assert await current_revision(store.engine) == head_revision()
        async with store.engine.connect() as conn:
            assert await conn.run_sync(differences) == []

    on_store(database_url, tmp_path, scenario)


def test_the_roles_are_the_servers_roles() -> None:
    from deepalpha.server.auth import Role

    assert tuple(r.value for r in Role) == USER_ROLES
