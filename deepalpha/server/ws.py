"""``/api/v1/ws``: authenticate first, subscribe to channels, resume from a sequence number.

Client → server (JSON text frames)::

    {"type": "auth", "token": "<access token>"}            first, within 10 s; again to renew
    {"type": "subscribe", "channels": ["orders", "quotes"], "symbols": ["600519.SH"], "since": 41}
    {"type": "unsubscribe", "channels": ["quotes"]}
    {"type": "ping"}

Server → client: ``welcome`` (the current seq, and the ``epoch`` that seq counts in: another
epoch is another server process, whose events a client resumes from 0), ``subscribed``,
``snapshot`` (the latest quotes), ``event`` (``seq``, ``channel``, ``event``, ``data``; a quote
batch also ``sent``, the server's unix time when it was published), ``resync`` (too far behind:
read the REST lists again, then subscribe without ``since``), ``error``, ``pong``.

Close codes: 4001 not authenticated or token expired, 4008 too slow (reconnect with the last
seq), 1001 the server is going away, 1008 a message that breaks the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from deepalpha.app.views import QuoteView
from deepalpha.server.errors import ApiError
from deepalpha.server.security import Principal
from deepalpha.server.stream import CHANNELS, SLOW_CLIENT, Client, StreamHub

AUTH_TIMEOUT = 10.0
NOT_AUTHENTICATED = 4001
GOING_AWAY = 1001
POLICY = 1008
MAX_MESSAGE = 16 * 1024
# How long a dropped client's 4008 may wait for room in its socket. It was dropped because the
# socket was full, so the close frame goes out only once the client reads again; a client that
# had paused for a few seconds then learns why it must reconnect instead of hearing nothing.
DROP_CLOSE_WAIT = 30.0


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class StreamEndpoint:
    def __init__(
        self,
        hub: StreamHub,
        verify: Callable[[str], Principal],
        now: Callable[[], datetime],
        *,
        on_connect: Callable[[], None] = lambda: None,
        on_disconnect: Callable[[], None] = lambda: None,
    ) -> None:
        self.hub, self.verify, self.now = hub, verify, now
        self.on_connect, self.on_disconnect = on_connect, on_disconnect
        self.sockets: set[WebSocket] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self.closing = False

    def install(self, app: FastAPI) -> None:
        app.add_api_websocket_route("/api/v1/ws", self.handle)

    async def close_all(self) -> None:
        """Going away (a stop): every client is told, so it reconnects elsewhere or later."""
        self.closing = True
        for socket in list(self.sockets):
            with contextlib.suppress(Exception):
                await socket.close(GOING_AWAY, "server going away")

    async def handle(self, socket: WebSocket) -> None:
        await socket.accept()
        if self.closing:
            await socket.close(GOING_AWAY, "server going away")
            return
        who = await self._authenticate(socket)
        if who is None:
            return
        client = self.hub.connect(who.name)
        self.sockets.add(socket)
        self.on_connect()
        sender = asyncio.create_task(self._send(socket, client))
        client.on_overflow = lambda: self._drop(socket, client, sender)
        expiry = asyncio.create_task(self._expire(socket, who))
        try:
            self._reply(client, {"type": "welcome", "seq": self.hub.seq, "epoch": self.hub.epoch,
                                 "user": who.name, "role": who.role,
                                 "channels": list(CHANNELS)})  # fmt: skip
            while True:
                text = await socket.receive_text()
                if len(text) > MAX_MESSAGE:
                    await socket.close(POLICY, "message too large")
                    return
                renewed = self._handle(client, text)
                if renewed is not None:
                    expiry.cancel()
                    expiry = asyncio.create_task(self._expire(socket, renewed))
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client left (or the socket was closed under us)
        finally:
            sender.cancel()
            expiry.cancel()
            self.hub.disconnect(client)
            self.sockets.discard(socket)
            self.on_disconnect()

    async def _authenticate(self, socket: WebSocket) -> Principal | None:
        try:
            text = await asyncio.wait_for(socket.receive_text(), AUTH_TIMEOUT)
            message = json.loads(text)
            if not isinstance(message, dict) or message.get("type") != "auth":
                raise ApiError(401, "auth_first", "send {type: auth, token} first")
            token = message.get("token")
            if not isinstance(token, str):
                raise ApiError(401, "auth_first", "the auth message needs a token")
            return self.verify(token)
        except TimeoutError:
            await socket.close(NOT_AUTHENTICATED, "authenticate within 10 s")
        except (json.JSONDecodeError, UnicodeDecodeError):
            await socket.close(NOT_AUTHENTICATED, "send {type: auth, token} first")
        except ApiError as exc:
            await socket.close(NOT_AUTHENTICATED, exc.message[:120])
        except WebSocketDisconnect:
            pass
        return None

    async def _expire(self, socket: WebSocket, who: Principal) -> None:
        if who.expires_at is None:
            return
        await asyncio.sleep(max(0.0, (who.expires_at - self.now()).total_seconds()))
        with contextlib.suppress(Exception):
            await socket.close(NOT_AUTHENTICATED, "token expired: reconnect with a new one")

    def _drop(self, socket: WebSocket, client: Client, sender: asyncio.Task[None]) -> None:
        """A client too slow for its queue: out of the hub now, its sender stopped (it may be
        stuck writing to a full socket), then told why once the socket takes a frame again."""
        self.hub.disconnect(client)
        sender.cancel()

        async def close() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    socket.close(SLOW_CLIENT, "too slow: reconnect with your last seq"),
                    DROP_CLOSE_WAIT,
                )

        task = asyncio.get_running_loop().create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _send(self, socket: WebSocket, client: Client) -> None:
        try:
            while True:
                text = await client.next()
                if text is None:
                    await socket.close(SLOW_CLIENT, "too slow: reconnect with your last seq")
                    return
                await socket.send_text(text)
        except (WebSocketDisconnect, RuntimeError):
            return

    def _reply(self, client: Client, message: dict[str, Any]) -> None:
        # Replies share the event queue so they keep their place among events.
        client.queue.append(_dump(message))
        client.ready.set()

    def _handle(self, client: Client, text: str) -> Principal | None:
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            self._reply(client, {"type": "error", "code": "malformed_json",
                                 "message": "messages are JSON objects"})  # fmt: skip
            return None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            self._reply(client, {"type": "pong", "seq": self.hub.seq})
        elif kind == "auth":
            try:
                who = self.verify(str(message.get("token", "")))
            except ApiError as exc:
                self._reply(client, {"type": "error", "code": exc.code, "message": exc.message})
                return None
            self._reply(client, {"type": "authenticated", "user": who.name})
            return who
        elif kind in ("subscribe", "unsubscribe"):
            self._subscribe(client, message, kind == "subscribe")
        else:
            self._reply(client, {"type": "error", "code": "unknown_type",
                                 "message": f"unknown message type {kind!r}"})  # fmt: skip
        return None

    def _subscribe(self, client: Client, message: dict[str, Any], on: bool) -> None:
        channels = message.get("channels", [])
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            self._reply(client, {"type": "error", "code": "invalid_request",
                                 "message": "channels is a list of names"})  # fmt: skip
            return
        unknown = sorted(set(channels) - set(CHANNELS))
        if unknown:
            self._reply(client, {"type": "error", "code": "unknown_channel",
                                 "message": f"no channel {', '.join(unknown)}; "
                                 f"there are {', '.join(CHANNELS)}"})  # fmt: skip
            return
        if not on:
            client.channels.difference_update(channels)
            self._reply(client, {"type": "unsubscribed", "channels": sorted(client.channels)})
            return
        symbols = message.get("symbols")
        if symbols is not None:
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                self._reply(client, {"type": "error", "code": "invalid_request",
                                     "message": "symbols is a list of symbols"})  # fmt: skip
                return
            client.symbols = {s.upper() for s in symbols}
        since = message.get("since")
        client.channels.update(channels)
        self._reply(client, {"type": "subscribed", "channels": sorted(client.channels),
                             "seq": self.hub.seq})  # fmt: skip
        if "quotes" in channels:
            quotes = self.hub.backend.quotes()
            wanted = client.symbols
            items = [
                QuoteView.of(q).model_dump(mode="json")
                for s, q in quotes.items()
                if wanted is None or s in wanted
            ]
            self._reply(client, {"type": "snapshot", "channel": "quotes", "seq": self.hub.seq,
                                 "data": {"quotes": items}})  # fmt: skip
        if since is not None:
            if not isinstance(since, int) or since < 0:
                self._reply(client, {"type": "error", "code": "invalid_request",
                                     "message": "since is the last seq you received"})  # fmt: skip
            elif not self.hub.replay(client, since):
                self._reply(client, {"type": "resync", "seq": self.hub.seq,
                                     "message": "too far behind: read the lists again, then "
                                     "subscribe without since"})  # fmt: skip
