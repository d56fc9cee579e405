"""A token checked once is not run through PyJWT again, yet its type and expiry still count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deepalpha.server import auth
from deepalpha.server.auth import AuthError, Role, TokenService

SECRET = "a-test-signing-secret-that-is-long-enough-0123456789"
MOMENT = datetime(2025, 12, 3, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = MOMENT

    def __call__(self) -> datetime:
        return self.at


def _code(tokens: TokenService, token: str, kind: auth.TokenKind) -> str:
    with pytest.raises(AuthError) as caught:
        tokens.verify(token, kind)
    return caught.value.code


def test_a_checked_token_still_expires_and_keeps_its_type() -> None:
    clock = Clock()
    tokens = TokenService(SECRET, now=clock, access_ttl=timedelta(minutes=15))
    pair = tokens.issue("ada", Role.ADMIN)
    assert tokens.verify(pair.access_token, "access").sub == "ada"
    assert tokens.verify(pair.access_token, "access").sub == "ada"  # the second from the cache
    assert _code(tokens, pair.access_token, "refresh") == "wrong_token_type"
    clock.at += timedelta(minutes=15)
    assert _code(tokens, pair.access_token, "access") == "token_expired"


def test_a_tampered_copy_of_a_checked_token_is_refused() -> None:
    tokens = TokenService(SECRET, now=Clock())
    token = tokens.issue("ada", Role.ADMIN).access_token
    tokens.verify(token, "access")
    head, body, signature = token.split(".")
    forged = ".".join((head, body, ("A" if signature[0] != "A" else "B") + signature[1:]))
    assert _code(tokens, forged, "access") == "token_invalid"
    other = TokenService(SECRET + "-another", now=Clock())
    assert _code(other, token, "access") == "token_invalid"  # each service checks for itself


def test_the_cache_of_checked_tokens_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "CHECKED_TOKENS", 3)
    tokens = TokenService(SECRET, now=Clock())
    issued = [tokens.issue(f"user{i}", Role.VIEWER).access_token for i in range(5)]
    for token in issued:
        tokens.verify(token, "access")
    assert len(tokens._checked) == 3
    assert list(tokens._checked) == issued[2:]  # the oldest went first
    assert tokens.verify(issued[0], "access").sub == "user0"  # checked again, not refused
