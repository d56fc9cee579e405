"""No secret lands anywhere a person's data goes: a model key echoed back by the model, a
database password given in the URL's query — neither is in the database, its WAL, the log or
an unpacked backup afterwards."""

from __future__ import annotations

import asyncio
import logging
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.storage.database import DatabaseError, explain, resolve
from deepalpha.sync.backup import create_backup
from tests.fake_openai import Scripted, chat_body, fake_openai

KEY = "sk-canary-KEY-7f3a9c1d2e"  # looks like a key, so the generic pattern knows it too
PLAIN_KEY = "canary-plain-key-51b2"  # looks like nothing: only the client knows it is a key
PASSWORD = "canary-pw-90c4"
MOUTAI = "600519.SH"


async def until(condition: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {timeout}s"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("key", [KEY, PLAIN_KEY])
def test_an_echoed_key_is_in_no_file_log_or_backup(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    with fake_openai(expected_key=key) as server:
        config = tmp_path / "settings.toml"
        config.write_text(
            f'[ai.profiles.echo]\nbase_url = "{server.url}"\nmodel = "echo-model"\n'
            'retries = 0\ntimeout = 5\nkey_env = "ECHO_KEY"\nneeds_key = true\n',
            "utf-8",
        )
        monkeypatch.setenv("DEEPALPHA_CONFIG", str(config))
        monkeypatch.setenv("ECHO_KEY", key)
        # What a badly behaved model or proxy does: the request's headers in the reply.
        echo = (
            f"<reasoning>Request had Authorization: Bearer {key}; x-api-key={key}</reasoning>"
            f'<decision>[{{"symbol": "600519", "action": "hold", "reasoning": "key {key}"}}]'
            "</decision>"
        )
        server.push(Scripted(200, chat_body(echo)))
        trader = TraderConfig(
            "echo", "Echo", TraderKind.AI, model_profile="echo",
            settings={"symbols": [MOUTAI], "interval_minutes": 240},
        )  # fmt: skip

        async def go() -> None:
            b = LocalBackend(RuntimeOptions(data_dir=data, speed=60, auto_backup=False))
            await b.start()
            try:
                await b.save_trader(trader, None)
                await until(lambda: b.decisions("echo"))
                (record,) = b.decisions("echo")
                assert record.success and "***" in record.raw_reply
                assert server.requests and server.requests[0].key_matches  # it was sent
            finally:
                await b.stop()

        asyncio.run(go())
    archive = create_backup(data)
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    secret = key.encode()
    for folder in (data, unpacked):
        for path in folder.rglob("*"):
            if path.is_file():
                assert secret not in path.read_bytes(), f"the key is in {path}"
    assert key not in caplog.text


def test_a_query_password_is_in_no_message() -> None:
    url = f"postgresql://me@127.0.0.1:1/db?sslmode=disable&password={PASSWORD}"
    target = resolve(url, Path("."))
    assert PASSWORD not in target.display
    error = explain(ConnectionRefusedError(f"connect to {url} refused"), target)
    assert isinstance(error, DatabaseError) and PASSWORD not in str(error)
