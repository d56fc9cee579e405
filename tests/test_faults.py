"""Faults on real filesystems: a disk that fills up, a directory that is read-only.

A small tmpfs is mounted under the test's tmp directory (this needs root or CAP_SYS_ADMIN; the
tests skip, saying so, where mounting is not allowed) and always unmounted afterwards.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import (
    AccountState,
    FillEvent,
    NotificationEvent,
    OrderEvent,
    StorageEvent,
)
from deepalpha.engine.orders import Order, OrderRequest, OrderStatus, OrderType, RejectCode, Side
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
        # A new data directory under the read-only mount: one line, not a traceback.
        fresh = small_disk.path / "new" / "data"
        with pytest.raises(DatabaseError) as err:
            run(Runtime(RuntimeOptions(fresh, auto_backup=False)).start())
        assert str(err.value) == (
            f"cannot create the data directory {fresh}: Read-only file system; "
            "choose another with --data-dir"
        )
    finally:
        small_disk.remount("rw")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert stored_ids(db) == {order(1).id}


def _fill_disk(folder: Path) -> Path:
    """Write zeros until the filesystem is full; the file is the space to give back."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_a_full_disk_stops_trading_until_it_can_write_again(small_disk: Mount) -> None:
    """On a full disk the engine used to log 'could not save' and match on (243 orders and
    238 fills that never reached the database). Now nothing is accepted or filled that cannot
    be written, the reason is said, and trading resumes by itself when there is room."""
    small_disk.remount("size=16m")
    data = small_disk.path / "data"
    start = datetime(2025, 12, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

    async def scenario() -> None:
        rt = Runtime(
            RuntimeOptions(data, speed=600, tick_interval=0.05, auto_backup=False, start_at=start)
        )
        await rt.start()
        fills: list[str] = []
        storage: list[StorageEvent] = []
        rt.bus.on(FillEvent, lambda e: fills.append(e.fill.id))
        rt.bus.on(StorageEvent, storage.append)
        try:
            await _until(lambda: len(fills) >= 3, "the demo traders never traded")
            filler = _fill_disk(small_disk.path)
            await _until(lambda: rt.broker.suspended, "a full disk did not stop trading")
            assert storage and not storage[-1].ok and "full" in storage[-1].message
            # New orders are refused with the reason; resting ones are not matched.
            order = rt.broker.submit(OrderRequest("you", "600519.SH", Side.BUY, 100))
            assert order.reject_code is RejectCode.STORAGE_UNAVAILABLE
            assert "until the database can be written" in (order.reject_reason or "")
            assert "full" in (order.reject_reason or "")
            seen = len(fills)
            await asyncio.sleep(1.5)  # simulated minutes pass: the traders would have traded
            assert len(fills) == seen, "filled while nothing could be written"

            filler.unlink()  # room again: the writer's retry goes through, trading resumes
            await _until(lambda: not rt.broker.suspended, "trading did not resume")
            assert storage[-1].ok
            await _until(lambda: len(fills) > seen, "no trading after the disk had room")
            placed = await rt.place_order(OrderRequest("you", "00700.HK", Side.BUY, 100))
            assert placed.reject_code is None
        finally:
            await rt.stop()
        assert rt.unsaved == 0
        with sqlite3.connect(data / "deepalpha.db") as conn:
            stored = {r[0] for r in conn.execute("SELECT id FROM fills")}
        assert set(fills) <= stored  # every fill that happened is in the ledger

    run(scenario())


def test_an_exit_with_unsaved_changes_says_so_and_is_not_zero(small_disk: Mount) -> None:
    small_disk.remount("size=16m")
    data = small_disk.path / "data"
    env = {k: v for k, v in os.environ.items() if k != "DEEPALPHA_DATABASE_URL"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deepalpha",
            "serve",
            "--data-dir",
            str(data),
            "--speed",
            "600",
            "--start",
            "2025-12-04 10:00",
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "fill " in line:  # trading: now the disk fills
                break
        _fill_disk(small_disk.path)
        for line in proc.stderr:
            lines.append(line)
            if "trading suspended" in line:
                break
        proc.send_signal(signal.SIGTERM)
        lines += list(proc.stderr)
        code = proc.wait(60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(lines)
    assert code == 3, text[-3000:]
    assert "changes unsaved" in text and "everything persisted" not in text
    assert "Traceback" not in text

    # A restart on the full disk says so in one line.
    again = subprocess.run(
        [sys.executable, "-m", "deepalpha", "serve", "--data-dir", str(data)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 2, again.stderr[-3000:]
    [error] = [x for x in again.stderr.splitlines() if x.startswith("deepalpha: error:")]
    assert "full" in error and "Traceback" not in again.stderr


async def _until(condition: Any, why: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, why
        await asyncio.sleep(0.05)
