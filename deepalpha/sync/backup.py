"""Local backups: consistent online snapshots, verified archives, safe restores, retention.

An archive is a ``.tar.gz`` holding ``manifest.json`` (first, so listing reads only it), the
database (``deepalpha.db``, a SQLite snapshot, or ``deepalpha.pgdump``, a ``pg_dump`` custom
dump) and the data directory's ``settings.toml`` when there is one. The manifest names the app
version, the schema revision, the creation time (UTC), the row count of every table and the
sha256 and size of every file, so ``verify`` can prove an archive is whole before ``restore``
trusts it.

Decisions worth knowing:

- Times are UTC: the archive name, ``created_at`` and the "day" of the automatic backup and of
  retention. The UTC day turns over at 08:00 in Shanghai and Hong Kong, before either market
  opens, so one backup day never splits a trading session.
- Only the data directory's own ``settings.toml`` is backed up and restored. A file named by
  ``DEEPALPHA_CONFIG`` is managed outside DeepAlpha (e.g. a Kubernetes ConfigMap) and is left
  alone.
- Settings never hold secrets (they live in keyring); still, any key whose name contains
  key/token/secret/password is dropped from the copy and listed in the manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time as clock_time
import tomllib
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepalpha import __version__
from deepalpha.app import paths
from deepalpha.app.lock import DataDirBusy, DataDirLock, FileLock, database_lock
from deepalpha.engine import clock as clocks

if TYPE_CHECKING:
    from deepalpha.storage.database import DatabaseTarget

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "deepalpha.db"
PGDUMP_FILE = "deepalpha.pgdump"
SETTINGS_FILE = paths.SETTINGS_FILE
PREFIX = "deepalpha-backup-"
SUFFIX = ".tar.gz"
SAFETY_PREFIX = "safety-"
AUTO_LABEL = "auto"
# Work folders of a backup and a restore; a killed one leaves its folder behind.
BACKUP_WORK = ".backup-"
RESTORE_WORK = ".restore-"
IN_USE = ".in-use"  # flock'd by the process working in the folder
FRESH_SECONDS = 60  # a folder without its marker yet may be one being made right now

log = logging.getLogger("deepalpha.backup")
SECRET_WORDS = ("key", "token", "secret", "password")
PG_DUMP_MISSING = (
    "pg_dump is not installed: install the PostgreSQL client (e.g. apt-get install "
    "postgresql-client) or back up the database with your own tooling"
)
_NAME = re.compile(
    rf"^{re.escape(PREFIX)}(\d{{8}}-\d{{6}})(?:_(\d+))?(?:-([A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*))?"
    rf"{re.escape(SUFFIX)}$"
)
_CHUNK = 1 << 20


class BackupError(RuntimeError):
    """A backup cannot be made, read or restored; the message names it and says what to do."""


# --- small helpers ----------------------------------------------------------------------------
def _now() -> datetime:
    return clocks.system_clock().now().astimezone(UTC).replace(microsecond=0)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _clean_label(label: str | None) -> str | None:
    if not label:
        return None
    cleaned = re.sub(r"[^A-Za-z0-9_.]+", "-", label).strip("-.")[:40]
    return cleaned or None


def archive_time(path: Path) -> datetime | None:
    """When an archive was made, from its name (UTC); None for a name we did not write."""
    m = _NAME.match(path.name)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=UTC)


def archive_label(path: Path) -> str | None:
    m = _NAME.match(path.name)
    return m.group(3) if m else None


def _archives(folder: Path) -> list[tuple[datetime, Path]]:
    """The archives in ``folder``, newest first (safety copies are folders, never listed)."""
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        when = archive_time(p)
        if when is not None and p.is_file():
            found.append((when, p))
    found.sort(key=lambda item: (item[0], item[1].name), reverse=True)
    return found


# --- work folders -----------------------------------------------------------------------------
@contextlib.contextmanager
def _work_dir(prefix: str, parent: Path) -> Iterator[Path]:
    """A temporary folder another process can tell is in use (its marker is locked)."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as tmp:
        work = Path(tmp)
        with (work / IN_USE).open("w") as marker:
            fcntl.flock(marker, fcntl.LOCK_EX)
            yield work


def clean_leftovers(data_dir: Path, db_dir: Path | None = None) -> list[Path]:
    """Remove the work folders a killed backup or restore left behind (hundreds of MB each);
    a folder whose process still runs is left alone. Returns what was removed."""
    found = [*_glob_dirs(paths.backup_dir(data_dir), BACKUP_WORK)]
    found += _glob_dirs(db_dir or data_dir, RESTORE_WORK)
    removed = []
    for folder in found:
        if _in_use(folder):
            continue
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            log.info("removed %s left by an interrupted backup or restore (%s bytes)", folder, size)
            removed.append(folder)
    return removed


def _glob_dirs(parent: Path, prefix: str) -> list[Path]:
    return sorted(p for p in parent.glob(prefix + "*") if p.is_dir()) if parent.is_dir() else []


def _in_use(folder: Path) -> bool:
    try:
        marker = (folder / IN_USE).open("r")
    except FileNotFoundError:
        return clock_time.time() - folder.stat().st_mtime < FRESH_SECONDS
    with marker:
        try:
            fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


# --- settings -----------------------------------------------------------------------------------
def _redact(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Drop secret-looking keys in place; return their dotted names."""
    dropped = []
    for k in list(data):
        name = f"{prefix}{k}"
        if any(word in k.lower() for word in SECRET_WORDS):
            del data[k]
            dropped.append(name)
        elif isinstance(data[k], dict):
            dropped += _redact(data[k], f"{name}.")
        elif isinstance(data[k], list):
            for i, item in enumerate(data[k]):
                if isinstance(item, dict):
                    dropped += _redact(item, f"{name}[{i}].")
    return dropped


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v), ensure_ascii=False)


def _toml_dump(data: dict[str, Any], path: tuple[str, ...] = ()) -> str:
    lines = [
        f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)
    ]
    out = ""
    if path and (lines or not any(isinstance(v, dict) for v in data.values())):
        out += f"[{'.'.join(_toml_key(p) for p in path)}]\n"
    if lines:
        out += "\n".join(lines) + "\n\n"
    for k, v in data.items():
        if isinstance(v, dict):
            out += _toml_dump(v, (*path, k))
    return out


def _settings_copy(source: Path) -> tuple[bytes | None, dict[str, Any]]:
    """The settings file to archive and what the manifest says about it."""
    if not source.is_file():
        return None, {"included": False}
    raw = source.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # Unreadable settings cannot be checked for secrets, and the app would not start on
        # them either: leave them out rather than archive something unknown.
        return None, {"included": False, "skipped": f"not valid TOML ({exc})"}
    dropped = _redact(data)
    if not dropped:
        return raw, {"included": True, "redacted_keys": []}
    text = "# secret-looking keys were removed by deepalpha backup\n" + _toml_dump(data)
    return text.encode("utf-8"), {"included": True, "redacted_keys": dropped}


# --- the SQLite snapshot ------------------------------------------------------------------------
def _sqlite_snapshot(source: Path, dest: Path) -> None:
    """Copy the live database with SQLite's online backup API.

    The copy runs in one step inside one read transaction: in WAL mode writers carry on, and
    the copy is exactly the database as of one commit.
    """
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the database {source} to back it up: {exc}") from None
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            # A self-contained file: no -wal beside the copy (the app turns WAL on again).
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"could not snapshot the database {source}: {exc}") from None
    finally:
        src.close()


def _sqlite_facts(db: Path) -> tuple[str | None, dict[str, int], str]:
    """Schema revision, row counts per table and the integrity check of a database file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchall()
        integrity = "ok" if check == [("ok",)] else "; ".join(str(r[0]) for r in check[:5])
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        revision = None
        if "alembic_version" in names:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        counts = {
            n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0])
            for n in names
            if n != "alembic_version"
        }
    finally:
        conn.close()
    return revision, counts, integrity


# --- Postgres -----------------------------------------------------------------------------------
def _pg_env(target: DatabaseTarget) -> tuple[list[str], dict[str, str]]:
    """libpq connection options for pg_dump/pg_restore; the password goes in the environment."""
    url = target.url
    args = []
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    env["PGCONNECT_TIMEOUT"] = "10"
    password = url.password if url.password is not None else url.query.get("password")
    if isinstance(password, str):
        env["PGPASSWORD"] = password
    ssl = url.query.get("sslmode") or url.query.get("ssl")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl, ssl)
    return args, env


def _scrub(text: str, target: DatabaseTarget) -> str:
    for secret in target.secrets:
        text = text.replace(secret, "***")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if name == "pg_dump":
            raise BackupError(PG_DUMP_MISSING)
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client "
            "(e.g. apt-get install postgresql-client)"
        )
    return found


async def _pg_snapshot(target: DatabaseTarget, dest: Path) -> tuple[str | None, dict[str, int]]:
    """pg_dump under an exported snapshot, and the row counts read in that same snapshot."""
    from sqlalchemy import text  # noqa: PLC0415
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError  # noqa: PLC0415

    from deepalpha.storage.database import create_engine, explain  # noqa: PLC0415

    pg_dump = _tool("pg_dump")
    engine = create_engine(target, pool_size=1)
    try:
        async with engine.connect() as plain:
            conn = await plain.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                snap = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
                names = (
                    await conn.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables WHERE "
                            "table_schema = current_schema() AND table_type = 'BASE TABLE' "
                            "ORDER BY table_name"
                        )
                    )
                ).scalars()
                tables = list(names)
                revision = None
                if "alembic_version" in tables:
                    revision = (
                        await conn.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalar()
                counts = {}
                for n in tables:
                    if n != "alembic_version":
                        q = text(f'SELECT count(*) FROM "{n}"')
                        counts[n] = int((await conn.execute(q)).scalar_one())
                args, env = _pg_env(target)
                cmd = [pg_dump, "--format=custom", f"--snapshot={snap}", f"--file={dest}", *args]
                cmd += ["--dbname", str(target.url.database)]
                proc = await asyncio.create_subprocess_exec(
                    *cmd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                _, err = await proc.communicate()
                if proc.returncode != 0:
                    why = _scrub(err.decode(errors="replace"), target)
                    raise BackupError(f"pg_dump of {target.display} failed: {why}")
    except (OSError, SQLAlchemyError) as exc:
        orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
        raise BackupError(str(explain(orig, target))) from None
    finally:
        await engine.dispose()
    return revision, counts


def _pg_run(tool: str, target: DatabaseTarget, extra: list[str], what: str) -> None:
    args, env = _pg_env(target)
    cmd = [_tool(tool), *args, "--dbname", str(target.url.database), *extra]
    proc = subprocess.run(
        cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False, timeout=3600
    )
    if proc.returncode != 0:
        why = _scrub(proc.stderr.decode(errors="replace"), target)
        raise BackupError(f"{what} {target.display} failed: {why}")


# --- create -------------------------------------------------------------------------------------
def _archive_name(folder: Path, when: datetime, label: str | None) -> Path:
    stamp = _stamp(when)
    tail = f"-{label}" if label else ""
    path = folder / f"{PREFIX}{stamp}{tail}{SUFFIX}"
    n = 2
    while path.exists():  # two backups in the same second
        path = folder / f"{PREFIX}{stamp}_{n}{tail}{SUFFIX}"
        n += 1
    return path


def _add(tar: tarfile.TarFile, name: str, data: bytes | Path, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.mode = 0o600
    info.mtime = int(mtime)
    if isinstance(data, Path):
        info.size = data.stat().st_size
        with data.open("rb") as fh:
            tar.addfile(info, fh)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def create_backup(
    data_dir: Path,
    database_url: str | None = None,
    dest_dir: Path | None = None,
    label: str | None = None,
) -> Path:
    """Snapshot the database (and settings) of ``data_dir`` into a new archive; return it.

    Safe while DeepAlpha runs. The archive appears under its final name only when complete.
    """
    from deepalpha.storage.database import DatabaseError, resolve  # noqa: PLC0415

    try:
        target = resolve(database_url, data_dir)
    except DatabaseError as exc:
        raise BackupError(str(exc)) from None
    folder = dest_dir or paths.backup_dir(data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {folder}: {exc.strerror}") from None
    label = _clean_label(label)
    created = _now()
    clean_leftovers(data_dir)
    with _work_dir(BACKUP_WORK, folder) as work:
        if target.is_sqlite:
            assert target.path is not None
            if not target.path.is_file():
                raise BackupError(
                    f"there is no database at {target.path} to back up; start DeepAlpha once "
                    "to create it, or pass the right --data-dir"
                )
            db_name = SQLITE_FILE
            _sqlite_snapshot(target.path, work / db_name)
            revision, counts, integrity = _sqlite_facts(work / db_name)
            if integrity != "ok":
                raise BackupError(
                    f"the database {target.path} fails its integrity check ({integrity}); no "
                    "backup was written. Restore an earlier backup with 'deepalpha backup restore'"
                )
            kind = "sqlite"
        else:
            db_name = PGDUMP_FILE
            revision, counts = asyncio.run(_pg_snapshot(target, work / db_name))
            kind = "postgresql"
        settings, settings_note = _settings_copy(data_dir / SETTINGS_FILE)
        files: dict[str, Path | bytes] = {db_name: work / db_name}
        if settings is not None:
            files[SETTINGS_FILE] = settings
        manifest = {
            "format": FORMAT,
            "app": "deepalpha",
            "app_version": __version__,
            "schema_revision": revision,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "database": kind,
            "label": label,
            "files": {
                name: (
                    {"sha256": _sha256(d), "size": d.stat().st_size}
                    if isinstance(d, Path)
                    else {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                )
                for name, d in files.items()
            },
            "row_counts": counts,
            "settings": settings_note,
        }
        final = _archive_name(folder, created, label)
        partial = work / (final.name + ".partial")
        mtime = created.timestamp()
        try:
            with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
                body = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
                _add(tar, MANIFEST, body + b"\n", mtime)
                for name, d in files.items():
                    _add(tar, name, d, mtime)
            with partial.open("rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(partial, 0o600)
            os.replace(partial, final)
        except OSError as exc:
            raise BackupError(
                f"cannot write the backup {final}: {exc.strerror or exc}; free disk space or "
                "choose another folder"
            ) from None
        _fsync_dir(folder)
    return final


# --- list ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    size: int
    created_at: datetime
    label: str | None
    manifest: dict[str, Any] | None  # None when the archive cannot be read
    error: str | None = None

    @property
    def rows(self) -> int:
        counts = (self.manifest or {}).get("row_counts") or {}
        return sum(int(v) for v in counts.values())


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of an archive, reading only its first member."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BackupError(
                    f"{path} has no manifest.json first; it is not a DeepAlpha backup"
                )
            fh = tar.extractfile(first)
            assert fh is not None
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, tarfile.TarError, EOFError, zlib.error, ValueError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise BackupError(f"the manifest of {path} is not an object")
    return data


def archive_paths(data_dir: Path) -> list[tuple[datetime, Path]]:
    """The archives in the data directory's backup folder, newest first, without opening them."""
    return _archives(paths.backup_dir(data_dir))


def list_backups(data_dir: Path) -> list[BackupInfo]:
    """The archives in the data directory's backup folder, newest first."""
    out = []
    for when, path in _archives(paths.backup_dir(data_dir)):
        try:
            manifest: dict[str, Any] | None = read_manifest(path)
            error = None
        except BackupError as exc:
            manifest, error = None, str(exc)
        out.append(
            BackupInfo(path, path.stat().st_size, when, archive_label(path), manifest, error)
        )
    return out


def safety_copies(data_dir: Path) -> list[Path]:
    folder = paths.backup_dir(data_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(SAFETY_PREFIX))


# --- verify -------------------------------------------------------------------------------------
@dataclass(slots=True)
class VerifyResult:
    path: Path
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _inspect(path: Path, workdir: Path) -> VerifyResult:
    """Check an archive completely, extracting its files into ``workdir``."""
    result = VerifyResult(path)
    problems = result.problems
    if not path.is_file():
        problems.append(f"{path} does not exist or is not a file")
        return result
    # The whole gzip stream first: its CRC covers every byte, padding and headers included.
    try:
        with gzip.open(path, "rb") as gz:
            while gz.read(_CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        problems.append(f"the archive is damaged or truncated ({exc})")
        return result
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = tar.getmembers()
            if not members or members[0].name != MANIFEST:
                problems.append("manifest.json is missing; this is not a DeepAlpha backup")
                return result
            for m in members:
                if not m.isfile() or "/" in m.name or m.name in ("", ".", ".."):
                    problems.append(f"unexpected entry {m.name!r} in the archive")
                    return result
            names = [m.name for m in members]
            if len(set(names)) != len(names):
                problems.append("the archive holds a file twice")
                return result
            fh = tar.extractfile(members[0])
            assert fh is not None
            try:
                manifest = json.loads(fh.read().decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                problems.append(f"manifest.json cannot be read ({exc})")
                return result
            if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
                problems.append("manifest.json lacks its list of files")
                return result
            result.manifest = manifest
            fmt = manifest.get("format")
            if not isinstance(fmt, int) or fmt > FORMAT:
                problems.append(
                    f"the archive format {fmt!r} was made by a newer DeepAlpha; upgrade to read it"
                )
                return result
            listed: dict[str, Any] = manifest["files"]
            for m in members[1:]:
                if m.name not in listed:
                    problems.append(f"{m.name} is in the archive but not in the manifest")
                    continue
                h = hashlib.sha256()
                out = workdir / m.name
                src = tar.extractfile(m)
                assert src is not None
                with out.open("wb") as dst:
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        dst.write(chunk)
                want = listed[m.name] if isinstance(listed[m.name], dict) else {}
                if m.size != want.get("size"):
                    problems.append(
                        f"{m.name}: size {m.size} differs from the manifest's {want.get('size')}"
                    )
                if h.hexdigest() != want.get("sha256"):
                    problems.append(f"{m.name}: sha256 does not match the manifest")
            for name in listed:
                if name not in names:
                    problems.append(f"{name} is in the manifest but missing from the archive")
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        problems.append(f"the archive cannot be read ({exc})")
        return result
    if problems:
        return result
    kind = manifest.get("database")
    if kind == "sqlite":
        db = workdir / SQLITE_FILE
        if not db.is_file():
            problems.append(f"{SQLITE_FILE} is missing")
            return result
        try:
            revision, counts, integrity = _sqlite_facts(db)
        except sqlite3.DatabaseError as exc:
            problems.append(f"{SQLITE_FILE} is not a usable SQLite database ({exc})")
            return result
        if integrity != "ok":
            problems.append(f"{SQLITE_FILE} fails PRAGMA integrity_check: {integrity}")
        if revision != manifest.get("schema_revision"):
            problems.append(
                f"schema revision {revision} differs from the manifest's "
                f"{manifest.get('schema_revision')}"
            )
        if counts != manifest.get("row_counts"):
            problems.append("row counts differ from the manifest")
    elif kind == "postgresql":
        if not (workdir / PGDUMP_FILE).is_file():
            problems.append(f"{PGDUMP_FILE} is missing")
        elif shutil.which("pg_restore"):
            proc = subprocess.run(
                ["pg_restore", "--list", str(workdir / PGDUMP_FILE)],
                capture_output=True,
                check=False,
                timeout=600,
            )
            if proc.returncode != 0:
                problems.append(f"{PGDUMP_FILE} cannot be read by pg_restore")
    else:
        problems.append(f"unknown database kind {kind!r} in the manifest")
    return result


def verify_backup(path: Path) -> VerifyResult:
    """Recompute every checksum, check the database inside and compare it with the manifest."""
    with tempfile.TemporaryDirectory(prefix="deepalpha-verify-") as tmp:
        return _inspect(Path(path), Path(tmp))


# --- restore ------------------------------------------------------------------------------------
STOP_FIRST = "stop the running DeepAlpha first, then restore"


@contextlib.contextmanager
def _exclusive(data_dir: Path, target: DatabaseTarget) -> Iterator[None]:
    """Hold the data directory's and the database's locks so no DeepAlpha starts on either
    during the restore."""
    locks: list[FileLock] = [DataDirLock(data_dir)]
    if target.path is not None:
        beside = database_lock(target.path)
        if beside.path.resolve() != locks[0].path.resolve():
            locks.append(beside)
    held: list[FileLock] = []
    lease = None
    loop = asyncio.new_event_loop()  # the lease's connection lives on one loop to its release
    try:
        for lock in locks:
            try:
                lock.acquire()
            except DataDirBusy as exc:
                raise BackupError(f"{exc}; {STOP_FIRST}") from None
            held.append(lock)
        if target.path is None:
            from deepalpha.storage.ownership import acquire_lease  # noqa: PLC0415

            try:
                lease = loop.run_until_complete(acquire_lease(target))
            except DataDirBusy as exc:
                raise BackupError(f"{exc}; {STOP_FIRST}") from None
        yield
    finally:
        if lease is not None:
            loop.run_until_complete(lease.release())
        loop.close()
        for lock in reversed(held):
            lock.release()


def _check_schema(archive: Path, manifest: dict[str, Any]) -> None:
    from deepalpha.storage.migrate import history  # noqa: PLC0415

    revision = manifest.get("schema_revision")
    if revision is not None and revision not in {r.revision for r in history()}:
        raise BackupError(
            f"{archive} was made by a newer DeepAlpha (schema revision {revision}, version "
            f"{manifest.get('app_version', '?')}); upgrade DeepAlpha to restore it. "
            "Nothing was changed"
        )


def _move(src: Path, dest_dir: Path) -> bool:
    if not src.exists():
        return False
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(src, dest_dir / src.name)
    return True


def _safety_dir(data_dir: Path) -> Path:
    folder = paths.backup_dir(data_dir)
    base = folder / f"{SAFETY_PREFIX}{_stamp(_now())}"
    path, n = base, 2
    while path.exists():
        path = base.with_name(f"{base.name}-{n}")
        n += 1
    return path


def _note(safety: Path, archive: Path) -> None:
    note = {"replaced_by": str(archive), "at": _now().isoformat().replace("+00:00", "Z")}
    (safety / "restore.json").write_text(json.dumps(note, indent=2) + "\n", "utf-8")


def restore_backup(
    archive: Path, data_dir: Path, *, database_url: str | None = None
) -> Path | None:
    """Replace the data directory's database (and settings) with the archive's.

    Refuses a damaged archive, one from a newer schema and a data directory in use; what it
    replaces is kept in ``backups/safety-<time>/``, whose path it returns (None when there was
    nothing to replace).
    """
    from deepalpha.storage.database import DatabaseError, resolve  # noqa: PLC0415

    archive = Path(archive)
    try:
        target = resolve(database_url, data_dir)
    except DatabaseError as exc:
        raise BackupError(str(exc)) from None
    if not archive.is_file():
        raise BackupError(f"{archive} does not exist; see 'deepalpha backup list'")
    # A newer DeepAlpha may lay archives out differently: say so before calling one damaged.
    try:
        early: dict[str, Any] | None = read_manifest(archive)
    except BackupError:
        early = None  # the full check below says what is wrong
    if early is not None:
        _check_schema(archive, early)
    data_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(data_dir, target):
        db_dir = target.path.parent if target.path is not None else data_dir
        db_dir.mkdir(parents=True, exist_ok=True)
        with _work_dir(RESTORE_WORK, db_dir) as work:
            result = _inspect(archive, work)
            if not result.ok:
                raise BackupError(
                    f"{archive} is damaged ({result.problems[0]}); it was not restored and "
                    "nothing was changed. Pick another backup ('deepalpha backup list')"
                )
            manifest = result.manifest or {}
            _check_schema(archive, manifest)
            kind = manifest.get("database")
            want = "sqlite" if target.is_sqlite else "postgresql"
            if kind != want:
                raise BackupError(
                    f"{archive} holds a {kind} database but {target.display} is {want}; "
                    "restore it with the matching --database-url. Nothing was changed"
                )
            safety = _safety_dir(data_dir)
            settings = data_dir / SETTINGS_FILE
            if target.is_sqlite:
                assert target.path is not None
                db = target.path
                # The -wal and -shm belong to the old file: they must never meet the new one.
                moved = False
                for suffix in ("-wal", "-shm", ""):
                    moved |= _move(db.with_name(db.name + suffix), safety)
                moved |= _move(settings, safety)
                os.replace(work / SQLITE_FILE, db)
            else:
                safety.mkdir(parents=True)
                _pg_run(
                    "pg_dump",
                    target,
                    ["--format=custom", f"--file={safety / PGDUMP_FILE}"],
                    "the safety dump of",
                )
                _move(settings, safety)
                moved = True
                _pg_run(
                    "pg_restore",
                    target,
                    [
                        "--clean",
                        "--if-exists",
                        "--no-owner",
                        "--no-acl",
                        "--single-transaction",
                        str(work / PGDUMP_FILE),
                    ],
                    f"restoring {archive.name} into",
                )
            if (work / SETTINGS_FILE).is_file():
                os.replace(work / SETTINGS_FILE, settings)
            _fsync_dir(db_dir)
            _fsync_dir(data_dir)
            if moved:
                _note(safety, archive)
                return safety
            return None


# --- prune --------------------------------------------------------------------------------------
def prune_backups(
    data_dir: Path,
    keep_daily: int,
    keep_weekly: int,
    *,
    include_manual: bool = False,
    dest_dir: Path | None = None,
) -> list[Path]:
    """Delete automatic archives outside the retention policy; return what was deleted.

    Kept: the newest archive of each of the last ``keep_daily`` days that have archives, the
    newest of each of the last ``keep_weekly`` ISO weeks, and always the newest of all. A
    person's own archives (made with ``backup create``, labelled or not) are never candidates
    unless ``include_manual``; safety copies (folders) are never touched. Each deletion is
    logged.
    """
    if keep_daily < 0 or keep_weekly < 0:
        raise BackupError("--keep-daily and --keep-weekly must be 0 or more")
    found = [
        (when, path)
        for when, path in _archives(dest_dir or paths.backup_dir(data_dir))
        if include_manual or archive_label(path) == AUTO_LABEL
    ]
    if not found:
        return []
    keep = {found[0][1]}
    days: set[date] = set()
    weeks: set[tuple[int, int]] = set()
    for when, path in found:  # newest first: the first seen of a day or week is its newest
        day = when.date()
        if day not in days and len(days) < keep_daily:
            days.add(day)
            keep.add(path)
        iso = day.isocalendar()
        week = (iso.year, iso.week)
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add(week)
            keep.add(path)
    removed = []
    for _, path in found:
        if path not in keep:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise BackupError(f"cannot delete the old backup {path}: {exc.strerror}") from None
            log.info(
                "pruned backup %s (retention: newest of %d days, %d weeks)",
                path,
                keep_daily,
                keep_weekly,
            )
            removed.append(path)
    return removed


# --- automatic daily backup -----------------------------------------------------------------------
def made_today(data_dir: Path, *, label: str = AUTO_LABEL) -> Path | None:
    """Today's (UTC) automatic archive, if there is one."""
    today = _now().date()
    for when, path in _archives(paths.backup_dir(data_dir)):
        if when.date() == today and archive_label(path) == label:
            return path
    return None


async def auto_backup(
    data_dir: Path,
    database_url: str | None,
    retention: tuple[int, int],
    before: Callable[[], Awaitable[None]],
) -> Path | None:
    """At most one automatic backup per UTC day while the app runs, then the retention policy
    (``retention``: keep daily, keep weekly). ``before`` runs first (the engine saves what the
    archive must hold); the backup knows nothing else of the engine.

    Returns the new archive, or None when today's already exists. Retention is applied on every
    call (the app calls hourly), so it also catches up after a stop between backup and prune.
    """
    made = None
    if made_today(data_dir) is None:
        await before()
        made = await asyncio.to_thread(create_backup, data_dir, database_url, None, AUTO_LABEL)
    await asyncio.to_thread(prune_backups, data_dir, *retention)
    return made
