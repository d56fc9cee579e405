"""``deepalpha connect URL`` and ``--connect URL``: sign-in, the refresh token kept in the keyring,
and one clear line for a server out of reach or a wrong password. The server is a live
``deepalpha serve`` on loopback (in a thread: the CLI runs its own event loops); the workstation
it would open is replaced by a recorder, the TUI attached being tested in test_tui_remote.py."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from click.testing import CliRunner, Result
from keyring.backend import KeyringBackend

from deepalpha.app import cli as cli_module
from deepalpha.app.cli import cli
from deepalpha.app.remote_backend import RemoteBackend
from deepalpha.app.runtime import RuntimeOptions
from tests.fake_openai import closed_port
from tests.remote_support import PASSWORD, SECRET, serving


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps its secrets in this process (the machine has no keyring service)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.kept.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.kept[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.kept.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    kept = MemoryKeyring()
    keyring.set_keyring(kept)
    try:
        yield kept
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[RemoteBackend]:
    """The backends the workstation would have been opened on."""
    seen: list[RemoteBackend] = []

    def record(backend: RemoteBackend) -> int:
        seen.append(backend)
        return 0

    monkeypatch.setattr(cli_module, "_open_remote", record)
    return seen


@contextlib.contextmanager
def server_thread(tmp_path: Path) -> Iterator[str]:
    """A live server in its own thread and event loop; its URL."""
    ready = threading.Event()
    url: list[str] = []
    loop_box: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def main() -> None:
        options = RuntimeOptions(data_dir=tmp_path / "data", speed=60, auto_backup=False)
        stop = asyncio.Event()
        async with serving(options) as s:
            url.append(s.where.url)
            loop_box.append((asyncio.get_running_loop(), stop))
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(60), "the server did not start"
        yield url[0]
    finally:
        if loop_box:
            loop, stop = loop_box[0]
            loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepalpha: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--connect", "http://127.0.0.1:8700", "serve"], "does not go with 'serve'"),
        (["--connect", "http://127.0.0.1:8700", "--serve"], "does not go with --serve"),
        (["--connect", "http://127.0.0.1:8700", "--speed", "5"], "the server's engine has"),
        (["--user", "ada"], "--user goes with --connect URL"),
        (["--seed", "3", "connect", "http://127.0.0.1:8700"], "--seed sets up the simulated"),
    ],
)
def test_connect_with_what_belongs_elsewhere_is_a_usage_error(
    opened: list[RemoteBackend], argv: list[str], message: str
) -> None:
    result = invoke(*argv)
    assert result.exit_code == 2 and message in " ".join(result.stderr.split())
    assert opened == []


def test_a_server_out_of_reach_and_a_bad_address_are_one_line(
    opened: list[RemoteBackend],
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    line = one_error_line(invoke("connect", url, "--user", "ada", stdin="pw\n"))
    assert f"cannot reach {url}" in line and "is `deepalpha serve` running there?" in line
    line = one_error_line(invoke("--connect", "ftp://example.org"))
    assert "is not a server address: write http://HOST:PORT" in line
    assert opened == []


def test_sign_in_keeps_the_session_and_the_next_connect_asks_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    opened: list[RemoteBackend],
) -> None:
    monkeypatch.setenv("DEEPALPHA_JWT_SECRET", SECRET)
    with server_thread(tmp_path) as url:
        # A wrong password: one line, nothing kept, nothing opened.
        wrong = invoke("connect", url, "--user", "ada", stdin="guess\n")
        line = one_error_line(wrong)
        assert f"cannot sign in to {url} as ada: wrong name or password" in line
        assert "guess" not in wrong.output and memory_keyring.kept == {} and opened == []

        # Name and password asked (the password hidden), the refresh token kept.
        first = invoke("connect", url, stdin=f"ada\n{PASSWORD}\n")
        assert first.exit_code == 0, first.output
        assert "Name:" in first.output and "Password:" in first.output
        assert PASSWORD not in first.output
        [backend] = opened
        assert backend.url == url and backend.tokens.role == "admin"
        kept = memory_keyring.kept[("deepalpha", f"refresh:{url}")]
        assert kept == backend.tokens.refresh

        # The next time (the alias, the address written without a scheme) asks nothing.
        again = invoke("--connect", url.removeprefix("http://"))
        assert again.exit_code == 0, again.output
        assert "Password" not in again.output and len(opened) == 2
        assert opened[1].tokens.role == "admin"
        assert memory_keyring.kept[("deepalpha", f"refresh:{url}")] != kept  # renewed

        # Another user than the kept session's: asked for a password.
        other = invoke("connect", url, "--user", "tina", stdin=f"{PASSWORD}\n")
        assert other.exit_code == 0 and "Password:" in other.output
        assert opened[2].tokens.role == "trader"


def test_without_a_keyring_it_says_so_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[RemoteBackend]
) -> None:
    monkeypatch.setenv("DEEPALPHA_JWT_SECRET", SECRET)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    previous: Any = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with server_thread(tmp_path) as url:
            result = invoke("connect", url, "--user", "ada", stdin=f"{PASSWORD}\n")
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 0, result.output
    assert "no keyring to keep the session in" in result.stderr
    assert "you will be asked to sign in next time" in result.stderr
    assert len(opened) == 1
