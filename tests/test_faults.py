"""Faults on real filesystems: a disk that fills up, a directory that is read-only.

A small tmpfs is mounted under the test's tmp directory (this needs root or CAP_SYS_ADMIN; the
tests skip, saying so, where mounting is not allowed) and always unmounted afterwards.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import subprocess
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import AccountState, NotificationEvent, OrderEvent
from deepalpha.engine.orders import Order, OrderStatus, OrderType, RejectCode, Side
from deepalpha.engine.persistence import EventWriter, PersistenceError
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.storage.connect import open_store
from deepalpha.storage.database import DatabaseError
from deepalpha.storage.repository import SqlStore

T = TypeVar("T")
T0 = datetime(2025, 6, 5, 2, 0, tzinfo=UTC)
DAY = date(2025, 6, 5)
REASON = "a long reason, so that the disk fills up quickly " * 20


@dataclass
class Mount:
    path: Path

    def remount(self, options: str) -> None:
        subprocess.run(
            ["mount", "-o", f"remount,{options}", str(self.path)], check=True, capture_output=True
        )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Mount]:
    """A 1 MiB tmpfs: room for an empty database and its log, and little more."""
    path = tmp_path / "disk"
    path.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        why = getattr(exc, "stderr", None) or str(exc)
        pytest.skip(f"cannot mount a tmpfs here ({why.strip()}); these tests need root")
    try:
        yield Mount(path)
    finally:
        result = subprocess.run(["umount", str(path)], check=False, capture_output=True)
        if result.returncode != 0:  # something still holds a file open: detach it anyway
            subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def order(n: int) -> Order:
    return Order(
        f"o{n:06d}",
        "t1",
        "600036.SH",
        Side.BUY,
        OrderType.LIMIT,
        100,
        Decimal("35.00"),
        T0 + timedelta(milliseconds=n),
        DAY,
        status=OrderStatus.REJECTED,
        reject_code=RejectCode.INSUFFICIENT_CASH,
        reject_reason=f"{n}: {REASON}",
        updated_at=T0,
    )


async def new_store(path: Path) -> SqlStore:
    store = await open_store(None, path)
    await store.save_trader(TraderConfig("t1", "Tester", TraderKind.DISCRETIONARY))
    zero, cash = Decimal(0), Decimal(1_000_000)
    await store.save_account(AccountState("t1", "CNY", cash, zero, cash, zero, zero))
    return store


def stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in conn.execute("SELECT id FROM orders")}


def test_a_full_disk_is_explained_and_loses_nothing_written(small_disk: Mount) -> None:
    db = small_disk.path / "deepalpha.db"

    async def fill_up() -> tuple[set[str], DatabaseError]:
        store = await new_store(small_disk.path)
        written: set[str] = set()
        n = 0
        try:
            for _ in range(1000):
                batch = [OrderEvent(order(n + i)) for i in range(20)]
                try:
                    await store.write_events(batch)
                except DatabaseError as exc:
                    return written, exc
                written |= {e.order.id for e in batch}
                n += 20
            raise AssertionError("the disk never filled up")
        finally:
            await store.close()

    written, error = run(fill_up())
    assert len(written) >= 20
    message = str(error)
    assert str(db) in message and "disk" in message and "full" in message
    assert "INSERT" not in message  # no SQL or parameters in what a person reads
    # Everything committed before is there, readable in place on the full disk …
    assert stored_ids(db) == written
    # … and after making room the same store works on.
    small_disk.remount("size=8m")

    async def carry_on() -> None:
        store = await open_store(None, small_disk.path)
        await store.write_events([OrderEvent(order(999_999))])
        await store.close()

    run(carry_on())
    assert stored_ids(db) == written | {order(999_999).id}


def test_the_writer_keeps_its_batch_and_says_why_while_the_disk_is_full(
    small_disk: Mount,
) -> None:
    db = small_disk.path / "deepalpha.db"

    async def scenario() -> None:
        store = await new_store(small_disk.path)
        bus = EventBus()
        notes: list[NotificationEvent] = []
        bus.on(NotificationEvent, notes.append)
        writer = EventWriter(bus, store, interval=0.001, retry_interval=0.05)
        writer.start()
        published: list[str] = []
        n = 0
        while not notes:  # publish until a commit fails
            for _ in range(20):
                o = order(n)
                bus.publish(OrderEvent(o))
                published.append(o.id)
                n += 1
            try:
                await writer.flush(timeout=2)
            except PersistenceError as exc:
                assert "full" in str(exc) and str(db) in str(exc)
                break
        assert writer.pending > 0 and writer._task is not None and not writer._task.done()
        [note] = notes  # said once, not once per retry
        assert note.severity == "error"
        assert str(db) in note.message and "full" in note.message
        with pytest.raises(PersistenceError):
            await writer.flush(timeout=0.3)  # still full: not acknowledged
        assert len(notes) == 1

        small_disk.remount("size=8m")  # room again: the kept batch goes in
        await writer.flush(timeout=10)
        assert writer.pending == 0 and writer.last_error is None
        await writer.stop()
        await store.close()
        assert stored_ids(db) == set(published)

    run(scenario())


def test_a_read_only_directory_is_explained_and_the_database_untouched(
    small_disk: Mount,
) -> None:
    db = small_disk.path / "deepalpha.db"

    async def make() -> None:
        store = await new_store(small_disk.path)
        await store.write_events([OrderEvent(order(1))])
        await store.close()

    run(make())
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    small_disk.remount("ro")
    try:
        with pytest.raises(DatabaseError) as err:
            run(open_store(None, small_disk.path))
        assert str(small_disk.path) in str(err.value) and "read-only" in str(err.value)

        # The app says the same, before it touches anything (its lock file included).
        with pytest.raises(DatabaseError) as err:
            run(Runtime(RuntimeOptions(small_disk.path, auto_backup=False)).start())
        assert str(small_disk.path) in str(err.value) and "read-only" in str(err.value)
    finally:
        small_disk.remount("rw")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert stored_ids(db) == {order(1).id}
