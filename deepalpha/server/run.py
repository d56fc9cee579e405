"""``deepalpha serve``: the engine and its API in one event loop, until SIGTERM.

The order of a stop matters to the clients: the readiness probe fails first (the load balancer
stops sending), streams are closed with "going away" (clients reconnect elsewhere or later),
requests in flight finish within the grace period, then the engine persists and the process
exits 0 (3 if changes could not be written).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.app.serve import UNSAVED_EXIT, log_activity
from deepalpha.engine import clock as clocks
from deepalpha.server import auth, probes
from deepalpha.server.api import Accounts, create_app
from deepalpha.server.errors import ApiError
from deepalpha.server.feed_watch import FeedWatch
from deepalpha.server.http_metrics import HttpMetricsMiddleware
from deepalpha.server.metrics import EngineMetrics
from deepalpha.server.security import Gate, Principal
from deepalpha.server.stream import StreamHub
from deepalpha.server.ws import StreamEndpoint

log = logging.getLogger("deepalpha.server")
# The kernel's send buffer of every connection (accepted sockets inherit the listener's). Left
# to autotuning it grows to ~4 MB on loopback: minutes of quotes for a stream client that reads
# nothing, held before the stream's own bounded queue sees any backlog, so a stuck client was
# not dropped (4008) but handed stale quotes. 128 KiB (the kernel doubles it) costs a large REST
# page a round trip or two more at most.
SEND_BUFFER = 128 * 1024


class ServeRefused(Exception):
    """``serve`` will not listen as asked (e.g. a public address without a strong secret)."""


def _now() -> datetime:
    # The machine's clock as the engine reads it (tests pin it): tokens age in real time.
    return clocks.system_clock().now()


@dataclass(slots=True)
class Listening:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` owns SIGTERM and the stop order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def signing_secret(host: str, users: Callable[[], Awaitable[int]]) -> str:
    """The token signing secret to listen on ``host`` with: beyond this machine a strong one of
    the operator's and a user to sign in with (auth.listen_problem), else refused; on loopback
    without one, one this machine keeps (auth.ensure_local_secret)."""
    secret = auth.load_signing_secret()
    count = 0 if auth.is_loopback(host) else await users()
    problem = auth.listen_problem(host, secret, count)
    if problem is not None:
        raise ServeRefused(problem)
    return secret if secret is not None else auth.ensure_local_secret()


class ApiServer:
    """The API around a started backend: tokens, the stream, the routes."""

    def __init__(
        self,
        backend: LocalBackend,
        secret: str,
        *,
        now: Any = _now,
        cors_origins: list[str] | None = None,
        max_body: int = 64 * 1024,
        login_max_failures: int = 5,
        stream_buffer: int = 10_000,
        stream_client_queue: int = 2_000,
    ) -> None:
        self.backend = backend
        self.now = now
        self.stopping = False
        self.feed = FeedWatch()
        self.metrics = EngineMetrics(
            bus_depth=lambda: float(backend.runtime.bus.deepest_queue()), feed_lag=self.feed.lag
        )
        backend.add_bus_hook(self.metrics.attach)
        backend.add_bus_hook(lambda bus: self.feed.attach(bus, backend.runtime.broker.phase))
        self.tokens = auth.TokenService(secret, now=now)
        self.limiter = auth.LoginRateLimiter(
            max_failures=login_max_failures, window=timedelta(minutes=1), now=now
        )
        self.hub = StreamHub(
            backend,
            buffer=stream_buffer,
            client_queue=stream_client_queue,
            on_drop=self.metrics.ws_dropped,
        )
        self.stream = StreamEndpoint(
            self.hub,
            self.verify,
            now,
            on_connect=self.metrics.ws_connected,
            on_disconnect=self.metrics.ws_disconnected,
        )
        gate = Gate(verify=self.verify, owner_of=self.owner_of)
        self.app = create_app(
            backend,
            gate=gate,
            accounts=Accounts(login=self.login, refresh=self.refresh),
            cors_origins=cors_origins or (),
            max_body=max_body,
        )
        self.stream.install(self.app)
        probes.install(self.app, lambda: backend.runtime, self.feed, self.metrics, self._stopping)
        # Outermost, so that every answer (a 413, a framework 500) is timed and has its id.
        self.asgi = HttpMetricsMiddleware(self.app, self.metrics)

    def _stopping(self) -> bool:
        return self.stopping

    @property
    def store(self) -> Any:
        return self.backend.runtime.store

    def verify(self, token: str) -> Principal:
        try:
            claims = self.tokens.verify(token, "access")
        except auth.AuthError as exc:
            raise ApiError(
                401, exc.code, exc.message, headers={"WWW-Authenticate": "Bearer"}
            ) from None
        return Principal(
            name=claims.sub,
            role=str(claims.role),
            expires_at=datetime.fromtimestamp(claims.exp, UTC),
        )

    async def owner_of(self, trader_id: str) -> str | None:
        owner: str | None = await self.store.trader_owner(trader_id)
        return owner

    async def login(self, name: str, password: str, client: str) -> dict[str, Any]:
        key = f"{client}|{name.casefold()}"
        wait = self.limiter.retry_after(key)
        if wait is not None:
            raise ApiError(
                429,
                "too_many_attempts",
                f"too many failed sign-ins; try again in {int(wait) + 1} s",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        user = await auth.authenticate(self.store, name, password)
        if user is None or user.disabled:
            self.limiter.failed(key)
            raise ApiError(401, "bad_credentials", "wrong name or password")
        self.limiter.succeeded(key)
        return self._pair(user.name, str(user.role))

    async def refresh(self, token: str) -> dict[str, Any]:
        try:
            claims = self.tokens.verify(token, "refresh")
        except auth.AuthError as exc:
            raise ApiError(401, exc.code, exc.message) from None
        user = await self.store.get_user(claims.sub)
        if user is None or user.disabled:
            raise ApiError(401, "bad_credentials", "the user no longer exists or is disabled")
        return self._pair(user.name, str(user.role))

    def _pair(self, name: str, role: str) -> dict[str, Any]:
        pair = self.tokens.issue(name, auth.Role(role))
        return {**pair.model_dump(mode="json"), "role": role}


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeRefused(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@dataclass(slots=True)
class Served:
    api: ApiServer
    where: Listening
    backend: LocalBackend


@contextlib.asynccontextmanager
async def served(
    options: RuntimeOptions,
    *,
    host: str | None = None,
    port: int | None = None,
    now: Any = _now,
) -> AsyncIterator[Served]:
    """The engine and its API, listening; leaving stops them in the order a client expects."""
    backend = LocalBackend(options)
    try:
        await backend.start()
        settings = backend.runtime.settings.server
        host = host or settings.host
        port = settings.port if port is None else port
        store = backend.runtime.store

        async def users() -> int:
            return len(await store.list_users())

        secret = await signing_secret(host, users)
        api = ApiServer(
            backend,
            secret,
            now=now,
            cors_origins=settings.cors_origins,
            max_body=settings.max_body_bytes,
            login_max_failures=settings.login_max_failures,
            stream_buffer=settings.stream_buffer,
            stream_client_queue=settings.stream_client_queue,
        )
        sock = _bind(host, port)
        where = Listening(host, sock.getsockname()[1])
        config = uvicorn.Config(
            api.asgi,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(settings.grace_seconds),
            ws_max_size=64 * 1024,
            # Deflate per client is most of the stream's CPU and doubles its latency (make
            # bench: p99 71 ms with it, 42 ms without); quote batches are small. A link where
            # bandwidth is dearer than latency turns it on.
            ws_per_message_deflate=settings.stream_compression,
        )
        server = _Server(config)
        api.hub.start()
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="http")
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            serving.result()
        try:
            yield Served(api, where, backend)
        finally:
            log.info("stopping: closing streams, finishing requests in flight")
            api.stopping = True
            await api.stream.close_all()
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(serving, timeout=settings.grace_seconds + 5)
            await api.hub.stop()
            sock.close()
            log.info("stopping: persisting open work")
    finally:
        await backend.stop()


async def serve_api(
    options: RuntimeOptions,
    *,
    host: str | None = None,
    port: int | None = None,
    ready: asyncio.Event | None = None,
    listening: list[Listening] | None = None,
    stop_requested: list[int] | None = None,
) -> int:
    """Run the engine and the API until SIGTERM/SIGINT; ``port`` 0 picks a free port (its
    address goes to ``listening``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if stop_requested:
            log.info("stopped before the engine started; nothing to persist")
            return 0
        async with served(options, host=host, port=port) as s:
            log_activity(s.backend.runtime)
            log.info(
                "serving headless: the API at %s; stop with SIGTERM or Ctrl+C",
                s.where.url,
                extra={"fields": {"url": s.where.url, "data_dir": str(options.data_dir)}},
            )
            if listening is not None:
                listening.append(s.where)
            if ready is not None:
                ready.set()
            await stop.wait()
        return UNSAVED_EXIT if s.backend.runtime.unsaved else 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
