"""One engine per data directory and per database: exclusive locks held while the engine runs.

The data directory's lock (``deepalpha.lock``) keeps two engines off one folder of settings and
backups; the database's own lock keeps two engines off one ledger even when they name different
data directories: a lock file next to a SQLite file (``<name>.lock``, the same file as the data
directory's for the default ``deepalpha.db``), and on Postgres an advisory lock the server holds
for the engine's session (``storage.ownership``). A restore checks them too, so a backup is
never restored under a running engine. Each lock says who holds it: host, pid and since when.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from datetime import datetime
from pathlib import Path

from deepalpha.storage.errors import DatabaseError
from deepalpha.storage.errors import EngineBusy as DataDirBusy

LOCK_FILE = "deepalpha.lock"
__all__ = ["LOCK_FILE", "DataDirBusy", "DataDirLock", "FileLock", "database_lock"]


def holder_text(host: str, pid: int | str, since: str) -> str:
    return f"pid {pid} on {host}, since {since}"


def this_process() -> dict[str, object]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


class FileLock:
    """An exclusive ``flock`` on ``path``; the file holds who has it (JSON)."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what  # "the data directory /x", "the database /x/y.db": for messages
        self._fd: int | None = None

    def acquire(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise DatabaseError(
                    f"{folder} is read-only; make it writable or choose another --data-dir"
                ) from None
            raise DatabaseError(
                f"cannot use {folder}: {exc.strerror}; choose another --data-dir"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DataDirBusy(
                f"another DeepAlpha ({holder}) is using {self.what}; stop it first or choose "
                "another --data-dir / --database-url"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(this_process()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """True when another process holds the lock (used by restore)."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)


def _read_holder(fd: int) -> str:
    raw = os.read(fd, 4096).decode(errors="replace").strip()
    try:
        body = json.loads(raw)
        return holder_text(str(body["host"]), body["pid"], str(body["since"]))
    except (ValueError, KeyError, TypeError):
        return f"pid {raw or '?'}"  # a lock file written by an older version: just the pid


class DataDirLock(FileLock):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir / LOCK_FILE, f"the data directory {data_dir}")


def database_lock(database: Path) -> FileLock:
    """The lock beside a SQLite file: ``deepalpha.db`` → ``deepalpha.lock``."""
    return FileLock(database.with_suffix(".lock"), f"the database {database}")
