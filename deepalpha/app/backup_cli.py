"""``deepalpha backup create | list | verify | restore | prune``: the commands around
:mod:`deepalpha.sync.backup` (which does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "backup",
        help="local backups: create, list, verify, restore, prune",
        description="Consistent backups of the database and settings, safe while DeepAlpha "
        "runs. Archives live in the data directory's backups/ folder.",
    )
    actions = p.add_subparsers(dest="backup_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="snapshot the database and settings now")
    create.add_argument("--label", help="a word to add to the archive's name")
    actions.add_parser("list", help="the archives, newest first")
    verify = actions.add_parser("verify", help="recompute checksums and check the database")
    verify.add_argument("archive", type=Path, metavar="ARCHIVE")
    restore = actions.add_parser(
        "restore",
        help="replace the database and settings with an archive's (DeepAlpha must be stopped)",
    )
    restore.add_argument("archive", type=Path, metavar="ARCHIVE")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    prune = actions.add_parser("prune", help="delete archives outside the retention policy")
    prune.add_argument(
        "--keep-daily",
        type=_count,
        default=None,
        metavar="N",
        help="newest archive of each of the last N days (default: settings, 7)",
    )
    prune.add_argument(
        "--keep-weekly",
        type=_count,
        default=None,
        metavar="M",
        help="newest archive of each of the last M weeks (default: settings, 4)",
    )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _archive_arg(path: Path, data_dir: Path) -> Path:
    """An archive named by path, or by bare name inside the backup folder."""
    from deepalpha.app import paths  # noqa: PLC0415

    if not path.exists() and path.parent == Path():
        candidate = paths.backup_dir(data_dir) / path
        if candidate.exists():
            return candidate
    return path


def run(args: argparse.Namespace) -> int:
    from rich import box  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.app.settings import Settings, SettingsError, use_settings_file  # noqa: PLC0415
    from deepalpha.sync import backup  # noqa: PLC0415

    console = Console()
    data_dir = paths.data_dir(args.data_dir)
    url = args.database_url
    action = args.backup_action
    try:
        if action == "create":
            with console.status("backing up…", spinner="dots"):
                path = backup.create_backup(data_dir, url, label=args.label)
            m = backup.read_manifest(path)
            rows = sum(int(v) for v in m.get("row_counts", {}).values())
            console.print(
                f"backup written: [bold]{path}[/] ({_size(path.stat().st_size)}, "
                f"{rows:,} rows, schema {m.get('schema_revision')})"
            )
            redacted = m.get("settings", {}).get("redacted_keys") or []
            if redacted:
                console.print(f"settings copied without: {', '.join(redacted)}")
            return 0
        if action == "list":
            infos = backup.list_backups(data_dir)
            if not infos:
                console.print(f"no backups in {paths.backup_dir(data_dir)}")
                return 0
            table = Table(
                title=f"Backups in {paths.backup_dir(data_dir)} (times UTC)",
                title_justify="left",
                box=box.SIMPLE_HEAD,
            )
            # The name is what verify and restore take: never cut it short.
            widest = max(len(info.path.name) for info in infos)
            table.add_column("Name", min_width=widest, overflow="fold")
            table.add_column("Size", justify="right", no_wrap=True)
            table.add_column("Rows", justify="right", no_wrap=True)
            for info in infos:
                m = info.manifest or {}
                kind = {"sqlite": "SQLite", "postgresql": "Postgres"}.get(m.get("database", ""))
                detail = (
                    f"[dim]{kind} · schema {m.get('schema_revision') or '—'} · "
                    f"DeepAlpha {m.get('app_version', '?')}[/]"
                    if kind
                    else f"[red]unreadable: {info.error}[/]"
                )
                table.add_row(
                    f"{info.path.name}\n{detail}",
                    _size(info.size),
                    f"{info.rows:,}" if info.manifest else "—",
                )
            console.print(table)
            kept = backup.safety_copies(data_dir)
            if kept:
                console.print(f"{len(kept)} safety copies kept by restores, newest {kept[-1]}")
            return 0
        if action == "verify":
            archive = _archive_arg(args.archive, data_dir)
            if not archive.is_file():
                raise backup.BackupError(f"{archive} does not exist; see 'deepalpha backup list'")
            with console.status("verifying…", spinner="dots"):
                result = backup.verify_backup(archive)
            if result.ok:
                m = result.manifest or {}
                console.print(
                    f"[green]ok[/] {archive}: every file matches its checksum "
                    f"({len(m.get('files', {}))}), the database is whole, schema "
                    f"{m.get('schema_revision')}"
                )
                return 0
            for problem in result.problems:
                console.print(f"  - {problem}")
            raise backup.BackupError(
                f"{archive} is damaged ({len(result.problems)} problems, listed above); "
                "do not restore it — pick another backup ('deepalpha backup list')"
            )
        if action == "restore":
            archive = _archive_arg(args.archive, data_dir)
            if not args.yes:
                if not sys.stdin.isatty():
                    raise backup.BackupError(
                        f"restoring {archive} replaces the database in {data_dir}; "
                        "confirm with --yes when not at a terminal"
                    )
                answer = console.input(
                    f"Replace the database and settings in {data_dir} with {archive.name}? "
                    "What they hold now is kept as a safety copy. [y/N] "
                )
                if answer.strip().lower() not in ("y", "yes"):
                    console.print("nothing was changed")
                    return 1
            with console.status("restoring…", spinner="dots"):
                safety = backup.restore_backup(archive, data_dir, database_url=url)
            console.print(f"restored {archive}")
            if safety is not None:
                console.print(f"what it replaced is kept in {safety}")
            return 0
        if action == "prune":
            use_settings_file(paths.settings_file(data_dir))
            storage = Settings().storage
            keep_daily = args.keep_daily if args.keep_daily is not None else storage.keep_daily
            keep_weekly = args.keep_weekly if args.keep_weekly is not None else storage.keep_weekly
            removed = backup.prune_backups(data_dir, keep_daily, keep_weekly)
            for path in removed:
                console.print(f"deleted {path.name}")
            left = len(backup.list_backups(data_dir))
            console.print(
                f"{len(removed)} deleted, {left} kept "
                f"(newest of the last {keep_daily} days and {keep_weekly} weeks)"
            )
            return 0
    except backup.BackupError as exc:
        print(f"deepalpha: error: {exc}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"deepalpha: error: settings: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(action)
