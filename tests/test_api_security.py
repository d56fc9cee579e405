"""Who may do what on the API: roles, ownership, tokens, the login limit, and canaries that
must be found nowhere a secret could leak to."""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import tarfile
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from deepalpha.server.auth import Role, TokenService
from deepalpha.server.run import ServeRefused, signing_secret
from tests.api_support import PASSWORD, SECRET, live_server

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# A valid-looking body and path for every command, so that only the role can refuse it.
ORDER = {"trader_id": "you", "symbol": "600519.SH", "side": "buy", "quantity": 100}
TRADER = {"trader": {"id": "you", "name": "You", "kind": "discretionary"}}
BODIES: dict[str, Any] = {
    "/api/v1/orders": ORDER,
    "/api/v1/market/speed": {"speed": 60},
    "/api/v1/market/pause": {"paused": True},
    "/api/v1/traders/{trader_id}": TRADER,
    "/api/v1/preferences/{key}": {"value": 1},
    "/api/v1/backups": {"label": "x"},
}
PATHS = {"{trader_id}": "you", "{order_id}": "o1", "{proposal_id}": "p1", "{key}": "theme",
         "{backup_id}": "b.tar.gz"}  # fmt: skip
READ_ONLY_POSTS = {"/api/v1/orders/preview", "/api/v1/auth/login", "/api/v1/auth/refresh"}


def _commands(doc: dict[str, Any]) -> list[tuple[str, str, Any]]:
    out = []
    for route, methods in doc["paths"].items():
        for method in methods:
            if method == "get" or route in READ_ONLY_POSTS:
                continue
            url = route
            for name, value in PATHS.items():
                url = url.replace(name, value)
            out.append((method.upper(), url, BODIES.get(route)))
    return out


def test_a_viewer_is_refused_every_command_and_nothing_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            viewer = await live.client("vic")
            commands = _commands((await viewer.get("/api/v1/openapi.json")).json())
            assert len(commands) >= 15, commands
            for method, url, body in commands:
                r = await viewer.request(method, url, json=body)
                assert r.status_code == 403, (method, url, r.status_code, r.text)
                assert r.json()["code"] == "forbidden"
            mine = await viewer.get("/api/v1/orders", params={"trader_id": "you"})
            assert mine.json()["items"] == []
            assert (await viewer.get("/api/v1/status")).json()["paused"] is False

    run(scenario())


def test_a_trader_acts_only_on_their_own_traders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            tom, tina = await live.client("tom"), await live.client("tina")
            r = await tom.post("/api/v1/orders", json=ORDER)
            assert r.status_code == 403 and r.json()["code"] == "not_your_trader"
            assert "you" in r.json()["message"]
            for url in ("/api/v1/traders/you/stop", "/api/v1/orders/cancel-all?trader_id=you"):
                r = await tom.post(url)
                assert r.status_code == 403, (url, r.text)
            r = await tina.post("/api/v1/traders/sma-bot/stop")
            assert r.status_code == 403 and r.json()["code"] == "not_your_trader"
            r = await tina.post("/api/v1/orders/cancel-all")
            assert r.status_code == 403  # every trader's orders: admin only
            r = await tina.post("/api/v1/traders/you/stop")
            assert r.status_code == 200 and r.json()["running"] is False
            r = await tina.post("/api/v1/market/pause", json={"paused": True})
            assert r.status_code == 403  # the market is the admin's

    run(scenario())


def test_tokens_missing_expired_forged_or_of_the_wrong_kind_are_401(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            now = live.served.api.now
            http = await live.client()
            r = await http.get("/api/v1/traders")
            assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
            assert r.headers["WWW-Authenticate"] == "Bearer"
            past = TokenService(SECRET, now=lambda: now() - timedelta(minutes=16))
            forged = TokenService("another-secret-that-is-long-enough-0123456789ab", now=now)
            pair = TokenService(SECRET, now=now).issue("ada", Role.ADMIN)
            cases = {
                past.issue("ada", Role.ADMIN).access_token: "token_expired",
                forged.issue("ada", Role.ADMIN).access_token: "token_invalid",
                pair.refresh_token: "wrong_token_type",
                pair.access_token[:-4] + "AAAA": "token_invalid",
                "not.a.token": "token_invalid",
            }
            for token, code in cases.items():
                r = await http.get("/api/v1/traders", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 401, (code, r.text)
                assert r.json()["code"] == code, r.json()
                assert token not in r.text
            bearer = {"Authorization": f"Bearer {pair.access_token}"}
            r = await http.get("/api/v1/traders", headers=bearer)
            assert r.status_code == 200
            # A refresh token gives a new pair; an access token does not.
            r = await http.post("/api/v1/auth/refresh", json={"refresh_token": pair.refresh_token})
            assert r.status_code == 200 and r.json()["role"] == "admin"
            r = await http.post("/api/v1/auth/refresh", json={"refresh_token": pair.access_token})
            assert r.status_code == 401

    run(scenario())


def test_login_is_rate_limited_and_says_when_to_try_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            http = await live.client()
            for _ in range(5):
                r = await http.post("/api/v1/auth/login", json={"name": "ada", "password": "nope"})
                assert r.status_code == 401 and r.json()["code"] == "bad_credentials"
            r = await http.post("/api/v1/auth/login", json={"name": "ada", "password": PASSWORD})
            assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            # Another name from the same client is not locked out by ada's failures.
            r = await http.post("/api/v1/auth/login", json={"name": "vic", "password": PASSWORD})
            assert r.status_code == 200
            # An unknown name fails exactly like a wrong password.
            r = await http.post("/api/v1/auth/login", json={"name": "zed", "password": PASSWORD})
            assert r.status_code == 401 and r.json()["message"] == "wrong name or password"

    run(scenario())


def test_a_public_address_needs_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    async def users() -> int:
        return 1

    async def check(host: str) -> str:
        return await signing_secret(host, users)

    monkeypatch.setattr("deepalpha.server.auth.load_signing_secret", lambda *a, **k: None)
    with pytest.raises(ServeRefused, match="needs a token signing secret"):
        asyncio.run(check("0.0.0.0"))
    monkeypatch.setattr("deepalpha.server.auth.load_signing_secret", lambda *a, **k: "short")
    with pytest.raises(ServeRefused, match="needs a strong token signing secret"):
        asyncio.run(check("10.1.2.3"))
    assert asyncio.run(check("127.0.0.1")) == "short"  # loopback: the person's own machine


CANARY_PASSWORD = "canary-password-7f3a9c1e-do-not-leak"


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _archive_bytes(path: Path) -> bytes:
    out = b""
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            f = tar.extractfile(member)
            if f is not None:
                data = f.read()
                out += gzip.decompress(data) if member.name.endswith(".gz") else data
    return out


def test_the_secret_and_a_password_are_found_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []

    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            from deepalpha.server.auth import hash_password

            store = live.backend.runtime.store
            await store.add_user("canary", "admin", hash_password(CANARY_PASSWORD))
            http = await live.client()
            login = {"name": "canary", "password": CANARY_PASSWORD}
            r = await http.post("/api/v1/auth/login", json=login)
            bodies.append(r.text)
            token = r.json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            for url in ("/api/v1/traders", "/api/v1/auth/me", "/api/v1/openapi.json"):
                bodies.append((await http.get(url)).text)
            wrong = {"name": "canary", "password": "wrong " + CANARY_PASSWORD}
            r = await http.post("/api/v1/auth/login", json=wrong)
            bodies.append(r.text)
            r = await http.post("/api/v1/backups", json={"label": "canary"})
            assert r.status_code == 201, r.text
            bodies.append(r.text)

    run(scenario())
    data = tmp_path / "data"
    stored = b"".join(p.read_bytes() for p in _files_under(data))
    archives = [p for p in _files_under(data) if p.name.endswith(".tar.gz")]
    assert archives, "the backup was not made"
    unpacked = b"".join(_archive_bytes(p) for p in archives)
    logs = "\n".join(r.getMessage() + repr(getattr(r, "fields", "")) for r in caplog.records)
    for canary in (SECRET, CANARY_PASSWORD):
        assert canary.encode() not in stored, "in the data directory"
        assert canary.encode() not in unpacked, "in a backup"
        assert canary not in logs, "in a log line"
        assert all(canary not in b for b in bodies), "in a response"
    assert re.search(r"\$argon2id\$", stored.decode("latin-1")), "the hash is what is kept"
