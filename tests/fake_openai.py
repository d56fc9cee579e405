"""A real OpenAI-compatible HTTP server on 127.0.0.1 that answers from a script.

Each request takes the next ``Scripted`` item (status, JSON body or text, headers, delay before
answering); an exhausted script answers 599 so a test that calls too often fails loudly. Every
request is recorded with its path, headers and JSON body — but of ``Authorization`` only whether
it was present, its scheme, and (when the server was told the key) whether it matched.

The standard library's threading HTTP server is enough: one thread per request, so a delayed
answer never blocks the next request, and HTTP/1.0 closes each connection after its response.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Body = dict[str, Any] | list[Any] | str


@dataclass(frozen=True)
class Scripted:
    status: int = 200
    body: Body = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names; no Authorization among them
    body: Any
    has_authorization: bool
    auth_scheme: str | None
    key_matches: bool | None  # None when the server was not told the expected key


def chat_body(
    text: str,
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    model: str = "fake-model",
) -> dict[str, Any]:
    """An OpenAI Chat Completions reply."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeOpenAI:
    def __init__(self, script: Sequence[Scripted] = (), *, expected_key: str | None = None):
        self._script = list(script)
        self._lock = threading.Lock()
        self._expected_key = expected_key
        self.requests: list[Recorded] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """A base URL in the OpenAI shape: ``…/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *items: Scripted) -> None:
        with self._lock:
            self._script.extend(items)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, recorded: Recorded) -> Scripted:
        with self._lock:
            self.requests.append(recorded)
            if self._script:
                return self._script.pop(0)
        return Scripted(599, {"error": {"message": "fake_openai: script exhausted"}})

    def _record(self, handler: BaseHTTPRequestHandler, raw: bytes) -> Recorded:
        auth = handler.headers.get("Authorization")
        scheme = auth.split(" ", 1)[0] if auth else None
        matches = None
        if self._expected_key is not None:
            matches = auth == f"Bearer {self._expected_key}"
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        return Recorded(
            method=handler.command,
            path=handler.path,
            headers={
                k.lower(): v for k, v in handler.headers.items() if k.lower() != "authorization"
            },
            body=body,
            has_authorization=auth is not None,
            auth_scheme=scheme,
            key_matches=matches,
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                item = fake._next(fake._record(self, raw))
                if item.delay:
                    threading.Event().wait(item.delay)
                if isinstance(item.body, str):
                    payload, ctype = item.body.encode(), "text/plain; charset=utf-8"
                else:
                    payload, ctype = json.dumps(item.body).encode(), "application/json"
                try:
                    self.send_response(item.status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in item.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test); nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler


@contextmanager
def fake_openai(
    script: Sequence[Scripted] = (), *, expected_key: str | None = None
) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(script, expected_key=expected_key)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
