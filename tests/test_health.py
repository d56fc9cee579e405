"""Health probes on a real engine: started and ready when fresh (SQLite and Postgres); not
ready, saying why, when the database is gone, damaged, too slow to answer or behind the schema,
when the feed is silent while a market trades or has stopped, when a bus consumer falls behind;
a closed market is not a dead feed; a check that errors is a failed check, never an exception."""

from __future__ import annotations

import asyncio
import os
import re
import time as clock
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.engine.events import QuoteEvent
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.server.feed_watch import FeedWatch
from deepalpha.server.health import READY_CHECKS, live, ready, startup
from deepalpha.storage.migrate import head_revision, history


async def until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = clock.monotonic() + timeout
    while not condition():
        if clock.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {condition}")
        await asyncio.sleep(0.02)


def watched(
    data: Path, url: str | None = None, *, tick_interval: float = 0.05, demo: bool = True
) -> tuple[Runtime, FeedWatch]:
    rt = Runtime(
        RuntimeOptions(
            data,
            database_url=url,
            speed=60,
            tick_interval=tick_interval,
            auto_backup=False,
            demo=demo,
        )
    )
    watch = FeedWatch()
    rt.on_bus.append(watch.attach)
    return rt, watch


def checks(body: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    return {name: (c["ok"], c["detail"]) for name, c in body["checks"].items()}


def test_a_fresh_engine_is_started_and_ready(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        assert await live() == {"status": "alive"}
        rt, watch = watched(tmp_path / "data", database_url)
        started, body = await startup(rt)
        assert not started and body["status"] == "starting"
        ok, body = await ready(rt, feed=watch)
        assert not ok and body["status"] == "not ready"
        assert checks(body) == {n: (False, "the engine is not running") for n in READY_CHECKS}
        await rt.start()
        try:
            started, body = await startup(rt)
            assert started and body == {
                "status": "started",
                "checks": {"engine": {"ok": True, "detail": "the engine has started"}},
            }
            await until(lambda: watch.quote_age() is not None)
            ok, body = await ready(rt, feed=watch)
            assert ok, body
            assert body["status"] == "ready"
            seen = checks(body)
            assert set(seen) == set(READY_CHECKS)
            assert seen["database"][1].endswith("answers")
            assert seen["migrations"] == (True, f"schema at revision {head_revision()}")
            assert "quotes arriving" in seen["feed"][1]
        finally:
            await rt.stop()

    asyncio.run(go())


def test_not_ready_when_the_schema_is_behind(database_url: str, tmp_path: Path) -> None:
    head = head_revision()
    (previous,) = [r.down_revision for r in history() if r.revision == head]
    assert previous is not None

    async def go() -> None:
        rt, watch = watched(tmp_path / "data", database_url)
        await rt.start()
        try:
            async with rt.store.engine.begin() as conn:
                await conn.execute(
                    text("UPDATE alembic_version SET version_num = :v"), {"v": previous}
                )
            ok, body = await ready(rt, feed=watch)
            assert not ok
            seen = checks(body)
            assert seen["database"][0]
            assert seen["migrations"] == (
                False,
                f"the database is at schema revision {previous}, this DeepAlpha expects "
                f"{head}; restart it to migrate",
            )
        finally:
            await rt.stop()

    asyncio.run(go())


def test_not_ready_when_the_database_file_is_gone_and_none_is_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = tmp_path / "elsewhere" / "deepalpha.db"  # outside the data directory: the URL names it

    async def go() -> None:
        # Nothing writes meanwhile (no trader, the market still), so nothing but the probe
        # could open the path again.
        rt, watch = watched(data, f"sqlite+aiosqlite:///{db}", demo=False)
        await rt.start()
        try:
            await until(lambda: watch.quote_age() is not None)
            rt.pause(True)
            await rt.persist_market()
            assert (await ready(rt, feed=watch))[0]
            for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                f.unlink(missing_ok=True)
            ok, body = await ready(rt, feed=watch)
            assert not ok
            seen = checks(body)
            assert seen["database"] == (False, f"the database file {db} is gone")
            assert seen["migrations"] == (False, "not checked: the database is unreachable")
            assert seen["feed"][0] and seen["event_bus"][0]
            assert not db.exists()  # the probe did not create an empty one in its place
        finally:
            await rt.stop()

    asyncio.run(go())


def test_a_damaged_database_file_is_a_failed_check_with_its_message(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def go() -> None:
        rt, watch = watched(data, demo=False)
        await rt.start()
        try:
            rt.pause(True)  # nothing writes meanwhile
            await rt.persist_market()
            db = rt.store.target.path if rt.store.target else None
            assert db is not None and db.exists()
            junk = db.with_name("junk")
            junk.write_bytes(b"this is not a database, " * 200)
            # The engine keeps the files it opened; the path holds junk now, and no WAL.
            os.replace(junk, db)
            for f in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                f.unlink()
            ok, body = await ready(rt, feed=watch)
            assert not ok
            detail = checks(body)["database"]
            assert detail == (False, f"the database {db} cannot be read: file is not a database")
        finally:
            await rt.stop()

    asyncio.run(go())


def test_a_database_that_does_not_answer_in_time_is_not_ready(tmp_path: Path) -> None:
    """A Postgres table locked by another session: the probe answers within its timeout,
    and once the lock goes the engine is ready again."""
    from tests.db import postgres_database

    async def go(url: str) -> None:
        rt, watch = watched(tmp_path / "data", url)
        await rt.start()
        other = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            tx = other.transaction()
            await tx.start()
            await other.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            began = clock.monotonic()
            ok, body = await ready(rt, feed=watch, database_timeout=0.5)
            took = clock.monotonic() - began
            assert not ok and took < 2.0
            seen = checks(body)
            where = rt.store.target.display if rt.store.target else "?"
            assert seen["database"] == (False, f"the database {where} did not answer within 0.5 s")
            assert seen["migrations"] == (False, "not checked: the database is unreachable")
            await tx.rollback()
            ok, body = await ready(rt, feed=watch)
            assert ok, body
        finally:
            await other.close()
            await rt.stop()

    with postgres_database() as url:
        asyncio.run(go(url))


def test_a_silent_feed_while_a_market_trades_is_not_ready(tmp_path: Path) -> None:
    """The simulated market steps every 30 real seconds here: between two steps, no quote
    arrives while both markets trade (the pinned moment is a Wednesday morning)."""

    async def go() -> None:
        rt, watch = watched(tmp_path / "data", tick_interval=30)
        await rt.start()
        try:
            await until(lambda: rt.market.phase[Market.CN] is Phase.CONTINUOUS)
            await asyncio.sleep(1.0)
            ok, body = await ready(rt, feed=watch, max_quote_silence=0.5)
            assert not ok
            detail = checks(body)["feed"]
            assert not detail[0]
            assert re.fullmatch(
                r"no quote for \d+ s while CN, HK trades \(the limit is 0\.5 s\)", detail[1]
            ), detail
            # Paused on purpose, it is not a dead feed.
            rt.pause(True)
            ok, body = await ready(rt, feed=watch, max_quote_silence=0.5)
            assert ok and checks(body)["feed"] == (True, "the simulated market is paused")
            rt.pause(False)
            # A feed whose task has ended is dead, whatever the hour.
            (task,) = [t for t in rt.tasks if t.get_name() == "simulated-market"]
            task.cancel()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            ok, body = await ready(rt, feed=watch)
            assert not ok and checks(body)["feed"] == (False, "the market feed stopped")
        finally:
            await rt.stop()

    asyncio.run(go())


@pytest.mark.moment("2025-12-03 12:10")
def test_a_closed_market_is_not_a_dead_feed(tmp_path: Path) -> None:
    """At lunch nothing trades and no quote comes: the feed is alive all the same."""

    async def go() -> None:
        rt, watch = watched(tmp_path / "data", tick_interval=30)
        await rt.start()
        try:
            await asyncio.sleep(1.0)
            assert not watch.trading and watch.lag() == 0
            ok, body = await ready(rt, feed=watch, max_quote_silence=0.5)
            assert ok, body
            assert checks(body)["feed"] == (
                True,
                "the feed runs; no market trades now (CN lunch_break, HK lunch_break)",
            )
        finally:
            await rt.stop()

    asyncio.run(go())


def test_not_ready_while_a_bus_consumer_falls_behind(tmp_path: Path) -> None:
    async def go() -> None:
        rt, watch = watched(tmp_path / "data")
        await rt.start()
        try:
            stuck = rt.bus.subscribe(QuoteEvent)  # nobody reads it
            await until(lambda: len(stuck) > 20)
            ok, body = await ready(rt, feed=watch, max_bus_depth=20)
            assert not ok
            ok_bus, detail = checks(body)["event_bus"]
            assert not ok_bus and detail.startswith("a bus consumer is ")
            assert detail.endswith("events behind (the limit is 20)")
            stuck.close()
            ok, body = await ready(rt, feed=watch, max_bus_depth=20)
            assert ok, body
        finally:
            await rt.stop()

    asyncio.run(go())


def test_a_check_that_errors_is_a_failed_check_not_an_exception(tmp_path: Path) -> None:
    """An engine that says it started but has nothing assembled (no store, market, bus)."""
    rt = Runtime(RuntimeOptions(tmp_path / "data", auto_backup=False))
    rt.started = True
    ok, body = asyncio.run(ready(rt))
    assert not ok
    seen = checks(body)
    assert set(seen) == set(READY_CHECKS)
    for name in READY_CHECKS:
        passed, detail = seen[name]
        assert not passed and detail.startswith("the check failed: "), (name, detail)
        assert "has no attribute" in detail
