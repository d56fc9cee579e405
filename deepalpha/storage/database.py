"""Opening the database: SQLite (aiosqlite) by default, Postgres (asyncpg) by URL.

SQLite runs with WAL, foreign keys, a busy timeout and ``synchronous=FULL`` so a committed
transaction survives a crash or a power cut. Every failure to open says which path or URL
(without its password) and what to do.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from deepalpha.storage.errors import DatabaseError
from deepalpha.storage.peek import DB_FILENAME

BUSY_TIMEOUT_MS = 5000
# Query parameters that carry a credential (libpq and asyncpg accept ?password=…).
SECRET_QUERY_WORDS = ("password", "passwd", "pass", "secret", "token", "key")
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    url: URL
    path: Path | None  # the SQLite file, None for Postgres

    @property
    def is_sqlite(self) -> bool:
        return self.path is not None

    @property
    def display(self) -> str:
        """The URL with its password hidden, for messages and logs."""
        if self.path is not None:
            return str(self.path)
        return hide_secrets(self.url)

    @property
    def secrets(self) -> list[str]:
        """Every credential the URL carries, to strip from a driver's message."""
        found = [str(self.url.password)] if self.url.password else []
        for name, value in self.url.query.items():
            if _is_secret(name):
                found += [value] if isinstance(value, str) else list(value)
        return [s for s in found if s]


def _is_secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_QUERY_WORDS)


def hide_secrets(url: URL) -> str:
    """The URL for messages and logs: the password and any credential in the query as ***."""
    text = url.render_as_string(hide_password=True)
    return _SECRET_PARAM.sub(r"\1***", text)


_SECRET_PARAM = re.compile(
    r"([?&][^=&]*(?:" + "|".join(SECRET_QUERY_WORDS) + r")[^=&]*=)[^&]*", re.IGNORECASE
)


def resolve(url: str | None, data_dir: Path) -> DatabaseTarget:
    """The database to open: an explicit URL, ``DEEPALPHA_DATABASE_URL``, else SQLite in the
    data directory."""
    url = url or os.environ.get("DEEPALPHA_DATABASE_URL") or None
    if url is None:
        path = data_dir / DB_FILENAME
        return DatabaseTarget(make_url(f"sqlite+aiosqlite:///{path}"), path)
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Never echo the text back: it may hold a password.
        raise DatabaseError(
            "the database URL is not a valid URL; expected e.g. "
            "postgresql+asyncpg://user:password@host:5432/dbname or sqlite+aiosqlite:///path"
        ) from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername == "sqlite+aiosqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseError(
                "an in-memory SQLite database would lose everything on exit; give a file path"
            )
        return DatabaseTarget(parsed, Path(parsed.database))
    if parsed.drivername == "postgresql+asyncpg" and "sslmode" in parsed.query:
        # libpq spells it sslmode, asyncpg ssl (same values): accept the URL people have.
        mode = parsed.query["sslmode"]
        parsed = parsed.difference_update_query(["sslmode"]).update_query_dict({"ssl": mode})
    if parsed.drivername != "postgresql+asyncpg":
        raise DatabaseError(
            f"unsupported database {hide_secrets(parsed)}: use "
            "postgresql+asyncpg://… or a SQLite file"
        )
    return DatabaseTarget(parsed, None)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = FULL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a usable SQLite database, before anything writes to it."""
    parent = path.parent
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the data directory {parent}: {exc.strerror}; "
                "choose another with --data-dir"
            ) from None
    if not os.access(parent, os.W_OK):
        raise DatabaseError(
            f"the data directory {parent} is read-only; make it writable or "
            "choose another with --data-dir"
        )
    if not path.exists():
        return
    if path.stat().st_size == 0:
        return
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise DatabaseError(f"cannot read the database {path}: {exc.strerror}") from None
    if header[:16] != b"SQLite format 3\x00":
        raise DatabaseError(
            f"{path} is not a SQLite database (corrupt or overwritten). Nothing was changed. "
            "Restore a backup with 'deepalpha backup restore ARCHIVE', or move the file away "
            "to start afresh"
        )
    size = path.stat().st_size
    if len(header) == 100:
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(header[28:32], "big")
        # The in-header page count is valid when the change counter matches (SQLite file
        # format §1.3.7); a file shorter than it claims was cut off.
        # With a WAL beside it the file may legitimately lag its header (a checkpoint cut
        # short, e.g. by a full disk): the WAL still holds those pages.
        wal = path.with_name(path.name + "-wal")
        has_wal = wal.exists() and wal.stat().st_size > 0
        if header[24:28] == header[92:96] and pages and size < page_size * pages and not has_wal:
            raise DatabaseError(
                f"the database {path} is truncated ({size} of {page_size * pages} bytes). "
                "Nothing was changed. Restore a backup with 'deepalpha backup restore ARCHIVE'"
            )
    if size > QUICK_CHECK_MAX_BYTES:
        return  # reading every page of a large file would slow every start; SQLite still
        # reports damage on the pages it reads, and 'deepalpha backup verify' checks all
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(
            f"the database {path} is damaged ({exc}). Nothing was changed. Restore a backup "
            "with 'deepalpha backup restore ARCHIVE'"
        ) from None
    if row is None or row[0] != "ok":
        raise DatabaseError(
            f"the database {path} failed its integrity check ({row[0] if row else 'no answer'})."
            " Nothing was changed. Restore a backup with 'deepalpha backup restore ARCHIVE'"
        )


def create_engine(target: DatabaseTarget, *, pool_size: int = 5) -> AsyncEngine:
    if target.is_sqlite:
        assert target.path is not None
        check_sqlite_file(target.path)
        engine = create_async_engine(target.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        target.url, pool_size=pool_size, pool_pre_ping=True, connect_args={"timeout": 10}
    )


_UNKNOWN_OPTION = re.compile(r"unexpected keyword argument '([^']+)'")


def explain(exc: BaseException, target: DatabaseTarget) -> DatabaseError:
    """Turn a driver error into a message that names the database and says what to do."""
    # The driver's own words, without SQLAlchemy's "(module.Class)" prefix and link.
    text = str(getattr(exc, "orig", None) or exc)
    for secret in target.secrets:
        text = text.replace(secret, "***")
    low = text.lower()
    where = target.display
    unknown = _UNKNOWN_OPTION.search(text)
    if isinstance(exc, TypeError) and unknown:
        return DatabaseError(
            f"the database URL {where} has an option the driver does not know: "
            f"{unknown.group(1)}; remove it from the URL"
        )
    if "database or disk is full" in low or "no space left" in low:
        return DatabaseError(
            f"the disk holding {where} is full; free some space — what was already written is safe"
        )
    if "readonly" in low or "read-only" in low:
        return DatabaseError(f"{where} is read-only; make it writable or choose another --data-dir")
    if "file is not a database" in low or "malformed" in low:
        return DatabaseError(
            f"the database {where} is damaged; restore a backup with "
            "'deepalpha backup restore ARCHIVE'"
        )
    if isinstance(exc, (ConnectionRefusedError, OSError)) or "connect" in low:
        return DatabaseError(
            f"cannot reach the database at {where} ({type(exc).__name__}); "
            "check that the server runs and the host and port are right"
        )
    if "password authentication failed" in low or "authentication" in low:
        return DatabaseError(
            f"the database at {where} refused the credentials; check the user "
            "and password in DEEPALPHA_DATABASE_URL"
        )
    if "does not exist" in low:
        return DatabaseError(f"{where}: {text.splitlines()[0]}; create it or fix the URL")
    return DatabaseError(f"database error on {where}: {text.splitlines()[0] if text else exc!r}")
