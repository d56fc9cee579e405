"""Local backups on real files, a real running engine, real SQLite and the local Postgres.

The round trip: an archive made while the engine writes, verified, restored into a fresh data
directory, and the app started on it holds exactly the snapshot's state. A flipped byte is
caught by verify and refused by restore; a newer schema, a running DeepAlpha and a missing
pg_dump are refused with a clear message.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import logging
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from deepalpha.app.cli import main
from deepalpha.app.runtime import YOU, Runtime, RuntimeOptions
from deepalpha.engine.orders import OrderRequest, OrderStatus, Side
from deepalpha.storage.connect import open_store
from deepalpha.storage.migrate import head_revision
from deepalpha.sync.backup import (
    PGDUMP_FILE,
    SQLITE_FILE,
    BackupError,
    clean_leftovers,
    create_backup,
    list_backups,
    made_today,
    prune_backups,
    read_manifest,
    restore_backup,
    verify_backup,
)

SECRET = "sk-test-SECRET-0123456789"
SETTINGS = f"""[storage]
keep_daily = 5

[ai]
api_key = "{SECRET}"
model = "qwen-max"
"""
SYMBOLS = ["601398.SH", "00700.HK", "000001.SZ", "09988.HK"]  # cheap enough to buy often
STATE_TABLES = ["traders", "accounts", "positions", "orders", "fills", "engine_state"]


@dataclass(frozen=True)
class Made:
    source: Path  # the data directory the engine ran on
    archive: Path
    acked_before: frozenset[str]  # order ids acknowledged before the snapshot began
    writes_during: int  # order writes in flight while the backup was being made
    live_orders_after: int  # orders in the live database once the engine stopped


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _make_while_writing(source: Path) -> Made:
    rt = Runtime(RuntimeOptions(data_dir=source, speed=3000, tick_interval=0.01, auto_backup=False))
    await rt.start()
    acked: list[tuple[float, float, str]] = []  # (submitted, acknowledged, order id)
    try:
        # Trade until "you" has fills; race through a closed market if the clock is outside hours.
        deadline = time.monotonic() + 20
        i = filled = 0
        while filled < 6 or len(acked) < 20:
            assert time.monotonic() < deadline, "no fills from the simulated market"
            t = time.monotonic()
            order = await rt.place_order(OrderRequest(YOU, SYMBOLS[i % 4], Side.BUY, 100))
            acked.append((t, time.monotonic(), order.id))
            filled += order.filled_quantity > 0
            i += 1
            await asyncio.sleep(0.02)
            if i == 40 and not filled:
                rt.market.set_speed(60000)
        rt.market.set_speed(3000)
        before = frozenset(oid for _, _, oid in acked)

        stop = asyncio.Event()

        async def keep_writing(n: int) -> None:
            while not stop.is_set():
                side = Side.SELL if n % 3 == 2 else Side.BUY
                t = time.monotonic()
                order = await rt.place_order(OrderRequest(YOU, SYMBOLS[n % 4], side, 100))
                acked.append((t, time.monotonic(), order.id))
                n += 1
                await asyncio.sleep(0.001)

        # Several at once, as a person and the strategies do: each acknowledgement waits for
        # its commit (~30 ms with fsync here), about as long as the whole snapshot takes.
        writers = [asyncio.create_task(keep_writing(n)) for n in range(4)]
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        archive = await asyncio.to_thread(create_backup, source)
        t1 = time.monotonic()
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*writers)
    finally:
        await rt.stop()
    during = sum(1 for sent, done, _ in acked if sent < t1 and done > t0)
    with sqlite3.connect(source / SQLITE_FILE) as conn:
        live = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    return Made(source, archive, before, during, live)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    """One archive made while the engine runs and writes, shared by the tests below."""
    base = tmp_path_factory.mktemp("backup-source")
    source = base / "data"
    source.mkdir()
    (source / "settings.toml").write_text(SETTINGS, "utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPALPHA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        mp.delenv("DEEPALPHA_CONFIG", raising=False)  # use the data directory's settings
        yield _run(_make_while_writing(source))


def _member(archive: Path, name: str, dest: Path) -> Path:
    with tarfile.open(archive, "r:gz") as tar:
        fh = tar.extractfile(name)
        assert fh is not None
        out = dest / name
        out.write_bytes(fh.read())
    return out


def _rows(db: Path, table: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}" ORDER BY id')]
    finally:
        conn.close()


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256 (the lock file holds a pid; skipped)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "deepalpha.lock"
    }


def _flip(src: Path, dest: Path, at: int) -> Path:
    data = bytearray(src.read_bytes())
    data[at] ^= 0xFF
    dest.write_bytes(bytes(data))
    return dest


def _rebuild(
    archive: Path, dest: Path, *, manifest: Callable[[dict[str, Any]], None] | None = None
) -> Path:
    """A copy of ``archive`` with an edited manifest (the files and checksums kept)."""
    with tarfile.open(archive, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    meta = json.loads(members[0][1])
    if manifest:
        manifest(meta)
    members[0] = (members[0][0], json.dumps(meta).encode())
    with tarfile.open(dest, "w:gz") as tar:
        for info, body in members:
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return dest


# --- the round trip -------------------------------------------------------------------------------
def test_round_trip_while_the_engine_writes(made: Made, tmp_path: Path) -> None:
    # Orders were being written while the backup was made, and kept coming after it.
    assert made.writes_during >= 1
    manifest = read_manifest(made.archive)
    assert made.live_orders_after > manifest["row_counts"]["orders"]
    assert manifest["format"] == 1
    assert manifest["database"] == "sqlite"
    assert manifest["schema_revision"] == head_revision()
    assert set(manifest["files"]) == {SQLITE_FILE, "settings.toml"}
    assert manifest["created_at"].endswith("Z")

    result = verify_backup(made.archive)
    assert result.ok, result.problems

    snap = _member(made.archive, SQLITE_FILE, tmp_path)
    # Consistent: one commit's state. Every order's filled quantity equals its fills, and
    # every order acknowledged before the snapshot began is in it.
    orders = {r["id"]: r for r in _rows(snap, "orders")}
    filled: dict[str, int] = {}
    for f in _rows(snap, "fills"):
        filled[f["order_id"]] = filled.get(f["order_id"], 0) + f["quantity"]
    assert filled, "the snapshot holds fills"
    assert set(filled) <= set(orders)
    for oid, row in orders.items():
        assert row["filled_quantity"] == filled.get(oid, 0), oid
    assert made.acked_before <= set(orders)
    assert len(orders) == manifest["row_counts"]["orders"]

    # Restore into a fresh data directory: nothing to replace, so no safety copy.
    fresh = tmp_path / "fresh"
    assert restore_backup(made.archive, fresh) is None
    restored = fresh / SQLITE_FILE
    for table in STATE_TABLES:
        assert _rows(restored, table) == _rows(snap, table), table
    settings = tomllib.loads((fresh / "settings.toml").read_text("utf-8"))
    assert settings == {"storage": {"keep_daily": 5}, "ai": {"model": "qwen-max"}}

    # The store the app opens holds the snapshot's accounts and positions, field by field.
    async def load() -> Any:
        store = await open_store(None, fresh)
        try:
            return await store.load_state()
        finally:
            await store.close()

    state = _run(load())
    with sqlite3.connect(snap) as conn:
        conn.row_factory = sqlite3.Row
        accounts = {
            (r["trader_id"], r["currency"]): r for r in conn.execute("SELECT * FROM accounts")
        }
        positions = {
            (r["trader_id"], r["symbol"]): r for r in conn.execute("SELECT * FROM positions")
        }
        open_ids = {
            r["id"]
            for r in conn.execute(
                "SELECT id FROM orders WHERE status IN (?, ?)",
                (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value),
            )
        }
    assert {(a.trader_id, a.currency) for a in state.accounts} == set(accounts)
    for a in state.accounts:
        row = accounts[(a.trader_id, a.currency)]
        assert (a.cash, a.frozen, a.deposits, a.realized_pnl, a.fees_paid) == tuple(
            Decimal(row[k]) for k in ("cash", "frozen", "deposits", "realized_pnl", "fees_paid")
        )
    assert {(p.trader_id, p.symbol) for p in state.positions} == set(positions)
    for p in state.positions:
        row = positions[(p.trader_id, p.symbol)]
        assert (p.quantity, p.sellable, p.cost_basis) == (
            row["quantity"],
            row["sellable"],
            Decimal(row["cost_basis"]),
        )
    assert {o.id for o in state.open_orders} == open_ids
    assert {t.id for t in state.traders} == {r["id"] for r in _rows(snap, "traders")}

    # And the engine starts on it: the same cash, positions and fills as at the snapshot.
    async def start() -> tuple[dict[Any, Decimal], dict[Any, int], set[str]]:
        rt = Runtime(RuntimeOptions(data_dir=fresh, speed=1, tick_interval=1.0, auto_backup=False))
        await rt.start()
        try:
            cash = {
                (tid, ccy): acct.cash
                for tid, book in rt.broker.traders.items()
                for ccy, acct in book.portfolio.accounts.items()
            }
            held = {
                (tid, sym): pos.quantity
                for tid, book in rt.broker.traders.items()
                for sym, pos in book.portfolio.positions.items()
                if pos.quantity
            }
            fills = {f.id for f in await rt.store.fills()}
        finally:
            await rt.stop()
        return cash, held, fills

    cash, held, fills = _run(start())
    assert cash == {k: Decimal(r["cash"]) for k, r in accounts.items()}
    assert held == {k: r["quantity"] for k, r in positions.items() if r["quantity"]}
    assert fills == {r["id"] for r in _rows(snap, "fills")}


def test_settings_are_archived_without_secrets(made: Made, tmp_path: Path) -> None:
    manifest = read_manifest(made.archive)
    assert manifest["settings"] == {"included": True, "redacted_keys": ["ai.api_key"]}
    raw = gzip.decompress(made.archive.read_bytes())
    assert SECRET.encode() not in raw
    assert b"qwen-max" in raw  # the rest of the section is kept

    data = tmp_path / "data"
    restore_backup(made.archive, data)
    (data / "settings.toml").write_text(
        'token = "t0p-s3cr3t-t0k3n"\n'
        "[market]\nsimulator_speed = 120.5\n"
        "[rules]\nst_ten_percent_from = 2024-01-02\n"
        '[ai.providers.qwen]\nbase_url = "http://127.0.0.1:9/v1"\nSecret_Key = "s3-s3cr3t-k3y"\n'
        'profiles = [{name = "fast", password = "p4ss-w0rd-p4ss"}, {name = "slow"}]\n',
        "utf-8",
    )
    archive = create_backup(data, label="settings")
    m = read_manifest(archive)
    assert m["settings"]["redacted_keys"] == [
        "token",
        "ai.providers.qwen.Secret_Key",
        "ai.providers.qwen.profiles[0].password",
    ]
    copy = tomllib.loads(_member(archive, "settings.toml", tmp_path).read_text("utf-8"))
    assert copy == {
        "market": {"simulator_speed": 120.5},
        "rules": {"st_ten_percent_from": date(2024, 1, 2)},
        "ai": {
            "providers": {
                "qwen": {
                    "base_url": "http://127.0.0.1:9/v1",
                    "profiles": [{"name": "fast"}, {"name": "slow"}],
                }
            }
        },
    }
    raw = gzip.decompress(archive.read_bytes())
    # Secrets long enough not to turn up by chance among the database's bytes.
    assert [s for s in (b"t0p-s3cr3t-t0k3n", b"s3-s3cr3t-k3y", b"p4ss-w0rd-p4ss") if s in raw] == []


# --- corruption, newer schemas, a running DeepAlpha -----------------------------------------------
@pytest.mark.parametrize("where", ["middle", "crc"])
def test_a_flipped_byte_is_detected_and_refused(made: Made, tmp_path: Path, where: str) -> None:
    size = made.archive.stat().st_size
    at = size // 2 if where == "middle" else size - 6  # the gzip trailer's CRC32
    bad = _flip(made.archive, tmp_path / made.archive.name, at)

    result = verify_backup(bad)
    assert not result.ok
    assert result.problems

    target = tmp_path / "target"
    target.mkdir()
    shutil.copy(made.source / SQLITE_FILE, target / SQLITE_FILE)
    (target / "settings.toml").write_text("[market]\nsimulator_seed = 3\n", "utf-8")
    before = _files(target)
    with pytest.raises(BackupError, match="damaged") as err:
        restore_backup(bad, target)
    assert str(bad) in str(err.value)
    assert "nothing was changed" in str(err.value)
    assert _files(target) == before
    assert not (target / "backups").exists()


def test_a_newer_schema_is_refused(made: Made, tmp_path: Path) -> None:
    def newer(m: dict[str, Any]) -> None:
        m["schema_revision"] = "9999"
        m["app_version"] = "9.0.0"

    archive = _rebuild(made.archive, tmp_path / "newer.tar.gz", manifest=newer)
    target = tmp_path / "target"
    with pytest.raises(BackupError, match=r"newer DeepAlpha \(schema revision 9999"):
        restore_backup(archive, target)
    assert not (target / SQLITE_FILE).exists()


def test_restore_is_refused_while_another_deepalpha_holds_the_data_dir(
    made: Made, tmp_path: Path
) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    shutil.copy(made.source / SQLITE_FILE, target / SQLITE_FILE)
    before = _files(target)
    code = (
        "import sys, time; from pathlib import Path; from deepalpha.app.lock import DataDirLock;"
        f"DataDirLock(Path({str(target)!r})).acquire(); print('locked', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BackupError, match="stop the running DeepAlpha first"):
            restore_backup(made.archive, target)
        assert _files(target) == before
    finally:
        holder.kill()
        holder.wait()
    restore_backup(made.archive, target)  # once it has stopped, the restore goes through


def test_restore_keeps_a_safety_copy_of_what_it_replaces(made: Made, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with sqlite3.connect(target / SQLITE_FILE) as conn:
        conn.execute("CREATE TABLE marker (v TEXT)")
        conn.execute("INSERT INTO marker VALUES ('the replaced database')")
    conn.close()
    (target / f"{SQLITE_FILE}-wal").write_bytes(b"a stale WAL of the old file")
    (target / "settings.toml").write_text("[market]\nsimulator_seed = 3\n", "utf-8")

    safety = restore_backup(made.archive, target)
    assert safety is not None
    assert safety.parent == target / "backups"
    assert safety.name.startswith("safety-")
    assert (safety / f"{SQLITE_FILE}-wal").read_bytes() == b"a stale WAL of the old file"
    with sqlite3.connect(safety / SQLITE_FILE) as conn:
        assert conn.execute("SELECT v FROM marker").fetchall() == [("the replaced database",)]
    conn.close()
    assert "simulator_seed = 3" in (safety / "settings.toml").read_text("utf-8")
    assert json.loads((safety / "restore.json").read_text("utf-8"))["replaced_by"] == str(
        made.archive
    )
    # The old WAL never meets the new file; the restored file is the archive's, byte for byte.
    assert not (target / f"{SQLITE_FILE}-wal").exists()
    digest = hashlib.sha256((target / SQLITE_FILE).read_bytes()).hexdigest()
    assert digest == read_manifest(made.archive)["files"][SQLITE_FILE]["sha256"]
    # Safety copies are never pruned.
    prune_backups(target, 0, 0)
    assert safety.is_dir()


# --- retention ------------------------------------------------------------------------------------
def _seed(folder: Path, archive: Path, stamps: list[str]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for stamp in stamps:
        out[stamp] = folder / f"deepalpha-backup-{stamp}.tar.gz"
        shutil.copy(archive, out[stamp])
    return out


STAMPS = [
    "20240318-180000",  # Mon, ISO week 12
    "20240318-100000",
    "20240317-090000",  # Sun, week 11
    "20240315-210000",  # Fri, week 11
    "20240315-090000",
    "20240311-090000",  # Mon, week 11
    "20240308-090000",  # week 10
    "20240301-090000-auto",  # week 9
]


@pytest.mark.parametrize(
    ("daily", "weekly", "kept"),
    [
        (3, 2, {"20240318-180000", "20240317-090000", "20240315-210000"}),
        (
            1,
            4,
            {"20240318-180000", "20240317-090000", "20240308-090000", "20240301-090000-auto"},
        ),
        (0, 0, {"20240318-180000"}),  # never the newest
        (30, 0, set(STAMPS) - {"20240318-100000", "20240315-090000"}),
    ],
)
def test_prune_keeps_the_newest_of_each_day_and_week(
    made: Made, tmp_path: Path, daily: int, weekly: int, kept: set[str]
) -> None:
    folder = tmp_path / "backups"
    files = _seed(folder, made.archive, STAMPS)
    (folder / "safety-20240101-000000").mkdir()
    (folder / "notes.txt").write_text("mine", "utf-8")

    removed = prune_backups(tmp_path, daily, weekly, include_manual=True)

    assert {p.name for p in removed} == {files[s].name for s in set(STAMPS) - kept}
    assert {p.name for p in folder.iterdir()} == {files[s].name for s in kept} | {
        "safety-20240101-000000",
        "notes.txt",
    }


def test_retention_prunes_automatic_backups_only_and_logs_each(
    made: Made, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "backups"
    autos = _seed(folder, made.archive, [f"{s}-auto" for s in STAMPS[:4]])
    mine = _seed(folder, made.archive, ["20240301-090000-before-risky-change", "20240302-090000"])
    caplog.set_level(logging.INFO, logger="deepalpha.backup")

    removed = prune_backups(tmp_path, 1, 0)

    # Of the automatic ones only the newest is kept; a person's archives all stay.
    assert sorted(removed) == sorted(autos[f"{s}-auto"] for s in STAMPS[1:4])
    assert all(p.exists() for p in mine.values())
    logged = [r.getMessage() for r in caplog.records if r.name == "deepalpha.backup"]
    assert len(logged) == 3 and all(str(p) in " ".join(logged) for p in removed)
    # Asked for, the person's archives are pruned by the same policy.
    removed = prune_backups(tmp_path, 1, 0, include_manual=True)
    assert sorted(removed) == sorted(mine.values())


def test_a_killed_backup_leaves_nothing_behind(made: Made, tmp_path: Path) -> None:
    """A ``backup create`` killed mid-way leaves its work folder (hundreds of MB): the next
    backup or start removes it, but never the folder of a backup that is still running."""
    data = tmp_path / "data"
    restore_backup(made.archive, data)
    folder = data / "backups"
    folder.mkdir(exist_ok=True)
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from deepalpha.sync.backup import _work_dir\n"
        "with _work_dir('.backup-', Path(sys.argv[1])) as w:\n"
        "    (w / 'deepalpha.db').write_bytes(b'x' * 1000)\n"
        "    print(w, flush=True)\n"
        "    time.sleep(60)\n"
    )
    running = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert running.stdout is not None and killed.stdout is not None
        alive, dead = (
            Path(running.stdout.readline().strip()),
            Path(killed.stdout.readline().strip()),
        )
        killed.kill()
        killed.wait()
        assert dead.is_dir()  # what SIGKILL leaves

        assert clean_leftovers(data) == [dead]
        assert alive.is_dir() and not dead.exists()
        new = create_backup(data)  # a backup still runs beside the other one
        assert verify_backup(new).ok and alive.is_dir()
    finally:
        running.kill()
        running.wait()
    assert clean_leftovers(data) == [alive]
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


# --- the command line -----------------------------------------------------------------------------
def test_the_backup_commands(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    restore_backup(made.archive, data)
    d = ["--data-dir", str(data)]

    assert main([*d, "backup", "create", "--label", "before upgrade"]) == 0
    out = capsys.readouterr().out
    assert "backup written" in out
    [info] = list_backups(data)
    assert info.path.name.endswith("-before-upgrade.tar.gz")
    assert info.path.name in out.replace("\n", "")

    assert main([*d, "backup", "list"]) == 0
    assert info.path.name in capsys.readouterr().out

    assert main([*d, "backup", "verify", str(info.path)]) == 0
    assert "ok" in capsys.readouterr().out
    assert main([*d, "backup", "verify", info.path.name]) == 0  # a bare name, in backups/
    capsys.readouterr()

    missing = tmp_path / "nope.tar.gz"
    assert main([*d, "backup", "verify", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("deepalpha: error: ")
    assert str(missing) in err[0]

    bad = _flip(info.path, tmp_path / "bad.tar.gz", info.size // 2)
    assert main([*d, "backup", "verify", str(bad)]) == 2
    assert "damaged" in capsys.readouterr().err
    assert main([*d, "backup", "restore", str(bad), "--yes"]) == 2
    assert "damaged" in capsys.readouterr().err

    # Not at a terminal and without --yes: refused, nothing changed.
    assert main([*d, "backup", "restore", str(info.path)]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main([*d, "backup", "restore", str(info.path), "--yes"]) == 0
    assert "what it replaced is kept in" in capsys.readouterr().out

    assert main([*d, "backup", "create", "--label", "second"]) == 0
    keep0 = ["--keep-daily", "0", "--keep-weekly", "0"]
    assert main([*d, "backup", "prune", *keep0]) == 0
    assert "0 deleted, 2 kept" in capsys.readouterr().out  # a person's archives stay
    assert main([*d, "backup", "prune", *keep0, "--include-manual"]) == 2  # not at a terminal
    assert "--yes" in capsys.readouterr().err
    assert len(list_backups(data)) == 2
    assert main([*d, "backup", "prune", *keep0, "--include-manual", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"deleted {info.path.name}" in out and "1 deleted, 1 kept" in out

    assert main(["--data-dir", str(tmp_path / "empty"), "backup", "create"]) == 2
    assert "no database" in capsys.readouterr().err


# --- the automatic daily backup -------------------------------------------------------------------
def test_auto_backup_makes_one_a_day_and_prunes(
    made: Made, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEEPALPHA_CONFIG")
    data = tmp_path / "data"
    restore_backup(made.archive, data)
    (data / "settings.toml").write_text("[storage]\nkeep_daily = 1\nkeep_weekly = 0\n", "utf-8")
    old = _seed(data / "backups", made.archive, [f"{s}-auto" for s in STAMPS[:3]])
    mine = _seed(data / "backups", made.archive, ["20240301-090000-before-risky-change"])

    async def scenario() -> tuple[Path | None, Path | None]:
        rt = Runtime(RuntimeOptions(data_dir=data, speed=1, tick_interval=1.0, auto_backup=True))
        await rt.start()
        try:
            deadline = time.monotonic() + 10
            while (first := made_today(data)) is None:
                assert time.monotonic() < deadline, "no automatic backup"
                await asyncio.sleep(0.05)
            again = await rt.backup_now()  # skips the backup, applies the retention policy
        finally:
            await rt.stop()
        return first, again

    first, again = _run(scenario())
    assert first is not None
    assert first.name.endswith("-auto.tar.gz")
    assert again is None  # the same day: skipped
    assert verify_backup(first).ok
    # Pruned with the settings' keep_daily = 1, keep_weekly = 0: only today's is left.
    assert not any(p.exists() for p in old.values())
    # A person's own archive is never pruned by the automatic policy.
    assert [i.path for i in list_backups(data)] == [first, *mine.values()]


# --- Postgres -------------------------------------------------------------------------------------
def test_postgres_backup_and_restore_round_trip(tmp_path: Path) -> None:
    from tests.db import postgres_database

    data = tmp_path / "data"
    with postgres_database() as url, postgres_database() as other:

        async def fill() -> dict[str, int]:
            rt = Runtime(
                RuntimeOptions(
                    data_dir=data,
                    database_url=url,
                    speed=3000,
                    tick_interval=0.01,
                    auto_backup=False,
                )
            )
            await rt.start()
            try:
                for i in range(12):
                    await rt.place_order(OrderRequest(YOU, SYMBOLS[i % 4], Side.BUY, 100))
                    await asyncio.sleep(0.01)
            finally:
                await rt.stop()
            store = await open_store(url, data, migrate=False)
            try:
                return await store.row_counts()
            finally:
                await store.close()

        counts = _run(fill())
        assert counts["orders"] >= 12

        archive = create_backup(data, database_url=url)
        manifest = read_manifest(archive)
        assert manifest["database"] == "postgresql"
        assert set(manifest["files"]) == {PGDUMP_FILE}
        assert manifest["row_counts"] == counts
        assert manifest["schema_revision"] == head_revision()
        with tarfile.open(archive, "r:gz") as tar:
            dump = tar.extractfile(PGDUMP_FILE)
            assert dump is not None
            assert dump.read(5) == b"PGDMP"  # pg_dump's custom format
        assert verify_backup(archive).ok

        # A SQLite target cannot take a Postgres archive.
        with pytest.raises(BackupError, match="holds a postgresql database"):
            restore_backup(archive, tmp_path / "sqlite-target")

        safety = restore_backup(archive, tmp_path / "restored", database_url=other)
        assert safety is not None
        assert (safety / PGDUMP_FILE).is_file()

        async def restored() -> tuple[dict[str, int], int]:
            store = await open_store(other, tmp_path / "restored", migrate=False)
            try:
                return await store.row_counts(), len(await store.fills())
            finally:
                await store.close()

        got, fills = _run(restored())
        assert got == counts
        assert fills == counts["fills"]


def test_postgres_errors_name_the_problem_and_never_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+asyncpg://trader:hunter2-secret@127.0.0.1:1/deepalpha"
    with pytest.raises(BackupError) as err:
        create_backup(tmp_path, database_url=url)
    assert "hunter2" not in str(err.value)
    assert "127.0.0.1" in str(err.value)

    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without the PostgreSQL client
    with pytest.raises(BackupError, match="pg_dump is not installed: install the PostgreSQL"):
        create_backup(tmp_path, database_url=url)
