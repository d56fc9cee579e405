"""An emptied, schema-less or vanished SQLite database in a data directory that was in use is
refused, naming the newest backup — never started over as a first run with demo traders."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from deepalpha.app.lost_database import MARKER
from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.storage.errors import DatabaseError
from deepalpha.sync.backup import archive_paths, create_backup, restore_backup

ROOT = Path(__file__).resolve().parents[1]


def options(data: Path) -> RuntimeOptions:
    return RuntimeOptions(data, speed=60, tick_interval=0.05, auto_backup=False)


def start_and_stop(data: Path) -> None:
    async def go() -> None:
        rt = Runtime(options(data))
        await rt.start()
        await rt.stop()

    asyncio.run(go())


def refused(data: Path) -> str:
    async def go() -> None:
        rt = Runtime(options(data))
        try:
            await rt.start()
        finally:
            await rt.stop()

    with pytest.raises(DatabaseError) as caught:
        asyncio.run(go())
    return str(caught.value)


def traders(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM traders")}


@pytest.fixture
def used(tmp_path: Path) -> Path:
    """A data directory after a first run and a backup."""
    data = tmp_path / "data"
    start_and_stop(data)
    assert (data / MARKER).is_file()
    create_backup(data)
    return data


def test_a_truncated_database_is_refused_and_left_as_it_is(used: Path) -> None:
    db = used / "deepalpha.db"
    os.truncate(db, 0)
    message = refused(used)
    [(_, newest)] = archive_paths(used)
    assert f"the database {db} is empty (0 bytes)" in message
    assert "1 backup in" in message and f"deepalpha backup restore {newest}" in message
    assert db.stat().st_size == 0  # no schema made, no demo traders created over it
    # What it offers works: the restore brings the traders back and the engine starts.
    restore_backup(newest, used)
    start_and_stop(used)
    assert traders(db) == {"you", "sma-bot", "ai-demo"}


def test_a_database_without_tables_is_refused(used: Path) -> None:
    """What is left when the WAL that held everything was deleted."""
    db = used / "deepalpha.db"
    db.unlink()
    for extra in ("-wal", "-shm"):
        db.with_name(db.name + extra).unlink(missing_ok=True)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 1")  # a valid, table-less SQLite file
    message = refused(used)
    assert "has no tables" in message and "will not start over it as a first run" in message


def test_a_vanished_database_is_refused_where_one_was_created(used: Path) -> None:
    db = used / "deepalpha.db"
    db.unlink()
    message = refused(used)
    assert "is missing" in message and str(used / MARKER) in message
    assert not db.exists()


def test_settings_alone_mark_an_empty_file_as_used(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.toml").write_text("[ui]\nlanguage = 'en'\n", "utf-8")
    (data / "deepalpha.db").touch()
    assert "its settings.toml" in refused(data)
    assert "no backup" not in refused(data)


def test_a_fresh_directory_or_a_new_database_file_is_a_first_run(tmp_path: Path) -> None:
    start_and_stop(tmp_path / "fresh")  # nothing there at all
    assert traders(tmp_path / "fresh" / "deepalpha.db") == {"you", "sma-bot", "ai-demo"}
    # Settings written first, no database yet: still a first run.
    data = tmp_path / "configured"
    data.mkdir()
    (data / "settings.toml").write_text("[ui]\nlanguage = 'zh'\n", "utf-8")
    start_and_stop(data)
    assert traders(data / "deepalpha.db") == {"you", "sma-bot", "ai-demo"}


def test_the_process_says_it_in_one_line(used: Path) -> None:
    os.truncate(used / "deepalpha.db", 0)
    env = {k: v for k, v in os.environ.items() if k != "DEEPALPHA_DATABASE_URL"}
    proc = subprocess.run(
        [sys.executable, "-m", "deepalpha", "serve", "--data-dir", str(used)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("deepalpha: error:")]
    assert len(errors) == 1 and "is empty (0 bytes)" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert (used / "deepalpha.db").stat().st_size == 0


def test_the_workstation_closes_with_the_reason_instead_of_a_traceback(used: Path) -> None:
    from deepalpha.app.tui import make_app
    from tests.tui_support import backend_for

    os.truncate(used / "deepalpha.db", 0)

    async def go() -> tuple[object, int | None]:
        app = make_app(backend_for(used), start_screen="market")
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(200):  # the engine starts behind the first frame, then fails
                if app.start_error is not None:
                    break
                await pilot.pause(0.05)
        return app.start_error, app.return_code

    error, code = asyncio.run(go())
    assert isinstance(error, DatabaseError) and "is empty (0 bytes)" in str(error)
    assert code == 2
    assert (used / "deepalpha.db").stat().st_size == 0
