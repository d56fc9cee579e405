"""``deepalpha users``: add, list, remove, passwd, role, enable/disable, own/disown — through
click's CliRunner on the real command group, and a real terminal (a pty) for the prompt.
The password never reaches a database file, a table, the output or the audit log."""

from __future__ import annotations

import asyncio
import os
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from deepalpha.app.cli import cli
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.server.auth import verify_password
from deepalpha.storage.connect import open_store
from deepalpha.storage.models import TABLES
from deepalpha.storage.users import StoredUser

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "canary-Secret-pw-90210"
NEW_PASSWORD = "second-canary-pw-31337"


def invoke(data: Path, *args: str, stdin: str | None = None, url: str | None = None) -> Result:
    where = ["--data-dir", str(data)] + (["--database-url", url] if url else [])
    return CliRunner().invoke(cli, ["users", *args, *where], input=stdin)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


def error(result: Result) -> str:
    """A user error: exit status 2 and one line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepalpha: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0].removeprefix("deepalpha: error: ")


def add(data: Path, name: str, role: str, url: str | None = None) -> str:
    return ok(
        invoke(
            data, "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n", url=url
        )
    )


def user(data: Path, name: str, url: str | None = None) -> StoredUser | None:
    async def read() -> StoredUser | None:
        store = await open_store(url, data)
        try:
            return await store.get_user(name)
        finally:
            await store.close()

    return asyncio.run(read())


def make_traders(data: Path, url: str | None = None) -> None:
    async def write() -> None:
        store = await open_store(url, data)
        try:
            await store.save_trader(TraderConfig("t1", "Alpha", TraderKind.DISCRETIONARY))
            await store.save_trader(TraderConfig("t2", "Beta", TraderKind.AI))
            await store.save_trader(TraderConfig("t3", "Beta", TraderKind.AI))  # same name
        finally:
            await store.close()

    asyncio.run(write())


def listing(data: Path, url: str | None = None) -> list[list[str]]:
    lines = ok(invoke(data, "list", url=url)).splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "DISABLED", "TRADERS"]
    return [line.split(None, 3) for line in lines[1:]]


# --- add, list, remove ----------------------------------------------------------------------
def test_add_list_remove(database_url: str, tmp_path: Path) -> None:
    url = database_url
    assert add(tmp_path, "alice", "admin", url) == "added alice (admin)\n"
    assert add(tmp_path, "bob", "trader", url) == "added bob (trader)\n"
    assert ok(
        invoke(
            tmp_path, "add", "vic", "--role", "Viewer", "--password-stdin", stdin=PASSWORD, url=url
        )
    )
    assert listing(tmp_path, url) == [
        ["alice", "admin", "no", "—"],
        ["bob", "trader", "no", "—"],
        ["vic", "viewer", "no", "—"],
    ]
    stored = user(tmp_path, "alice", url)
    assert stored is not None and verify_password(stored.password_hash, PASSWORD)
    assert "argon2" not in ok(invoke(tmp_path, "list", url=url))  # never the hash

    assert ok(invoke(tmp_path, "remove", "vic", url=url)) == "removed vic\n"
    assert [row[0] for row in listing(tmp_path, url)] == ["alice", "bob"]
    assert error(invoke(tmp_path, "remove", "vic", url=url)) == (
        "no user 'vic'; see 'deepalpha users list'"
    )


def test_what_add_refuses(tmp_path: Path) -> None:
    add(tmp_path, "alice", "admin")

    def refused(*args: str, stdin: str | None = PASSWORD + "\n") -> str:
        return error(invoke(tmp_path, "add", *args, stdin=stdin))

    assert (
        refused("alice", "--role", "viewer", "--password-stdin")
        == "there is already a user 'alice'"
    )
    assert refused("ALICE", "--role", "viewer", "--password-stdin") == (
        "there is already a user 'alice' (a name differing from 'ALICE' in case)"
    )
    assert refused("carol", "--role", "root", "--password-stdin") == (
        "unknown role 'root': choose admin, trader or viewer"
    )
    assert refused("has space", "--role", "viewer", "--password-stdin") == (
        "'has space' is not a valid user name: use letters, digits and . _ @ -, "
        "starting with a letter or digit"
    )
    assert refused("carol", "--role", "viewer", "--password-stdin", stdin="short-pw\n") == (
        "a password needs at least 12 characters (this one has 8)"
    )
    assert refused("carol", "--role", "viewer", "--password-stdin", stdin="") == (
        "--password-stdin: standard input is empty; pipe the password in, e.g. "
        "printf '%s\\n' \"$PASSWORD\" | deepalpha users add …"
    )
    # No terminal and no --password-stdin: nothing to ask at, and said so.
    assert refused("carol", "--role", "viewer", stdin=PASSWORD + "\n") == (
        "no terminal to ask for the password at; pipe it in with --password-stdin"
    )
    missing_role = invoke(tmp_path, "add", "carol", "--password-stdin", stdin=PASSWORD)
    assert missing_role.exit_code == 2 and "Missing option '--role'" in missing_role.stderr
    assert [row[0] for row in listing(tmp_path)] == ["alice"]


def test_questions_never_create_a_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = invoke(data, "list")
    assert result.exit_code == 1
    assert result.stdout == (
        f"there is no database at {data / 'deepalpha.db'} yet, so no users "
        "('deepalpha users add' creates it)\n"
    )
    assert error(invoke(data, "remove", "alice")).startswith(
        f"there is no database at {data / 'deepalpha.db'} yet, so no users; add one with"
    )
    assert not data.exists()
    add(data, "alice", "admin")  # add does create it
    assert (data / "deepalpha.db").exists()


def test_an_empty_database_lists_no_users(tmp_path: Path) -> None:
    make_traders(tmp_path)
    assert ok(invoke(tmp_path, "list")) == (
        "no users yet; add one with 'deepalpha users add NAME --role admin'\n"
    )


def test_the_shared_options_go_before_the_command_too(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(tmp_path),
            "users",
            "add",
            "alice",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=PASSWORD,
    )
    assert ok(result) == "added alice (admin)\n"
    assert user(tmp_path, "alice") is not None


# --- passwd, role, enable, disable ----------------------------------------------------------
def test_passwd(tmp_path: Path) -> None:
    add(tmp_path, "alice", "admin")
    before = user(tmp_path, "alice")
    out = ok(invoke(tmp_path, "passwd", "alice", "--password-stdin", stdin=NEW_PASSWORD + "\n"))
    assert out == "new password set for alice\n"
    after = user(tmp_path, "alice")
    assert before is not None and after is not None
    assert verify_password(after.password_hash, NEW_PASSWORD)
    assert not verify_password(after.password_hash, PASSWORD)
    # An unknown user is said before any password is read.
    assert error(invoke(tmp_path, "passwd", "zed", "--password-stdin", stdin="")) == (
        "no user 'zed'; see 'deepalpha users list'"
    )
    assert (
        error(invoke(tmp_path, "passwd", "alice", "--password-stdin", stdin="tiny\n"))
        == "a password needs at least 12 characters (this one has 4)"
    )
    still = user(tmp_path, "alice")
    assert still is not None and verify_password(still.password_hash, NEW_PASSWORD)


def test_role_enable_disable(tmp_path: Path) -> None:
    add(tmp_path, "bob", "trader")
    assert ok(invoke(tmp_path, "role", "bob", "viewer")) == "bob: trader → viewer\n"
    assert ok(invoke(tmp_path, "role", "bob", "viewer")) == "bob is already a viewer\n"
    assert error(invoke(tmp_path, "role", "bob", "god")) == (
        "unknown role 'god': choose admin, trader or viewer"
    )
    assert error(invoke(tmp_path, "role", "zed", "admin")).startswith("no user 'zed'")
    assert ok(invoke(tmp_path, "disable", "bob")) == "bob is disabled: it cannot log in\n"
    assert listing(tmp_path) == [["bob", "viewer", "yes", "—"]]
    assert ok(invoke(tmp_path, "enable", "bob")) == "bob is enabled\n"
    assert listing(tmp_path) == [["bob", "viewer", "no", "—"]]
    assert error(invoke(tmp_path, "disable", "zed")).startswith("no user 'zed'")


# --- own, disown ----------------------------------------------------------------------------
def test_own_and_disown(database_url: str, tmp_path: Path) -> None:
    url = database_url
    make_traders(tmp_path, url)
    add(tmp_path, "alice", "admin", url)
    add(tmp_path, "bob", "trader", url)
    add(tmp_path, "carol", "trader", url)

    assert ok(invoke(tmp_path, "own", "bob", "t1", "t2", url=url)) == (
        "bob owns t1 (Alpha)\nbob owns t2 (Beta)\n"
    )
    assert listing(tmp_path, url) == [
        ["alice", "admin", "no", "—"],
        ["bob", "trader", "no", "t1 (Alpha), t2 (Beta)"],
        ["carol", "trader", "no", "—"],
    ]
    # By name when only one trader has it; a trader has one owner.
    assert ok(invoke(tmp_path, "own", "carol", "Alpha", url=url)) == (
        "carol owns t1 (Alpha), was bob's\n"
    )
    known = "t1 (Alpha), t2 (Beta), t3 (Beta)"
    assert error(invoke(tmp_path, "own", "carol", "Beta", url=url)) == (
        f"2 traders are named 'Beta'; give the id: {known}"
    )
    assert error(invoke(tmp_path, "own", "carol", "t3", "nope", url=url)) == (
        f"no trader 'nope'; the traders are: {known}"
    )
    assert error(invoke(tmp_path, "own", "alice", "t3", url=url)) == (
        "alice is an admin: only a trader-role user owns traders "
        "(an admin acts on all of them, a viewer on none)"
    )
    assert error(invoke(tmp_path, "own", "zed", "t3", url=url)).startswith("no user 'zed'")
    missing = invoke(tmp_path, "own", "bob", url=url)
    assert missing.exit_code == 2 and "Missing argument 'TRADER...'" in missing.stderr

    async def owners() -> dict[str, str | None]:
        store = await open_store(url, tmp_path)
        try:
            return {t: await store.trader_owner(t) for t in ("t1", "t2", "t3")}
        finally:
            await store.close()

    assert asyncio.run(owners()) == {"t1": "carol", "t2": "bob", "t3": None}  # nothing half-done

    assert ok(invoke(tmp_path, "disown", "t2", "t3", url=url)) == (
        "t2 (Beta) has no owner (was bob's)\nt3 (Beta) has no owner\n"
    )
    assert ok(invoke(tmp_path, "remove", "carol", url=url)) == "removed carol; no owner now: t1\n"
    assert asyncio.run(owners()) == {"t1": None, "t2": None, "t3": None}


# --- the password stays out of everything ---------------------------------------------------
def test_the_password_is_in_no_database_file(tmp_path: Path) -> None:
    """The SQLite file, its WAL and shared memory hold the hash, never the password. A reader
    keeps a connection open so the WAL is not checkpointed away before it is read."""
    add(tmp_path, "alice", "admin")
    db = tmp_path / "deepalpha.db"
    reader = sqlite3.connect(db)
    try:
        reader.execute("SELECT count(*) FROM users").fetchone()
        add(tmp_path, "bob", "trader")
        ok(invoke(tmp_path, "passwd", "alice", "--password-stdin", stdin=NEW_PASSWORD))
        files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
        assert db.with_name("deepalpha.db-wal") in files
        blob = b"".join(p.read_bytes() for p in files)
        stored = user(tmp_path, "alice")
        assert stored is not None and stored.password_hash.encode() in blob  # the grep can see
        for secret in (PASSWORD, NEW_PASSWORD):
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                assert secret.encode(encoding) not in blob
    finally:
        reader.close()


def test_the_password_is_in_no_table_and_changes_are_audited(
    database_url: str, tmp_path: Path
) -> None:
    add(tmp_path, "alice", "admin", database_url)
    ok(
        invoke(
            tmp_path, "passwd", "alice", "--password-stdin", stdin=NEW_PASSWORD, url=database_url
        )
    )
    ok(invoke(tmp_path, "role", "alice", "viewer", url=database_url))

    async def everything() -> tuple[str, list[tuple[str, str]]]:
        store = await open_store(database_url, tmp_path)
        try:
            async with store.engine.connect() as conn:
                rows = [
                    repr(row)
                    for t in TABLES
                    for row in (await conn.execute(text(f"SELECT * FROM {t.name}"))).all()
                ]
                audit = (
                    await conn.execute(text("SELECT action, subject FROM audit_log ORDER BY time"))
                ).all()
            return "\n".join(rows), [(a, s) for a, s in audit]
        finally:
            await store.close()

    rows, audit = asyncio.run(everything())
    assert "$argon2id$" in rows
    assert PASSWORD not in rows and NEW_PASSWORD not in rows
    assert audit == [("user.add", "alice"), ("user.passwd", "alice"), ("user.role", "alice")]


# --- at a real terminal ---------------------------------------------------------------------
class Terminal:
    """The command on a pseudo-terminal of its own, in a new session (so that it can never
    reach the terminal this test runs in)."""

    def __init__(self, *args: str) -> None:
        self.master, slave = os.openpty()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deepalpha", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = ""
        self.pos = 0

    def read(self, timeout: float = 0.2) -> str:
        chunk = b""
        while select.select([self.master], [], [], timeout)[0]:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # the other end closed
                break
            if not data:
                break
            chunk += data
            timeout = 0.05
        self.seen += chunk.decode(errors="replace")
        return self.seen

    def expect(self, wanted: str, timeout: float = 30.0) -> None:
        """Wait for ``wanted`` after what the last expect matched."""
        deadline = time.monotonic() + timeout
        while (at := self.seen.find(wanted, self.pos)) < 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.read()
                if (at := self.seen.find(wanted, self.pos)) >= 0:
                    break
                raise AssertionError(f"never saw {wanted!r}; the terminal showed {self.seen!r}")
            self.read()
        self.pos = at + len(wanted)

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def finish(self) -> int:
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still waiting for input after a failed expect
            self.proc.kill()
            code = self.proc.wait()
        self.read()
        os.close(self.master)
        return code


def test_the_password_is_asked_twice_at_a_terminal(tmp_path: Path) -> None:
    term = Terminal("users", "add", "alice", "--role", "admin", "--data-dir", str(tmp_path))
    try:
        term.expect("New password for alice:")
        term.type("too-short")
        term.expect("a password needs at least 12 characters (this one has 9)")
        term.expect("New password for alice:")
        term.type(PASSWORD)
        term.expect("Repeat it:")
        term.type("a-different-one-entirely")
        term.expect("do not match")
        term.expect("New password for alice:")
        term.type(PASSWORD)
        term.expect("Repeat it:")
        term.type(PASSWORD)
        term.expect("added alice (admin)")
    finally:
        code = term.finish()
    assert code == 0, term.seen
    assert PASSWORD not in term.seen and "too-short" not in term.seen  # never echoed
    stored = user(tmp_path, "alice")
    assert stored is not None and verify_password(stored.password_hash, PASSWORD)


def test_a_terminal_asks_no_password_for_a_user_that_does_not_exist(tmp_path: Path) -> None:
    add(tmp_path, "alice", "admin")
    term = Terminal("users", "passwd", "zed", "--data-dir", str(tmp_path))
    code = term.finish()
    assert code == 2
    assert "deepalpha: error: no user 'zed'" in term.seen and "password" not in term.seen.lower()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["users", "--help"], "viewer  reads only"),
        (["users", "add", "--help"], "--password-stdin"),
        (["--help"], "users"),
    ],
)
def test_help(args: list[str], shown: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and shown in result.stdout
