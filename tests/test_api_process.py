"""``deepalpha serve`` as a process: it listens, streams, and on SIGTERM says "going away" to
every stream, finishes, persists and exits 0; it refuses a public address it cannot protect."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.api_support import PASSWORD, SECRET

ROOT = Path(__file__).resolve().parents[1]


def _serve(tmp_path: Path, *args: str, secret: str | None = SECRET) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPALPHA_DATABASE_URL",)}
    env.pop("DEEPALPHA_JWT_SECRET", None)
    if secret is not None:
        env["DEEPALPHA_JWT_SECRET"] = secret
    return subprocess.Popen(
        [sys.executable, "-m", "deepalpha", "serve", "--data-dir", str(tmp_path / "data"), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _add_user(tmp_path: Path, name: str, role: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deepalpha", "users", "add", name, "--role", role,
         "--password-stdin", "--data-dir", str(tmp_path / "data")],
        input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _url(proc: subprocess.Popen[str], seen: list[str]) -> str:
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        found = re.search(r"the API at (http://[0-9.]+:[0-9]+)", line)
        if found:
            return found.group(1)
    raise AssertionError("serve never said where it listens:\n" + "".join(seen[-20:]))


@pytest.mark.slow
def test_sigterm_closes_streams_with_going_away_and_exits_0(tmp_path: Path) -> None:
    _add_user(tmp_path, "ada", "admin")
    proc = _serve(tmp_path, "--port", "0")
    guard = threading.Timer(120, proc.kill)
    guard.start()
    seen: list[str] = []
    try:
        url = _url(proc, seen)
        # Signed in over HTTP: the token is the server's, dated by its own clock.
        login = httpx.post(f"{url}/api/v1/auth/login", json={"name": "ada", "password": PASSWORD})
        access = login.json()["access_token"]

        async def stream() -> tuple[int, str]:
            ws_url = url.replace("http://", "ws://") + "/api/v1/ws"
            async with websockets.connect(ws_url) as socket:
                await socket.send(json.dumps({"type": "auth", "token": access}))
                assert json.loads(await socket.recv())["type"] == "welcome"
                proc.send_signal(__import__("signal").SIGTERM)
                try:
                    while True:
                        await asyncio.wait_for(socket.recv(), 30)
                except ConnectionClosed as exc:
                    assert exc.rcvd is not None
                    return exc.rcvd.code, exc.rcvd.reason

        code, reason = asyncio.run(stream())
        assert code == 1001 and "going away" in reason
        assert proc.stderr is not None
        seen.extend(proc.stderr)
        assert proc.wait(timeout=60) == 0, "".join(seen[-30:])
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(seen)
    order = [log.index(s) for s in ("closing streams", "persisting open work", "engine stopped")]
    assert order == sorted(order), log[-3000:]
    assert "Traceback" not in log and SECRET not in log and PASSWORD not in log
    assert access not in log  # the token is stripped from the access log


@pytest.mark.slow
@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "needs a token signing secret: set DEEPALPHA_JWT_SECRET"),
        ("short", "needs a strong token signing secret"),
        (SECRET, "needs a user: deepalpha users add NAME --role admin"),
    ],
    ids=["no-secret", "weak-secret", "no-user"],
)
def test_a_public_address_is_refused_until_it_can_be_protected(
    tmp_path: Path, secret: str | None, message: str
) -> None:
    proc = _serve(tmp_path, "--host", "0.0.0.0", "--port", "0", secret=secret)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert message in err and "Traceback" not in err
    if secret:
        assert secret not in err
