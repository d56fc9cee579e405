"""A live ``deepalpha serve`` on loopback for tests: the real engine, the real ASGI server, users.

async with live_server(tmp_path) as live:
    http = await live.client("ada")          # an httpx client signed in as ada (admin)
    r = await http.get("/api/v1/traders")
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from deepalpha.app.runtime import RuntimeOptions
from deepalpha.server.auth import hash_password
from deepalpha.server.run import Served, served

SECRET = "a-test-signing-secret-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery staple"
# name → role; tina owns the demo "you" trader, tom owns nothing.
USERS = {"ada": "admin", "tina": "trader", "tom": "trader", "vic": "viewer"}
OWNED = {"you": "tina"}


@dataclass
class Live:
    served: Served
    url: str
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def backend(self) -> Any:
        return self.served.backend

    async def token(self, name: str, password: str = PASSWORD) -> str:
        async with httpx.AsyncClient(base_url=self.url) as http:
            r = await http.post("/api/v1/auth/login", json={"name": name, "password": password})
            assert r.status_code == 200, r.text
            token: str = r.json()["access_token"]
            return token

    async def client(self, name: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {await self.token(name)}"} if name else {}
        http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)
        self.clients.append(http)
        return http

    @contextlib.asynccontextmanager
    async def stream(self, name: str = "ada") -> AsyncIterator[Any]:
        ws_url = self.url.replace("http://", "ws://") + "/api/v1/ws"
        async with websockets.connect(ws_url) as socket:
            await socket.send(json.dumps({"type": "auth", "token": await self.token(name)}))
            welcome = json.loads(await socket.recv())
            assert welcome["type"] == "welcome", welcome
            yield socket


async def next_of(socket: Any, want: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """The next message whose keys match ``want`` (other messages are skipped)."""
    import asyncio

    async def find() -> dict[str, Any]:
        while True:
            message = json.loads(await socket.recv())
            if all(message.get(k) == v for k, v in want.items()):
                return message  # type: ignore[no-any-return]

    return await asyncio.wait_for(find(), timeout)


@contextlib.asynccontextmanager
async def live_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: str
) -> AsyncIterator[Live]:
    monkeypatch.setenv("DEEPALPHA_JWT_SECRET", SECRET)
    for key, value in settings.items():
        monkeypatch.setenv(f"DEEPALPHA_SERVER__{key.upper()}", value)
    options = RuntimeOptions(
        data_dir=tmp_path / "data", speed=600, tick_interval=0.1, auto_backup=False
    )
    async with served(options, host="127.0.0.1", port=0) as s:
        store = s.backend.runtime.store
        hashed = hash_password(PASSWORD)
        known = {u.name for u in await store.list_users()}
        for name, role in USERS.items():
            if name not in known:
                await store.add_user(name, role, hashed)
        for trader, owner in OWNED.items():
            await store.set_trader_owner(trader, owner)
        live = Live(s, s.where.url)
        try:
            yield live
        finally:
            for http in live.clients:
                await http.aclose()
