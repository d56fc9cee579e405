"""One engine per database: two engines that name different data directories but the same
database (a SQLite file or a Postgres database) — the second is refused, naming the holder."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.storage.errors import EngineBusy
from deepalpha.sync.backup import BackupError, create_backup, restore_backup

ROOT = Path(__file__).resolve().parents[1]


def options(data: Path, url: str) -> RuntimeOptions:
    return RuntimeOptions(data, database_url=url, speed=60, tick_interval=0.05, auto_backup=False)


def test_a_second_engine_on_the_same_database_is_refused(database_url: str, tmp_path: Path) -> None:
    async def go() -> str:
        first = Runtime(options(tmp_path / "a", database_url))
        await first.start()
        try:
            second = Runtime(options(tmp_path / "b", database_url))
            with pytest.raises(EngineBusy) as caught:
                await second.start()
            assert not second.started
            # The first engine trades on, alone.
            assert first.started and first.traders
        finally:
            await first.stop()
        # Once it stopped, the database is free for the other.
        third = Runtime(options(tmp_path / "b", database_url))
        await third.start()
        await third.stop()
        return str(caught.value)

    message = asyncio.run(go())
    assert socket.gethostname() in message
    assert f"pid {os.getpid()}" in message
    assert "since" in message and "another DeepAlpha" in message


def test_a_restore_waits_for_the_engine_on_the_database_to_stop(
    database_url: str, tmp_path: Path
) -> None:
    async def first_run() -> None:
        rt = Runtime(options(tmp_path / "a", database_url))
        await rt.start()
        await rt.stop()

    asyncio.run(first_run())
    archive = create_backup(tmp_path / "a", database_url)

    async def restore_under_an_engine() -> None:
        rt = Runtime(options(tmp_path / "a", database_url))
        await rt.start()
        try:
            with pytest.raises(BackupError, match="stop the running DeepAlpha first"):
                # From another data directory: the database is what is held.
                await asyncio.to_thread(
                    restore_backup, archive, tmp_path / "b", database_url=database_url
                )
        finally:
            await rt.stop()

    asyncio.run(restore_under_an_engine())
    restore_backup(archive, tmp_path / "b", database_url=database_url)


def test_a_second_serve_process_says_who_holds_the_database(tmp_path: Path) -> None:
    db = tmp_path / "shared" / "ledger.db"
    url = f"sqlite+aiosqlite:///{db}"
    env = {k: v for k, v in os.environ.items() if k != "DEEPALPHA_DATABASE_URL"}

    def serve(data: str) -> list[str]:
        return [sys.executable, "-m", "deepalpha", "serve", "--data-dir", str(tmp_path / data),
                "--database-url", url, "--start", "2025-12-04 10:00"]  # fmt: skip

    first = subprocess.Popen(
        serve("a"), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(60, first.kill)
    watchdog.start()
    try:
        assert first.stderr is not None
        for line in first.stderr:
            if json.loads(line)["message"].startswith("engine ready"):
                break
        second = subprocess.run(
            serve("b"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        watchdog.cancel()
        first.terminate()
        first.wait(30)
    assert second.returncode == 2
    [error] = [x for x in second.stderr.splitlines() if x.startswith("deepalpha: error:")]
    assert f"pid {first.pid} on {socket.gethostname()}, since " in error
    assert f"the database {db}" in error
    assert "Traceback" not in second.stderr
    assert first.returncode == 0
