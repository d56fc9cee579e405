"""``/api/v1/ws`` on a live server: authenticate first, numbered events, resume after a gap,
resync when too far behind, quotes per symbol, and a slow client dropped without slowing others."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket as socket_module
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.api_support import live_server, next_of

T = TypeVar("T")
ORDER = {"trader_id": "you", "symbol": "600519.SH", "side": "buy", "quantity": 100}


def subscribe(*channels: str, **more: Any) -> str:
    return json.dumps({"type": "subscribe", "channels": list(channels), **more})


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _closed_with(socket: Any) -> tuple[int, str]:
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 10)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code, exc.rcvd.reason


def test_the_stream_wants_a_token_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            url = live.url.replace("http://", "ws://") + "/api/v1/ws"
            for first in ('{"type": "subscribe", "channels": ["orders"]}', "hello",
                          '{"type": "auth", "token": "forged.token.here"}'):  # fmt: skip
                async with websockets.connect(url) as socket:
                    await socket.send(first)
                    code, reason = await _closed_with(socket)
                    assert code == 4001 and reason, (first, reason)

    run(scenario())


def test_events_are_numbered_and_a_returning_client_gets_what_it_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            http = await live.client("tina")
            async with live.stream("tina") as socket:
                await socket.send(json.dumps({"type": "subscribe", "channels": ["orders"]}))
                await next_of(socket, {"type": "subscribed"})
                placed = (await http.post("/api/v1/orders", json=ORDER)).json()
                event = await next_of(socket, {"type": "event", "channel": "orders"})
                assert event["data"]["id"] == placed["id"] and event["seq"] > 0
                last = event["seq"]
                # Drain what the order did next, so `last` is where this client really is.
                while True:
                    try:
                        more = await next_of(socket, {"type": "event"}, timeout=1.0)
                    except TimeoutError:
                        break
                    last = more["seq"]
            # Away: two orders happen meanwhile.
            missed = [
                (await http.post("/api/v1/orders", json=ORDER)).json()["id"] for _ in range(2)
            ]
            async with live.stream("tina") as socket:
                await socket.send(subscribe("orders", since=last))
                replayed: list[dict[str, Any]] = []
                while {m for m in missed} - {e["data"]["id"] for e in replayed}:
                    replayed.append(await next_of(socket, {"type": "event", "channel": "orders"}))
                seqs = [e["seq"] for e in replayed]
                assert seqs == sorted(seqs) and seqs[0] > last
                assert len(seqs) == len(set(seqs))

    run(scenario())


def test_too_far_behind_is_told_to_resync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch, stream_buffer="100") as live:
            hub = live.served.api.hub
            start = hub.seq
            seqs = [hub.publish("notifications", "note", {"n": i}).seq for i in range(150)]
            async with live.stream("vic") as socket:
                await socket.send(subscribe("notifications", since=start))
                message = await next_of(socket, {"type": "resync"})
                assert (
                    message["seq"] >= start + 150 and "read the lists again" in message["message"]
                )
                # Within the buffer: replayed in order.
                await socket.send(subscribe("notifications", since=seqs[146]))
                got = [(await next_of(socket, {"event": "note"}))["data"]["n"] for _ in range(3)]
                assert got == [147, 148, 149]  # the bots' orders are another channel

    run(scenario())


def test_quotes_come_for_the_symbols_asked_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live, live.stream("vic") as socket:
            await socket.send(subscribe("quotes", symbols=["00700.HK"]))
            snapshot = await next_of(socket, {"type": "snapshot"})
            assert {q["symbol"] for q in snapshot["data"]["quotes"]} <= {"00700.HK"}
            for _ in range(5):
                batch = await next_of(socket, {"type": "event", "channel": "quotes"})
                assert {q["symbol"] for q in batch["data"]["quotes"]} == {"00700.HK"}

    run(scenario())


def _frame(text: str) -> bytes:
    """A masked client text frame (RFC 6455 §5.2)."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return bytes([0x81]) + length + mask + masked


def _silent_client(host: str, port: int, token: str) -> socket_module.socket:
    raw = socket_module.socket()
    raw.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 4096)
    raw.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        f"GET /api/v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    raw.sendall(_frame(json.dumps({"type": "auth", "token": token})))
    raw.sendall(_frame('{"type":"subscribe","channels":["notifications"]}'))
    return raw


def test_a_client_that_stops_reading_is_dropped_and_the_others_carry_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch, stream_client_queue="50") as live:
            hub = live.served.api.hub
            token = await live.token("vic")
            # A client that never reads a byte after its handshake, on a tiny receive buffer.
            host, port = live.served.where.host, live.served.where.port
            slow = await asyncio.to_thread(_silent_client, host, port, token)
            async with live.stream("vic") as fast:
                await fast.send(json.dumps({"type": "subscribe", "channels": ["notifications"]}))
                await next_of(fast, {"type": "subscribed"})
                await asyncio.sleep(0.2)
                received = 0
                blob = "x" * 40_000
                for i in range(400):  # ~16 MB: more than the socket buffers hold
                    hub.publish("notifications", "notification", {"n": i, "blob": blob})
                    if i % 20 == 0:
                        await asyncio.sleep(0)  # let the senders run
                    while True:
                        try:
                            message = json.loads(await asyncio.wait_for(fast.recv(), 0.001))
                        except TimeoutError:
                            break
                        received += message.get("type") == "event"
                while received < 400:
                    message = json.loads(await asyncio.wait_for(fast.recv(), 10))
                    received += message.get("type") == "event"
                assert received == 400
                assert len(hub.clients) == 1 and hub.dropped >= 1
            slow.close()

    run(scenario())
