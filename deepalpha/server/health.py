"""Health probes for an orchestrator: live (the process answers), startup (the engine has
started), ready (it can do its job now).

Readiness checks the database (reachable by a trivial read within a short timeout, and its
ledger writable as far as the engine knows), the schema (at the revision this DeepAlpha ships),
the market feed (running; quotes arriving while a market trades — a closed market is not a dead
feed) and the event bus (no consumer far behind). Each check gives ``{"ok": bool, "detail":
str}``; a probe never raises: a check that errors is a failed check saying why.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from deepalpha.engine.markets.sessions import Phase

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from deepalpha.app.runtime import Runtime
    from deepalpha.server.feed_watch import FeedWatch

Check = dict[str, Any]  # {"ok": bool, "detail": str}
T = TypeVar("T")

DATABASE_TIMEOUT = 2.0  # seconds a trivial read may take before the database counts as down
MAX_QUOTE_SILENCE = 30.0  # real seconds without a quote while a market trades
MAX_BUS_DEPTH = 5_000  # events waiting for one consumer (a subscription holds 10,000)
FEED_TASK = "simulated-market"  # the runtime's task that plays the market
READY_CHECKS = ("database", "migrations", "feed", "event_bus")


def _check(ok: bool, detail: str) -> Check:
    return {"ok": ok, "detail": detail}


async def live() -> dict[str, str]:
    """The process answers: nothing else is asked (a restart would not cure a database)."""
    return {"status": "alive"}


async def startup(runtime: Runtime) -> tuple[bool, dict[str, Any]]:
    """The engine has started (recovered its state, the market playing)."""
    started = bool(runtime.started)
    detail = "the engine has started" if started else "the engine is starting"
    return started, {
        "status": "started" if started else "starting",
        "checks": {"engine": _check(started, detail)},
    }


async def ready(
    runtime: Runtime,
    *,
    feed: FeedWatch | None = None,
    database_timeout: float = DATABASE_TIMEOUT,
    max_quote_silence: float = MAX_QUOTE_SILENCE,
    max_bus_depth: int = MAX_BUS_DEPTH,
) -> tuple[bool, dict[str, Any]]:
    """Whether the engine can serve now, with every check's outcome. ``feed`` (attached to
    the runtime's bus) tells whether quotes still arrive; without it only the feed's task is
    looked at."""
    if not runtime.started:
        checks = {name: _check(False, "the engine is not running") for name in READY_CHECKS}
    else:
        secrets = _secrets(runtime)
        (database, migrations), feed_check, bus = await asyncio.gather(
            _guarded_pair(_database(runtime, database_timeout), secrets),
            _guarded(_feed(runtime, feed, max_quote_silence), secrets),
            _guarded(_bus(runtime, max_bus_depth), secrets),
        )
        checks = {
            "database": database,
            "migrations": migrations,
            "feed": feed_check,
            "event_bus": bus,
        }
    ok = all(c["ok"] for c in checks.values())
    return ok, {"status": "ready" if ok else "not ready", "checks": checks}


def _secrets(runtime: Runtime) -> list[str]:
    try:
        target = runtime.store.target
        return target.secrets if target is not None else []
    except Exception:
        return []


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _failure(exc: BaseException, secrets: list[str]) -> Check:
    message = str(exc) or type(exc).__name__
    return _check(False, _scrub(f"the check failed: {message}", secrets))


def _clean(check: Check, secrets: list[str]) -> Check:
    return _check(bool(check["ok"]), _scrub(str(check["detail"]), secrets))


async def _guarded(check: Coroutine[Any, Any, Check], secrets: list[str]) -> Check:
    try:
        return _clean(await check, secrets)
    except Exception as exc:
        return _failure(exc, secrets)


async def _guarded_pair(
    check: Coroutine[Any, Any, tuple[Check, Check]], secrets: list[str]
) -> tuple[Check, Check]:
    try:
        first, second = await check
        return _clean(first, secrets), _clean(second, secrets)
    except Exception as exc:
        failed = _failure(exc, secrets)
        return failed, failed


# --- the database and its schema ----------------------------------------------------------
class _Unreachable(Exception):
    pass


@functools.cache
def _head() -> str:
    from deepalpha.storage.migrate import head_revision  # noqa: PLC0415

    return head_revision()


def _sqlite_revision(path: Path, timeout: float) -> str | None:
    """The schema revision read through a connection of its own, read-only so that a file
    that is gone is never created afresh, with ``timeout`` as SQLite's busy timeout."""
    if not path.exists():
        raise _Unreachable(f"the database file {path} is gone")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
        try:
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise _Unreachable(f"the database {path} cannot be read: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise _Unreachable(f"the database {path} cannot be read: {exc}") from None
    return str(rows[0][0]) if rows else None


async def _within(work: Coroutine[Any, Any, T], timeout: float) -> T:
    """``work``'s result, or TimeoutError after ``timeout`` seconds: then the work is cancelled
    and left to end on its own (its clean-up may wait on the very lock that held it up; a
    probe must answer in time)."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        task.add_done_callback(_forget)
        raise TimeoutError
    return task.result()


def _forget(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # seen: no "exception was never retrieved" later


async def _server_revision(engine: AsyncEngine, timeout: float, where: str) -> str | None:
    from deepalpha.storage.migrate import current_revision  # noqa: PLC0415

    try:
        return await _within(current_revision(engine), timeout)
    except TimeoutError:
        raise _Unreachable(f"the database {where} did not answer within {timeout:g} s") from None
    except Exception as exc:
        raise _Unreachable(f"the database {where} cannot be reached: {exc}") from None


async def _database(runtime: Runtime, timeout: float) -> tuple[Check, Check]:
    store = runtime.store
    target = store.target
    where = target.display if target is not None else "?"
    try:
        if target is not None and target.path is not None:
            # SQLite's own busy timeout bounds the thread; this bounds the wait for it.
            revision = await _within(
                asyncio.to_thread(_sqlite_revision, target.path, timeout), timeout + 1
            )
        else:
            revision = await _server_revision(store.engine, timeout, where)
    except TimeoutError:
        detail = f"the database {where} did not answer within {timeout:g} s"
        return _check(False, detail), _check(False, "not checked: the database is unreachable")
    except _Unreachable as exc:
        return _check(False, str(exc)), _check(False, "not checked: the database is unreachable")
    held = runtime.broker.suspended
    suspended = [str(held[cause]) for cause in ("storage", "lease") if cause in held]
    if suspended:
        database = _check(False, f"trading is suspended: {'; '.join(suspended)}")
    else:
        database = _check(True, f"{where} answers")
    head = await asyncio.to_thread(_head)
    if revision == head:
        migrations = _check(True, f"schema at revision {head}")
    elif revision is None:
        migrations = _check(False, f"the database has no schema revision (expected {head})")
    else:
        migrations = _check(
            False,
            f"the database is at schema revision {revision}, this DeepAlpha expects {head}; "
            "restart it to migrate",
        )
    return database, migrations


# --- the feed and the bus -----------------------------------------------------------------
async def _feed(runtime: Runtime, watch: FeedWatch | None, max_silence: float) -> Check:
    market = runtime.market
    task = next((t for t in runtime.tasks if t.get_name() == FEED_TASK), None)
    if task is None:
        if runtime.options.frozen_at is not None:
            return _check(True, "the simulated market is frozen (pictures): no feed runs")
        return _check(False, "the market feed is not running")
    if task.done():
        failure = None if task.cancelled() else task.exception()
        return _check(
            False, f"the market feed stopped: {failure!r}" if failure else "the market feed stopped"
        )
    if market.paused:
        return _check(True, "the simulated market is paused")
    trading = sorted(m.value for m, p in market.phase.items() if p is Phase.CONTINUOUS)
    if not trading:
        phases = ", ".join(f"{m.value} {p.value}" for m, p in sorted(market.phase.items()))
        return _check(True, f"the feed runs; no market trades now ({phases})")
    if watch is None:
        return _check(True, f"the feed runs; {', '.join(trading)} trading")
    silence = watch.lag()
    if silence > max_silence:
        return _check(
            False,
            f"no quote for {silence:.0f} s while {', '.join(trading)} trades "
            f"(the limit is {max_silence:g} s)",
        )
    age = watch.quote_age()
    last = "no quote yet" if age is None else f"the last {age:.1f} s ago"
    return _check(True, f"quotes arriving ({', '.join(trading)} trading; {last})")


async def _bus(runtime: Runtime, max_depth: int) -> Check:
    depth = runtime.bus.deepest_queue()
    if depth > max_depth:
        return _check(False, f"a bus consumer is {depth} events behind (the limit is {max_depth})")
    return _check(True, f"the deepest consumer queue holds {depth} events")
