"""The model client against a real HTTP server on loopback (tests/fake_openai.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, TypeVar

import pytest

from deepalpha.app.ai_models import priced
from deepalpha.app.settings import AiSettings
from deepalpha.engine.ai.client import (
    PRESETS,
    RETRY_AFTER_CAP,
    ChatClient,
    ModelError,
    ModelProfile,
    ModelReply,
    custom_profile,
    key_from_env,
    missing_key_message,
    parse_retry_after,
)
from tests.fake_openai import Scripted, chat_body, closed_port, fake_openai

KEY = "sk-test-SECRET-0123456789abcdef"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Sleeps:
    """An injected sleep that only records how long it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def profile_at(url: str, **changes: Any) -> ModelProfile:
    changes.setdefault("timeout", 2.0)
    deepseek = priced(PRESETS["deepseek"], AiSettings())  # from the shipped price table
    return dataclasses.replace(deepseek, base_url=url, **changes)


async def ask(profile: ModelProfile, sleeps: Sleeps, key: str | None = KEY) -> ModelReply:
    client = ChatClient(profile, key, sleep=sleeps)
    try:
        return await client.complete("You are a trader.", "What now?")
    finally:
        await client.aclose()


def failure(profile: ModelProfile, sleeps: Sleeps) -> ModelError:
    with pytest.raises(ModelError) as caught:
        run(ask(profile, sleeps))
    return caught.value


def test_clean_reply_gives_text_tokens_and_cost() -> None:
    sleeps = Sleeps()
    body = chat_body("<decision>[]</decision>", prompt_tokens=1000, completion_tokens=500)
    with fake_openai([Scripted(200, body)], expected_key=KEY) as server:
        reply = run(ask(profile_at(server.url), sleeps))
    assert reply.text == "<decision>[]</decision>"
    assert (reply.prompt_tokens, reply.completion_tokens) == (1000, 500)
    # deepseek-chat: CNY 2 in, 8 out per million tokens
    assert reply.cost == Decimal("0.006")
    assert reply.model == "fake-model"
    assert reply.attempts == 1
    assert reply.latency_ms >= 0
    assert sleeps.calls == []
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.has_authorization and request.auth_scheme == "Bearer" and request.key_matches
    assert request.body["model"] == "deepseek-chat"
    assert request.body["messages"] == [
        {"role": "system", "content": "You are a trader."},
        {"role": "user", "content": "What now?"},
    ]
    assert request.body["temperature"] == 0.2
    assert request.body["max_tokens"] == 1500


def test_a_reply_that_echoes_the_key_is_scrubbed_before_anyone_stores_it() -> None:
    echo = f"I was called with Authorization: Bearer {KEY} (key {KEY}).\n<decision>[]</decision>"
    with fake_openai([Scripted(200, chat_body(echo))], expected_key=KEY) as server:
        reply = run(ask(profile_at(server.url), Sleeps()))
    assert KEY not in reply.text
    assert reply.text == "I was called with Authorization: *** (key ***).\n<decision>[]</decision>"


def test_a_timeout_is_retried_then_succeeds() -> None:
    sleeps = Sleeps()
    script = [Scripted(200, chat_body("late"), delay=1.0), Scripted(200, chat_body("ok"))]
    with fake_openai(script) as server:
        reply = run(ask(profile_at(server.url, timeout=0.2), sleeps))
    assert reply.text == "ok"
    assert reply.attempts == 2
    assert len(sleeps.calls) == 1 and 0 < sleeps.calls[0] <= 0.5
    assert len(server.requests) == 2


def test_429_honours_retry_after() -> None:
    sleeps = Sleeps()
    script = [
        Scripted(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "1"}),
        Scripted(200, chat_body("ok")),
    ]
    with fake_openai(script) as server:
        reply = run(ask(profile_at(server.url), sleeps))
    assert reply.text == "ok" and reply.attempts == 2
    assert sleeps.calls and sleeps.calls[0] >= 1


def test_server_errors_give_up_after_the_retries() -> None:
    sleeps = Sleeps()
    script = [Scripted(500, {"error": {"message": "boom"}}) for _ in range(3)]
    with fake_openai(script) as server:
        error = failure(profile_at(server.url, retries=2), sleeps)
    assert error.kind == "server" and error.status == 500 and error.attempts == 3
    assert "after 3 attempts" in str(error)
    assert "try again later" in str(error)
    assert len(server.requests) == 3
    assert len(sleeps.calls) == 2
    assert sleeps.calls[1] > sleeps.calls[0] * 0.9  # backoff grows (with jitter)


def test_401_is_an_auth_error_without_retry_or_key() -> None:
    sleeps = Sleeps()
    body = {"error": {"message": f"Incorrect API key provided: {KEY[:8]}****{KEY[-4:]}"}}
    with fake_openai([Scripted(401, body)]) as server:
        error = failure(profile_at(server.url), sleeps)
    assert error.kind == "auth" and error.status == 401
    assert len(server.requests) == 1 and sleeps.calls == []
    assert KEY not in str(error) and KEY[:8] not in str(error)
    assert "DEEPSEEK_API_KEY" in str(error)


def test_connection_refused_is_a_connection_error() -> None:
    sleeps = Sleeps()
    profile = profile_at(f"http://127.0.0.1:{closed_port()}/v1", retries=1)
    error = failure(profile, sleeps)
    assert error.kind == "connection"
    assert "check the base URL" in str(error)
    assert len(sleeps.calls) == 1


def test_bad_request_and_bad_reply_are_not_retried() -> None:
    sleeps = Sleeps()
    with fake_openai([Scripted(400, {"error": {"message": "unknown model"}})]) as server:
        error = failure(profile_at(server.url), sleeps)
    assert error.kind == "bad_request" and "unknown model" in str(error)
    with fake_openai([Scripted(200, {"id": "x", "choices": []})]) as server:
        error = failure(profile_at(server.url), sleeps)
    assert error.kind == "bad_reply"
    with fake_openai([Scripted(200, "<html>not an API</html>")]) as server:
        error = failure(profile_at(server.url), sleeps)
    assert error.kind == "bad_reply"
    assert sleeps.calls == []


def test_missing_key_names_the_profile_and_the_variable() -> None:
    with pytest.raises(ModelError) as caught:
        ChatClient(PRESETS["deepseek"], None)
    error = caught.value
    assert error.kind == "missing_key"
    assert str(error) == (
        "no API key for profile 'deepseek': set DEEPSEEK_API_KEY or store it in Settings (keyring)"
    )
    assert "DEEPALPHA_MODEL_KIMI_KEY" in missing_key_message(PRESETS["kimi"])
    assert "DEEPALPHA_MODEL_MY_PROXY_KEY" in missing_key_message(
        custom_profile("http://x/v1", "m", name="my-proxy", needs_key=True)
    )


def test_local_profile_needs_no_key_and_sends_no_authorization() -> None:
    sleeps = Sleeps()
    with fake_openai([Scripted(200, chat_body("hi"))]) as server:
        local = dataclasses.replace(PRESETS["ollama"], base_url=server.url + "/")
        reply = run(ask(local, sleeps, key=None))
    assert reply.text == "hi" and reply.cost == 0
    assert not server.requests[0].has_authorization
    assert server.requests[0].path == "/v1/chat/completions"


def test_the_key_never_reaches_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    echo = {"error": {"message": f"bad token Bearer {KEY}"}}
    script = [Scripted(503, echo), Scripted(429, echo), Scripted(400, echo)]
    with fake_openai(script, expected_key=KEY) as server:
        error = failure(profile_at(server.url), sleeps)
    assert error.kind == "bad_request"
    assert all(r.auth_scheme == "Bearer" and r.key_matches for r in server.requests)
    assert KEY not in str(error) and KEY not in repr(error)
    assert caplog.records, "retries should be logged"
    for record in caplog.records:
        assert KEY not in record.getMessage()
    assert KEY not in caplog.text
    client = ChatClient(PRESETS["openai"], KEY)
    assert KEY not in repr(client)
    run(client.aclose())


def test_retry_after_seconds_date_and_cap() -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(
        format_datetime(now + timedelta(seconds=30), usegmt=True), now=now
    ) == pytest.approx(30.0)
    assert (
        parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0
    )
    assert parse_retry_after("86400") == RETRY_AFTER_CAP
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_key_from_env_prefers_the_profile_variable() -> None:
    deepseek = PRESETS["deepseek"]
    assert key_from_env(deepseek, {}) is None
    assert key_from_env(deepseek, {"DEEPSEEK_API_KEY": " k1 "}) == "k1"
    assert key_from_env(deepseek, {"DEEPALPHA_MODEL_DEEPSEEK_KEY": "k2"}) == "k2"
    both = {"DEEPSEEK_API_KEY": "k1", "DEEPALPHA_MODEL_DEEPSEEK_KEY": "k2"}
    assert key_from_env(deepseek, both) == "k1"
    assert key_from_env(PRESETS["kimi"], {"DEEPALPHA_MODEL_KIMI_KEY": "k3"}) == "k3"
    assert key_from_env(PRESETS["deepseek"], {"DEEPSEEK_API_KEY": "   "}) is None


def test_resolve_key_tolerates_a_broken_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.errors import NoKeyringError

    from deepalpha.app.model_keys import resolve_key

    stored: dict[tuple[str, str], str] = {("deepalpha", "model:qwen"): "from-keyring"}
    monkeypatch.setattr(keyring, "get_password", lambda s, u: stored.get((s, u)))
    environ = {"DASHSCOPE_API_KEY": "from-env", "DEEPSEEK_API_KEY": "ds-env"}
    # The environment overrides keyring (headless use); keyring answers when it is unset.
    assert resolve_key(PRESETS["qwen"], environ=environ) == "from-env"
    assert resolve_key(PRESETS["qwen"], environ={}) == "from-keyring"
    assert resolve_key(PRESETS["deepseek"], environ=environ) == "ds-env"

    def broken(service: str, username: str) -> str | None:
        raise NoKeyringError("no backend")

    monkeypatch.setattr(keyring, "get_password", broken)
    assert resolve_key(PRESETS["qwen"], environ=environ) == "from-env"
    assert resolve_key(PRESETS["qwen"], environ={}) is None

    def dbus(service: str, username: str) -> str | None:
        raise RuntimeError("dbus is locked")

    monkeypatch.setattr(keyring, "get_password", dbus)
    assert resolve_key(PRESETS["qwen"], environ={}) is None
