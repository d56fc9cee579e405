"""A stream client dropped as too slow learns why (4008) when it reads again, however long the
server had to wait for room in its socket to say so."""

from __future__ import annotations

import asyncio
import json
import socket as socket_module
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from deepalpha.server.stream import SLOW_CLIENT
from tests.api_support import live_server, next_of


def test_a_dropped_client_that_reads_again_gets_4008(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch, stream_client_queue="20") as live:
            hub = live.served.api.hub
            where = live.served.where
            raw = socket_module.socket()
            raw.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 4096)
            raw.connect((where.host, where.port))
            raw.setblocking(False)
            ws_url = live.url.replace("http://", "ws://") + "/api/v1/ws"
            async with connect(ws_url, sock=raw, max_queue=1, compression=None) as slow:
                await slow.send(json.dumps({"type": "auth", "token": await live.token("vic")}))
                await next_of(slow, {"type": "welcome"})
                await slow.send(json.dumps({"type": "subscribe", "channels": ["notifications"]}))
                await next_of(slow, {"type": "subscribed"})
                blob = "x" * 40_000
                for i in range(400):  # ~16 MB, far more than the socket buffers hold
                    hub.publish("notifications", "notification", {"n": i, "blob": blob})
                    if i % 20 == 0:
                        await asyncio.sleep(0)  # let the sender fill the socket
                for _ in range(100):
                    if hub.dropped:
                        break
                    await asyncio.sleep(0.05)
                assert hub.dropped >= 1 and not hub.clients
                await asyncio.sleep(3.0)  # reads nothing for a while after the drop
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await asyncio.wait_for(slow.recv(), 10)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == SLOW_CLIENT

    asyncio.run(scenario())
