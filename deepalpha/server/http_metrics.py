"""An ASGI middleware: each HTTP request timed into the metrics, named by a request id, and
logged in one line.

Latency is labelled with the route's template (``/api/v1/orders/{order_id}``), never the path
asked for, so a client cannot mint a time series per request; a request no route matched is
``unmatched``. The request id is the client's ``X-Request-ID`` when it is a sane token, else a
fresh one; it goes back in the response's header, into ``request.state.request_id`` and into
every log line written while the request is served (``json_log.request_id``).

The access log line carries no header at all (so never an ``Authorization``) and the query
string with credential values (``token=`` and the like) replaced. Wrap the whole application
with it (outermost), so a 500 from the framework's error handler is timed and named as well.
WebSocket connections get a request id, and no timing here: they count in the WebSocket
metrics.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import unquote_plus

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepalpha.app.json_log import request_id
from deepalpha.server.metrics import EngineMetrics

access_log = logging.getLogger("deepalpha.access")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Query parameters whose values never reach a log line (the WebSocket's ?token=, a password).
SECRET_QUERY_WORDS = ("token", "password", "passwd", "secret", "key", "auth", "jwt", "session")
REDACTED = "redacted"
UNMATCHED = "unmatched"


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's request id when it is a token of at most 64 ``[A-Za-z0-9_-]``, else a
    new one (a client's id is echoed into logs and headers: nothing else may pass)."""
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if _SANE_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that served the request (``root_path``: the scope's before
    routing, so what mounts added in front is kept)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    now = str(scope.get("root_path", ""))
    prefix = now[len(root_path) :] if now.startswith(root_path) else ""
    if isinstance(route, Mount):
        # A mounted application, or a mounted router none of whose routes matched: the mount
        # has already put its path in the root path.
        return f"{prefix}/{{path}}"
    return prefix + path


def redacted_query(raw: bytes) -> str:
    """The query string with the values of credential-like parameters replaced."""
    if not raw:
        return ""
    parts = []
    for part in raw.decode("latin-1").split("&"):
        name, sep, _value = part.partition("=")
        secret = sep and any(word in unquote_plus(name).lower() for word in SECRET_QUERY_WORDS)
        parts.append(f"{name}={REDACTED}" if secret else part)
    return "&".join(parts)


class HttpMetricsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: EngineMetrics,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self._timer = timer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        rid = request_id_of(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id.set(rid)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, _with_id(send, rid, "websocket.accept"))
            else:
                await self._http(scope, receive, send, rid)
        finally:
            request_id.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        root_path = str(scope.get("root_path", ""))
        status = 500  # unless a response starts: the app failed before it answered
        started = self._timer()

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _with_id(send_and_see, rid, "http.response.start"))
        finally:
            seconds = self._timer() - started
            route = route_template(scope, root_path)
            method = str(scope.get("method", "GET"))
            self.metrics.observe_http(method, route, status, seconds)
            _log_access(scope, method, route, status, seconds, rid)


def _with_id(send: Send, rid: str, start: str) -> Send:
    """``send`` with the request id set in the response's (or the accept's) headers."""

    async def sender(message: Message) -> None:
        if message["type"] == start:
            headers = [
                (k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER
            ]
            headers.append((REQUEST_ID_HEADER, rid.encode("ascii")))
            message = {**message, "headers": headers}
        await send(message)

    return sender


def _log_access(
    scope: Scope, method: str, route: str, status: int, seconds: float, rid: str
) -> None:
    ms = round(seconds * 1000, 1)
    client = scope.get("client")
    access_log.log(
        logging.ERROR if status >= 500 else logging.INFO,
        "%s %s %d %.1fms",
        method,
        route,
        status,
        ms,
        extra={
            "fields": {
                "method": method,
                "route": route,
                "path": str(scope.get("path", "")),
                "query": redacted_query(scope.get("query_string", b"")),
                "status": status,
                "ms": ms,
                "request_id": rid,
                "client": client[0] if client else None,
            }
        },
    )
