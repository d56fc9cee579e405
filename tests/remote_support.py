"""A ``RemoteBackend`` signed in to a live ``deepalpha serve`` on loopback, for tests.

    async with attached(RuntimeOptions(data_dir=d, ...)) as (backend, server):
        await backend.place_order(...)        # over HTTP, to the engine in ``server``

The server is the real one (``served``: the engine, uvicorn, the stream) on a free port, with an
admin ``ada`` and a trader-role ``tina`` who owns the demo "you" trader.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from deepalpha.app.remote_backend import RemoteBackend
from deepalpha.app.remote_session import sign_in
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.server.auth import hash_password
from deepalpha.server.run import Served, served

SECRET = "a-test-signing-secret-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery staple"
USERS = {"ada": "admin", "tina": "trader"}
OWNED = {"you": "tina"}


@functools.cache
def _hashed() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: once per test process


@contextlib.asynccontextmanager
async def serving(options: RuntimeOptions, port: int = 0) -> AsyncIterator[Served]:
    """``deepalpha serve`` on 127.0.0.1 (``port`` 0: a free one) with the test users."""
    async with served(options, host="127.0.0.1", port=port) as s:
        store = s.backend.runtime.store
        known = {u.name for u in await store.list_users()}
        hashed = _hashed()
        for name, role in USERS.items():
            if name not in known:
                await store.add_user(name, role, hashed)
        for trader, owner in OWNED.items():
            await store.set_trader_owner(trader, owner)
        yield s


async def signed_in(url: str, name: str = "ada", **kwargs: Any) -> RemoteBackend:
    """A started ``RemoteBackend`` signed in as ``name``."""
    backend = RemoteBackend(url, await sign_in(url, name, PASSWORD), **kwargs)
    await backend.start()
    return backend


@contextlib.asynccontextmanager
async def attached(
    options: RuntimeOptions, name: str = "ada", **kwargs: Any
) -> AsyncIterator[tuple[RemoteBackend, Served]]:
    async with serving(options) as s:
        backend = await signed_in(s.where.url, name, **kwargs)
        try:
            yield backend, s
        finally:
            await backend.stop()


class Cable:
    """A TCP forwarder on loopback between a client and a server, that a test can pull out and
    plug in again: the client sees a connection lost (or refused) exactly when the test says,
    whatever the server does meanwhile."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.plugged = True
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Cable:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.unplug()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def unplug(self) -> None:
        self.plugged = False
        for writer in list(self._pipes):
            writer.transport.abort()  # as a pulled cable: no goodbye
        self._pipes.clear()

    def plug(self) -> None:
        self.plugged = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.plugged:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._pipes.discard(writer)
            writer.transport.abort()
