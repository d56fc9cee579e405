"""WebSocket clients of ``/api/v1/ws`` for the API benchmark, run as their own process.

``python -m bench.api_stream`` reads a JSON line on stdin (so the token is never in argv)::

    {"url": "ws://127.0.0.1:PORT/api/v1/ws", "token": "...", "clients": 50, "slow": false,
     "deflate": true}

signs every client in, subscribes it to "quotes" and prints ``{"ready": N}``; then it reads a
second line, ``{"measure_from": <unix time>, "measure_for": <seconds>}``, the window in which it
counts (the clients read all along, so none falls behind while the others connect), and at the
end of the window prints ``{"result": {...}}``.

A normal client offers permessage-deflate, as browsers and the websockets library do (unless
``"deflate": false``), and reads as fast as it can. For every quote batch that arrives inside
the window it notes the batch's size and its delivery latency: the wall time it was read here
minus ``sent``, the server's wall time when the hub published it (both clocks are this
machine's). Every item of a batch has its batch's latency.

A slow client (``"slow": true``, one connection) subscribes, then reads nothing until the window
ends. Its receive buffer is small and it declines compression, so its backlog reaches the
server's queue for it within seconds rather than sitting in kernel buffers. Then it reads what
is waiting and reports how the server closed the connection (4008: dropped as too slow).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

SLOW_RCVBUF = 4096  # bytes; the kernel doubles it and keeps a floor
SLOW_DRAIN_TIMEOUT = 10.0  # seconds for the slow client to read what waits and see the close


@dataclass(slots=True)
class Window:
    start: float = float("inf")
    end: float = float("inf")


async def _window() -> Window:
    line = await asyncio.to_thread(sys.stdin.readline)
    go = json.loads(line)
    start = float(go["measure_from"])
    return Window(start, start + float(go["measure_for"]))


@dataclass(slots=True)
class Tally:
    items: int = 0
    batches: int = 0
    latencies: list[tuple[float, int]] = field(default_factory=list)  # (ms, items)
    closed: dict[str, int] = field(default_factory=dict)  # close code → clients, before the end


async def _open(url: str, token: str, *, slow: bool, deflate: bool = True) -> ClientConnection:
    sock = None
    if slow:
        where = urlsplit(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)  # before connect
        sock.connect((where.hostname or "127.0.0.1", where.port or 80))
        sock.setblocking(False)
    ws = await connect(
        url,
        sock=sock,
        max_queue=1 if slow else 64,  # the slow one buffers as little as the library allows
        compression="deflate" if deflate and not slow else None,
        open_timeout=30,
        ping_interval=None,  # the measurement is the server's pushes, not keepalives
    )
    await ws.send(json.dumps({"type": "auth", "token": token}))
    welcome = json.loads(await ws.recv())
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"no welcome: {welcome}")
    await ws.send(json.dumps({"type": "subscribe", "channels": ["quotes"]}))
    while True:  # wait for the subscription and its snapshot before counting anything
        message = json.loads(await ws.recv())
        if message.get("type") == "snapshot":
            return ws
        if message.get("type") == "error":
            raise RuntimeError(f"subscribe refused: {message}")


async def _listen(ws: ClientConnection, tally: Tally, window: Window) -> None:
    try:
        async for text in ws:
            now = time.time()
            if now >= window.end:
                return
            message = json.loads(text)
            sent = message.get("sent")
            if now < window.start or message.get("event") != "quotes" or sent is None:
                continue
            n = len(message["data"]["quotes"])
            tally.items += n
            tally.batches += 1
            tally.latencies.append((round((now - sent) * 1000, 3), n))
    except websockets.ConnectionClosed as exc:
        code = str(exc.rcvd.code) if exc.rcvd is not None else "none"
        tally.closed[code] = tally.closed.get(code, 0) + 1


async def _normal(config: dict[str, Any]) -> dict[str, Any]:
    sockets = await asyncio.gather(
        *(
            _open(config["url"], config["token"], slow=False, deflate=config.get("deflate", True))
            for _ in range(config["clients"])
        )
    )
    tally = Tally()
    window = Window()
    listening = [asyncio.create_task(_listen(ws, tally, window)) for ws in sockets]
    print(json.dumps({"ready": len(sockets)}), flush=True)
    given = await _window()
    window.start, window.end = given.start, given.end
    await asyncio.sleep(max(0.0, window.start - time.time()))
    cpu = time.process_time()
    # A client notices the end with its next message; with none coming (a market that closed),
    # it stops here instead.
    _, quiet = await asyncio.wait(listening, timeout=max(0.0, window.end - time.time()) + 2.0)
    for task in quiet:
        task.cancel()
    cpu = time.process_time() - cpu  # this process's share of the load on the machine
    for ws in sockets:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 5)
    return {
        "clients": len(sockets),
        "items": tally.items,
        "batches": tally.batches,
        "latencies": tally.latencies,
        "closed": tally.closed,
        "cpu_seconds": round(cpu, 3),
    }


async def _slow(config: dict[str, Any]) -> dict[str, Any]:
    ws = await _open(config["url"], config["token"], slow=True)
    print(json.dumps({"ready": 1}), flush=True)
    window = await _window()
    await asyncio.sleep(max(0.0, window.end - time.time()))  # reads nothing meanwhile
    woke = time.time()
    read = 0
    code: int | None = None
    reason = ""
    try:
        async with asyncio.timeout(SLOW_DRAIN_TIMEOUT):
            async for _ in ws:
                read += 1
    except websockets.ConnectionClosed as exc:
        if exc.rcvd is not None:
            code, reason = exc.rcvd.code, exc.rcvd.reason
    except TimeoutError:
        pass
    else:
        if ws.close_code is not None:
            code, reason = ws.close_code, ws.close_reason or ""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), 5)
    return {
        "close_code": code,
        "close_reason": reason,
        "read_after_waking": read,
        "closed_after_s": round(time.time() - woke, 3),
    }


def main() -> int:
    config = json.loads(sys.stdin.readline())
    result = asyncio.run(_slow(config) if config.get("slow") else _normal(config))
    print(json.dumps({"result": result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
