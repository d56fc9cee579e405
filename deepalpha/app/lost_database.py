"""A data directory that was in use but whose SQLite database is empty, schema-less or gone is
not a first run.

A truncated file (``truncate -s 0``) or a database whose WAL was deleted used to start as a
first run: the schema was made afresh and demo traders created over the lost ledger, without a
word. Before the store opens (which would create the schema), the start-up asks here, and is
refused with the newest backup to restore when the directory shows it was used: archives in
``backups/``, a ``settings.toml``, or the marker a first run leaves.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

from deepalpha.app import paths
from deepalpha.storage.errors import DatabaseError
from deepalpha.storage.peek import SQLITE_HEADER

MARKER = ".database-created"  # JSON: which database file a first run created here, and when
# Below this much free space a start would only fail at its first write, deep in the session.
MIN_FREE_BYTES = 4 * 1024 * 1024


def check_not_lost(database: Path | None, data_dir: Path) -> None:
    """Raise :class:`DatabaseError` when ``database`` (a SQLite file; None for a server) looks
    lost in a data directory that was in use; return quietly for a real first run."""
    if database is None:
        return
    state = _state(database)
    if state is None:
        return
    marked = _marked(data_dir, database)
    if state == "is missing" and marked is None:
        return  # nothing says a database was ever here: a first run
    evidence = _evidence(data_dir, marked)
    if not evidence:
        return
    from deepalpha.sync.backup import archive_paths  # noqa: PLC0415 - only on this rare path

    found = archive_paths(data_dir)
    if found:
        when, newest = found[0]
        remedy = (
            f"restore the newest backup ({when:%Y-%m-%d %H:%M} UTC) with "
            f"'deepalpha backup restore {newest} --data-dir {data_dir}'"
        )
    else:
        remedy = "restore a backup with 'deepalpha backup restore ARCHIVE'"
    afresh = [str(database)] if database.exists() else []
    if marked is not None:
        afresh.append(str(data_dir / MARKER))
    raise DatabaseError(
        f"the database {database} {state}, but this data directory was in use "
        f"({'; '.join(evidence)}); DeepAlpha will not start over it as a first run. To get "
        f"your data back, {remedy}"
        + (f"; to start afresh instead, delete {' and '.join(afresh)}" if afresh else "")
    )


def check_room(database: Path | None) -> None:
    """Refuse to start on a (nearly) full disk: say it now, in one line, not at the first
    order that cannot be written."""
    if database is None:
        return
    folder = database.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # the store's own opening says what is wrong with the folder
    if free < MIN_FREE_BYTES:
        raise DatabaseError(
            f"the disk holding {database} is full ({free // 1024:,} KiB free); free some space "
            "and start again — what was already written is safe"
        )


def mark_created(database: Path | None, data_dir: Path) -> None:
    """Note that ``database`` holds this directory's data (idempotent; SQLite only)."""
    if database is None or _marked(data_dir, database) is not None:
        return
    since = datetime.now().astimezone().isoformat(timespec="seconds")
    body = {"database": str(database.resolve()), "since": since}
    # A read-only directory fails louder elsewhere; the marker is only a safeguard.
    with contextlib.suppress(OSError):
        (data_dir / MARKER).write_text(json.dumps(body) + "\n", "utf-8")


def _state(database: Path) -> str | None:
    """How the file looks lost ("is empty (0 bytes)", …), or None when it is not."""
    try:
        if not database.exists():
            return "is missing"
        if database.stat().st_size == 0:
            return "is empty (0 bytes)"
        with database.open("rb") as fh:
            if fh.read(16) != SQLITE_HEADER:
                return None  # not SQLite at all: the store names the damage
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
        try:
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
            count = tables.fetchone()[0]
        finally:
            conn.close()
    except (OSError, sqlite3.Error):
        return None  # the store opens it and explains
    return "has no tables" if count == 0 else None


def _marked(data_dir: Path, database: Path) -> dict[str, str] | None:
    try:
        body = json.loads((data_dir / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("database") != str(database.resolve()):
        return None
    return body


def _evidence(data_dir: Path, marked: dict[str, str] | None) -> list[str]:
    out = []
    backups = paths.backup_dir(data_dir)
    archives = len(list(backups.glob("deepalpha-backup-*.tar.gz"))) if backups.is_dir() else 0
    if archives:
        out.append(f"{archives} backup{'s' if archives != 1 else ''} in {backups}")
    if (data_dir / paths.SETTINGS_FILE).is_file():
        out.append(f"its {paths.SETTINGS_FILE}")
    if marked is not None:
        out.append(f"a database created there since {marked.get('since', '?')}")
    return out
