"""What the first frame needs from the local SQLite database, read before SQLAlchemy is imported.

Importing SQLAlchemy and Alembic costs most of a second; the workstation must show prices sooner.
The first frame needs only the user's preferences (language, theme, screen, watchlist) and the
simulated market's saved state, so those few rows are read here with the standard library's
``sqlite3``. The full store opens afterwards, checks and migrates the schema as always, and the
runtime compares what it loads with what was read here.

Anything unexpected (another schema revision, a damaged file, a table missing) makes :func:`peek`
answer ``None`` and the caller takes the slow path, where the real store explains the problem.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

# The Alembic head this reader knows the tables of (a test keeps it equal to the migrations').
SCHEMA_HEAD = "0004"
DB_FILENAME = "deepalpha.db"
MARKET_STATE = "simulator"  # engine_state row of the simulated market's snapshot
SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class Peek:
    """The stored facts the first frame depends on; empty for a database not yet created."""

    preferences: dict[str, Any] = field(default_factory=dict)
    market: dict[str, Any] | None = None  # the simulator's snapshot
    last_days: dict[str, date] = field(default_factory=dict)  # market code → last day opened


def local_database(url: str | None, data_dir: Path) -> Path | None:
    """The SQLite file the store will open when no URL is given (``storage.database.resolve``'s
    default); ``None`` when a URL is, so that only the plain local file is ever peeked at."""
    if url or os.environ.get("DEEPALPHA_DATABASE_URL"):
        return None
    return data_dir / DB_FILENAME


def peek(path: Path) -> Peek | None:
    """Read preferences and the market's snapshot; ``Peek()`` when there is no database yet,
    ``None`` when it cannot be read with confidence."""
    try:
        if not path.exists() or path.stat().st_size == 0:
            return Peek()
        with path.open("rb") as fh:
            if fh.read(16) != SQLITE_HEADER:
                return None
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except (OSError, sqlite3.Error):
        return None
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if row is None or row[0] != SCHEMA_HEAD:
            return None
        preferences = {
            key: None if value is None else json.loads(value)
            for key, value in conn.execute("SELECT key, value FROM ui_preferences")
        }
        market: dict[str, Any] | None = None
        last_days: dict[str, date] = {}
        for key, value in conn.execute(
            "SELECT id, value FROM engine_state WHERE id = ? OR id LIKE 'last_day:%'",
            (MARKET_STATE,),
        ):
            if key == MARKET_STATE:
                market = json.loads(value)
            else:
                last_days[key.split(":", 1)[1]] = date.fromisoformat(value)
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        conn.close()
    return Peek(preferences, market, last_days)
