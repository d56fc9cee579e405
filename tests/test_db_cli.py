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
