"""The shape of the ``deepalpha`` command line: shared options in either position, ``serve``
and its ``--serve`` alias, ``--start``, ``db current`` and ``backup verify`` without an archive.

Through click's CliRunner on the real group, and a real subprocess where the entry point and
the signals matter.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from deepalpha import __version__
from deepalpha.app import json_log
from deepalpha.app.cli import cli
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.server import run as server_run
from deepalpha.storage.migrate import head_revision

ROOT = Path(__file__).resolve().parents[1]
START = "2024-03-04 10:00"  # a Monday both markets traded; Beijing time
BEIJING = ZoneInfo("Asia/Shanghai")


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(result: Result) -> str:
    """A user error: exit status 2 and one line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepalpha: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# --- serve and --serve ------------------------------------------------------------------------
@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[RuntimeOptions]:
    """What the serve runner was started with, in place of running the engine."""
    calls: list[RuntimeOptions] = []

    async def serve(options: RuntimeOptions, **_: Any) -> int:
        calls.append(options)
        return 0

    monkeypatch.setattr(server_run, "serve_api", serve)
    monkeypatch.setattr(json_log, "setup_logging", lambda *a, **k: None)
    return calls


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--data-dir", "{d}", "--seed", "3", "--start", START],
        ["--data-dir", "{d}", "--seed", "3", "--start", START, "serve"],
        ["--data-dir", "{d}", "--serve", "--seed", "3", "--start", START],
        ["--seed", "9", "serve", "--data-dir", "{d}", "--seed", "3", "--start", START],
    ],
    ids=["after", "before", "--serve", "command wins"],
)
def test_serve_and_its_alias_reach_the_serve_runner(
    tmp_path: Path, served: list[RuntimeOptions], argv: list[str]
) -> None:
    result = invoke(*(a.replace("{d}", str(tmp_path)) for a in argv))
    assert result.exit_code == 0, result.output
    [options] = served
    assert options.data_dir == tmp_path.resolve()
    assert options.seed == 3
    assert options.start_at == datetime(2024, 3, 4, 10, 0, tzinfo=BEIJING)
    assert options.start_at.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("text", ["2024-03-04", "2024-03-04 25:00", "10:00", "tomorrow"])
def test_a_bad_start_names_the_format(served: list[RuntimeOptions], text: str) -> None:
    result = invoke("serve", "--start", text)
    assert result.exit_code == 2
    assert "is not a moment in Beijing time: write YYYY-MM-DD HH:MM" in result.stderr
    assert "Traceback" not in result.output and served == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "3", "backup", "list"], "--seed sets up the simulated market"),
        (["--speed", "0", "serve"], "'0' must be a positive number"),
        (["--serve", "db", "history"], "--serve is an alias of the 'serve' command"),
        (
            ["--start", START, "backtest", "--data", "x.csv", "--cash", "1", "--strategy", "s"],
            "backtest has its own --start DATE, after 'backtest'",
        ),
    ],
)
def test_market_options_where_no_market_runs_are_usage_errors(
    served: list[RuntimeOptions], argv: list[str], message: str
) -> None:
    result = invoke(*argv)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and served == []


def _read_until(stream: Any, text: str, seen: list[str]) -> bool:
    for line in stream:
        seen.append(line)
        if text in line:
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("form", "sig"),
    [(["serve"], signal.SIGTERM), (["--serve"], signal.SIGINT)],
    ids=["serve-SIGTERM", "--serve-SIGINT"],
)
def test_serve_starts_and_stops_cleanly_as_a_process(
    tmp_path: Path, form: list[str], sig: signal.Signals
) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "DEEPALPHA_DATABASE_URL"}
    exe = str(Path(sys.executable).with_name("deepalpha"))
    proc = subprocess.Popen(
        [exe, *form, "--data-dir", str(data), "--start", START],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    # A guard, not a measurement: a process that never says it serves is killed, and the
    # reading below then ends.
    guard = threading.Timer(120, proc.kill)
    guard.start()
    seen: list[str] = []
    try:
        assert _read_until(proc.stderr, "serving headless", seen), "".join(seen[-20:])
        proc.send_signal(sig)
        assert _read_until(proc.stderr, "engine stopped", seen), "".join(seen[-20:])
        seen.extend(proc.stderr)
        code = proc.wait()
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(seen)
    assert code == 0, log
    assert "stopping: persisting open work" in log
    assert "Traceback" not in log
    assert (data / "deepalpha.db").is_file()


# --- db -----------------------------------------------------------------------------------------
def test_db_current_never_creates_a_database(tmp_path: Path) -> None:
    data = tmp_path / "not" / "yet"
    result = invoke("db", "current", "--data-dir", data)
    assert result.exit_code == 1, result.output
    assert f"{data / 'deepalpha.db'}: no database there yet" in " ".join(result.stdout.split())
    assert not (tmp_path / "not").exists()  # neither the file nor its folder

    url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    result = invoke("--database-url", url, "db", "current")
    assert result.exit_code == 1 and "no database there yet" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_db_options_in_either_position(tmp_path: Path) -> None:
    before, after, elsewhere = tmp_path / "before", tmp_path / "after", tmp_path / "elsewhere"
    assert invoke("--data-dir", before, "db", "upgrade").exit_code == 0
    assert invoke("db", "upgrade", "--data-dir", after).exit_code == 0
    for data in (before, after):
        for argv in (["--data-dir", data, "db", "current"], ["db", "current", "--data-dir", data]):
            result = invoke(*argv)
            assert result.exit_code == 0, result.output
            assert f"{head_revision()} (head)" in result.stdout
            assert str(data) in result.stdout.replace("\n", "")
    # In both places: the command's own value wins.
    result = invoke("--data-dir", before, "db", "current", "--data-dir", elsewhere)
    assert result.exit_code == 1 and "elsewhere" in result.stdout


# --- backup -------------------------------------------------------------------------------------
def test_backup_options_in_either_position(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert invoke("db", "upgrade", "--data-dir", data).exit_code == 0
    result = invoke("backup", "create", "--data-dir", data, "--label", "after")
    assert result.exit_code == 0, result.output
    result = invoke("--data-dir", data, "backup", "create", "--label", "before")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (data / "backups").iterdir())
    assert len(names) == 2
    assert names[0].endswith(("-after.tar.gz", "-before.tar.gz"))
    for argv in (["--data-dir", data, "backup", "list"], ["backup", "list", "--data-dir", data]):
        result = invoke(*argv)
        assert result.exit_code == 0, result.output
        assert all(name in result.stdout for name in names)


def _flip(src: Path, dest: Path) -> Path:
    raw = bytearray(src.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    dest.write_bytes(bytes(raw))
    return dest


def test_backup_verify_without_an_archive_verifies_the_newest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = invoke("backup", "verify", "--data-dir", data)
    assert result.exit_code == 1
    assert f"no backups in {data / 'backups'} to verify" in " ".join(result.stderr.split())
    assert "deepalpha backup create" in result.stderr

    assert invoke("db", "upgrade", "--data-dir", data).exit_code == 0
    assert invoke("backup", "create", "--data-dir", data).exit_code == 0
    [good] = (data / "backups").iterdir()
    # An older archive that is damaged: not the newest, so not the one verified.
    _flip(good, good.with_name("deepalpha-backup-20000101-000000-old.tar.gz"))
    result = invoke("backup", "verify", "--data-dir", data)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert f"verifying the newest backup, {good.name}" in said
    assert "every file matches its checksum" in said

    # A newer one that is damaged: that one is verified, and refused.
    newest = _flip(good, good.with_name("deepalpha-backup-20991231-000000-new.tar.gz"))
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "backup", "verify"])
    assert result.exit_code == 2
    assert f"verifying the newest backup, {newest.name}" in " ".join(result.stdout.split())
    assert f"{newest} is damaged" in " ".join(result.stderr.split())


def test_backup_errors_are_one_line(tmp_path: Path) -> None:
    line = one_error_line(invoke("backup", "create", "--data-dir", tmp_path / "empty"))
    assert "no database" in line
    result = invoke("backup", "prune", "--keep-daily", "-1", "--data-dir", tmp_path)
    assert result.exit_code == 2 and "'-1' must be 0 or more" in result.stderr


# --- the console script -------------------------------------------------------------------------
def test_help_and_version_from_the_console_script(tmp_path: Path) -> None:
    exe = shutil.which("deepalpha", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run(
        [exe, "--help"], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert proc.returncode == 0
    for command in ("backtest", "backup", "db", "serve"):
        assert f"  {command} " in proc.stdout
    assert "the command's own value wins" in proc.stdout
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    assert (version.returncode, version.stdout) == (0, f"deepalpha {__version__}\n")
    # --help stays light: none of the heavy libraries is imported to answer it.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from deepalpha.app.cli import main; main(['--help']); "
            "print(sorted(m for m in ('sqlalchemy', 'textual', 'pandas', 'exchange_calendars', "
            "'talib') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().splitlines()[-1] == "[]"
