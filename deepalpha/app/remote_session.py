"""Signing in to a ``deepalpha serve`` and reading its answers: the HTTP side of the TUI attached.

Kept apart from ``RemoteBackend`` so that ``deepalpha connect`` can sign in (a prompt in the
terminal, before the workstation and its event loop exist) with the same code the backend
renews its tokens with. Nothing here logs, formats or raises with a token or a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the workstation imports RemoteError before any connection is made
    import httpx

API = "/api/v1"
TIMEOUT = 10.0  # seconds for one request; a command that takes longer is told as unanswered


class RemoteError(Exception):
    """The server refused a command (its ``ErrorBody`` code and message), or could not be
    reached. ``str()`` is the message, said so that a person can act on it."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Tokens:
    """A signed-in session: the access token for requests, the refresh token to renew it."""

    access: str = field(repr=False)
    refresh: str = field(repr=False)
    expires_in: int  # seconds the access token is valid for, from when it was issued
    role: str = ""


def base_url(url: str) -> str:
    """``host:port``, ``http://host:port/`` or ``https://…`` as a base URL without a trailing
    slash; anything else is a ``ValueError`` that says what was expected."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{url!r} is not a server address: write http://HOST:PORT (e.g. http://127.0.0.1:8700)"
        )
    if parts.query or parts.fragment or parts.path.strip("/"):
        raise ValueError(f"{url!r}: give the server's address only, e.g. http://127.0.0.1:8700")
    return f"{parts.scheme}://{parts.netloc}"


def where(url: str) -> str:
    """``host:port`` of a base URL, for the status bar and messages."""
    return urlsplit(url).netloc


def unreachable(url: str, exc: BaseException) -> RemoteError:
    why = type(exc).__name__ if not str(exc) else str(exc)
    return RemoteError(
        "unreachable",
        f"cannot reach {url}: {why}; is `deepalpha serve` running there?",
    )


def disconnected(url: str) -> RemoteError:
    return RemoteError(
        "disconnected",
        f"not connected to {where(url)}: the command was not sent; it reconnects by itself",
    )


def error_of(response: httpx.Response) -> RemoteError:
    """The server's ``ErrorBody`` as a ``RemoteError`` (a body that is not one: its status)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return RemoteError(str(body.get("code") or "error"), body["message"], response.status_code)
    return RemoteError(
        "http_error",
        f"the server answered {response.status_code} {response.reason_phrase}",
        response.status_code,
    )


def tokens_of(body: dict[str, Any]) -> Tokens:
    return Tokens(
        access=str(body["access_token"]),
        refresh=str(body["refresh_token"]),
        expires_in=int(body.get("expires_in", 900)),
        role=str(body.get("role", "")),
    )


async def _post(url: str, path: str, body: dict[str, Any]) -> Tokens:
    import httpx  # noqa: PLC0415

    try:
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
            response = await http.post(f"{API}{path}", json=body)
    except httpx.HTTPError as exc:
        raise unreachable(url, exc) from None
    if response.status_code != 200:
        raise error_of(response)
    try:
        return tokens_of(response.json())
    except (ValueError, KeyError, TypeError):
        raise RemoteError(
            "not_deepalpha", f"{url} answered, but not as `deepalpha serve` does"
        ) from None


async def sign_in(url: str, name: str, password: str) -> Tokens:
    """A new session for ``name``; a wrong name or password is a ``RemoteError`` with the
    server's code (``bad_credentials``, ``too_many_attempts``)."""
    return await _post(url, "/auth/login", {"name": name, "password": password})


async def renew(url: str, refresh_token: str) -> Tokens:
    """A new pair for a refresh token (which the server checks; an expired one is a 401)."""
    return await _post(url, "/auth/refresh", {"refresh_token": refresh_token})


__all__ = [
    "RemoteError",
    "Tokens",
    "base_url",
    "disconnected",
    "error_of",
    "renew",
    "sign_in",
    "unreachable",
    "where",
]
