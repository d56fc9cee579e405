"""``deepalpha backup create | list | verify | restore | prune``: the commands around
:mod:`deepalpha.sync.backup` (which does the work)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from deepalpha.app.cli import Count, Shared, UserError, shared

if TYPE_CHECKING:
    from rich.console import Console


@click.group()
def backup() -> None:
    """Local backups: create, list, verify, restore, prune.

    Consistent backups of the database and settings, safe while DeepAlpha runs. Archives live
    in the data directory's backups/ folder.
    """


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _data_dir(given: Shared) -> Path:
    from deepalpha.app import paths  # noqa: PLC0415

    return paths.data_dir(given.data_dir)


def _archive_arg(path: Path, data_dir: Path) -> Path:
    """An archive named by path, or by bare name inside the backup folder."""
    from deepalpha.app import paths  # noqa: PLC0415

    if not path.exists() and path.parent == Path():
        candidate = paths.backup_dir(data_dir) / path
        if candidate.exists():
            return candidate
    return path


def _console() -> Console:
    from rich.console import Console  # noqa: PLC0415

    return Console()


@contextmanager
def _clear_errors() -> Iterator[None]:
    """The backup module's and the settings' errors as one line each, exit status 2."""
    from deepalpha.app.settings import SettingsError  # noqa: PLC0415
    from deepalpha.sync.backup import BackupError  # noqa: PLC0415

    try:
        yield
    except BackupError as exc:
        raise UserError(str(exc)) from None
    except SettingsError as exc:
        raise UserError(f"settings: {exc}") from None


def _command(f: Callable[..., int]) -> Callable[..., int]:
    return shared("data_dir", "database_url")(click.pass_obj(f))


@backup.command()
@click.option("--label", help="A word to add to the archive's name.")
@_command
def create(given: Shared, label: str | None) -> int:
    """Snapshot the database and settings now."""
    from deepalpha.sync import backup as backups  # noqa: PLC0415

    console = _console()
    with _clear_errors():
        with console.status("backing up…", spinner="dots"):
            path = backups.create_backup(_data_dir(given), given.database_url, label=label)
        m = backups.read_manifest(path)
    rows = sum(int(v) for v in m.get("row_counts", {}).values())
    console.print(
        f"backup written: [bold]{path}[/] ({_size(path.stat().st_size)}, "
        f"{rows:,} rows, schema {m.get('schema_revision')})"
    )
    redacted = m.get("settings", {}).get("redacted_keys") or []
    if redacted:
        console.print(f"settings copied without: {', '.join(redacted)}")
    return 0


@backup.command("list")
@_command
def list_(given: Shared) -> int:
    """The archives, newest first."""
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.sync import backup as backups  # noqa: PLC0415

    console = _console()
    data_dir = _data_dir(given)
    infos = backups.list_backups(data_dir)
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
    kept = backups.safety_copies(data_dir)
    if kept:
        console.print(f"{len(kept)} safety copies kept by restores, newest {kept[-1]}")
    return 0


@backup.command(short_help="Check an archive's checksums and database (default: the newest).")
@click.argument("archive", type=click.Path(path_type=Path), required=False)
@_command
def verify(given: Shared, archive: Path | None) -> int:
    """Recompute the checksums of ARCHIVE (a path, or a name from 'backup list'; default: the
    newest) and check its database. Exit status 1 when there is no archive to verify."""
    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.sync import backup as backups  # noqa: PLC0415

    console = _console()
    data_dir = _data_dir(given)
    with _clear_errors():
        if archive is None:
            infos = backups.list_backups(data_dir)
            if not infos:
                click.echo(
                    f"deepalpha: no backups in {paths.backup_dir(data_dir)} to verify; make one "
                    "with 'deepalpha backup create'",
                    err=True,
                )
                return 1
            archive = infos[0].path
            console.print(f"verifying the newest backup, {archive.name}", markup=False)
        else:
            archive = _archive_arg(archive, data_dir)
        if not archive.is_file():
            raise backups.BackupError(f"{archive} does not exist; see 'deepalpha backup list'")
        with console.status("verifying…", spinner="dots"):
            result = backups.verify_backup(archive)
        if result.ok:
            m = result.manifest or {}
            console.print(
                f"[green]ok[/] {archive}: every file matches its checksum "
                f"({len(m.get('files', {}))}), the database is whole, schema "
                f"{m.get('schema_revision')}"
            )
            return 0
        for problem in result.problems:
            console.print(f"  - {problem}", markup=False)
        raise backups.BackupError(
            f"{archive} is damaged ({len(result.problems)} problems, listed above); "
            "do not restore it — pick another backup ('deepalpha backup list')"
        )


@backup.command(short_help="Replace the database and settings with an archive's.")
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_command
def restore(given: Shared, archive: Path, yes: bool) -> int:
    """Replace the database and settings with ARCHIVE's (DeepAlpha must be stopped). What they
    hold now is kept as a safety copy."""
    from deepalpha.sync import backup as backups  # noqa: PLC0415

    console = _console()
    data_dir = _data_dir(given)
    archive = _archive_arg(archive, data_dir)
    with _clear_errors():
        if not yes:
            if not sys.stdin.isatty():
                raise backups.BackupError(
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
            safety = backups.restore_backup(archive, data_dir, database_url=given.database_url)
    console.print(f"restored {archive}")
    if safety is not None:
        console.print(f"what it replaced is kept in {safety}")
    return 0


@backup.command()
@click.option(
    "--keep-daily",
    type=Count(),
    default=None,
    metavar="N",
    help="Newest archive of each of the last N days (default: settings, 7).",
)
@click.option(
    "--keep-weekly",
    type=Count(),
    default=None,
    metavar="M",
    help="Newest archive of each of the last M weeks (default: settings, 4).",
)
@click.option(
    "--include-manual",
    is_flag=True,
    help="Prune your own archives (backup create) by the same policy, not only automatic ones.",
)
@click.option("--yes", is_flag=True, help="Do not ask before pruning your own archives.")
@_command
def prune(
    given: Shared, keep_daily: int | None, keep_weekly: int | None, include_manual: bool, yes: bool
) -> int:
    """Delete automatic archives outside the retention policy (your own archives only with
    --include-manual)."""
    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.app.settings import load_settings, use_settings_file  # noqa: PLC0415
    from deepalpha.sync import backup as backups  # noqa: PLC0415

    console = _console()
    data_dir = _data_dir(given)
    with _clear_errors():
        use_settings_file(paths.settings_file(data_dir))
        storage = load_settings().storage
        daily = keep_daily if keep_daily is not None else storage.keep_daily
        weekly = keep_weekly if keep_weekly is not None else storage.keep_weekly
        if include_manual and not yes:
            if not sys.stdin.isatty():
                raise backups.BackupError(
                    "--include-manual deletes archives you made yourself; confirm with --yes "
                    "when not at a terminal"
                )
            answer = console.input(
                f"Delete your own archives in {paths.backup_dir(data_dir)} outside the newest of "
                f"the last {daily} days and {weekly} weeks? [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                console.print("nothing was deleted")
                return 1
        removed = backups.prune_backups(data_dir, daily, weekly, include_manual=include_manual)
    for path in removed:
        console.print(f"deleted {path.name}")
    left = len(backups.list_backups(data_dir))
    which = "archives" if include_manual else "automatic archives"
    console.print(
        f"{len(removed)} deleted, {left} kept ({which}: newest of the last {daily} days and "
        f"{weekly} weeks{'' if include_manual else '; your own archives are never pruned'})"
    )
    return 0
