"""`deepalpha db upgrade | current | history` on SQLite and Postgres."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepalpha.app.cli import main
from deepalpha.storage.migrate import head_revision


def test_db_commands(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--data-dir", str(tmp_path), "--database-url", database_url]
    # An empty database (on SQLite: an empty file; 'db current' never creates one).
    (tmp_path / "deepalpha.db").touch()
    assert main([*base, "db", "current"]) == 0
    assert "empty (no schema yet)" in capsys.readouterr().out
    assert main([*base, "db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"empty → {head_revision()}" in out
    assert main([*base, "db", "upgrade"]) == 0
    assert f"already at {head_revision()}" in capsys.readouterr().out
    assert main([*base, "db", "current"]) == 0
    out = capsys.readouterr().out
    assert f"{head_revision()} (head)" in out
    assert "@" not in out or "postgres@" in out  # never a password


def test_db_history_lists_every_revision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{head_revision()}  ") and lines[0].endswith("(head)")
    assert lines[-1].startswith("0001  initial schema")


def test_db_on_a_file_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "deepalpha.db").write_text("hello", "utf-8")
    assert main(["--data-dir", str(tmp_path), "db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "is not a SQLite database" in err and "Traceback" not in err


def test_database_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "elsewhere" / "x.db"
    monkeypatch.setenv("DEEPALPHA_DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    assert main(["--data-dir", str(tmp_path / "data"), "db", "upgrade"]) == 0
    assert str(db) in capsys.readouterr().out
    assert db.exists() and not (tmp_path / "data" / "deepalpha.db").exists()


CANARY = "canary-pw-7f3a9"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            f"postgresql+asyncpg://postgres@{{host}}/deepalpha_nowhere?password={CANARY}",
            "does not exist",
        ),
        (
            f"postgresql+asyncpg://nobody_x@{{host}}/test?sslmode=disable&password={CANARY}",
            "nobody_x",
        ),
        (f"postgresql+asyncpg://postgres:{CANARY}@127.0.0.1:1/x", "cannot reach"),
        (f"postgresql+asyncpg://postgres@{{host}}/test?bogus=1&password={CANARY}", "bogus"),
        (f"mysql://u:{CANARY}@h/x?password={CANARY}", "unsupported database"),
    ],
)
@pytest.mark.parametrize("action", ["current", "upgrade"])
def test_a_bad_database_url_is_one_line_without_its_password(
    url: str, says: str, action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.db import PG_HOST, PG_PORT

    url = url.replace("{host}", f"{PG_HOST}:{PG_PORT}")
    assert main(["--data-dir", str(tmp_path), "--database-url", url, "db", action]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert says in err and len(err.splitlines()) == 1, err
    assert CANARY not in captured.out + captured.err
    assert "Traceback" not in err


def test_a_password_in_the_query_is_used_and_hidden() -> None:
    from deepalpha.storage.database import explain, resolve

    target = resolve(f"postgresql://me@db:5432/x?sslmode=require&password={CANARY}", Path("."))
    assert target.display == "postgresql+asyncpg://me@db:5432/x?password=***&ssl=require"
    assert target.secrets == [CANARY]
    message = str(explain(RuntimeError(f"auth failed for password {CANARY}"), target))
    assert CANARY not in message and "***" in message
