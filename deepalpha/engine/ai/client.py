"""Model clients: any OpenAI-compatible Chat Completions endpoint over async httpx.

A ``ModelProfile`` says where the model lives and what it costs; a ``ChatClient`` sends one
system + user prompt and returns a ``ModelReply`` with text, tokens, cost and latency, or raises
a ``ModelError`` whose ``kind`` tells the trader loop what happened and whose message tells the
person what to do next.

Keys are the caller's business: the engine never reads keyring (that is the app's job, see
``deepalpha.app.model_keys``). ``key_from_env`` is a pure helper over an environment mapping.
A key is held only by the client, sent only in the ``Authorization`` header, and scrubbed from
every message this module produces.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

log = logging.getLogger(__name__)

ModelErrorKind = Literal[
    "timeout",
    "connection",
    "rate_limited",
    "server",
    "auth",
    "bad_request",
    "bad_reply",
    "missing_key",
]
Currency = Literal["CNY", "USD"]
Sleep = Callable[[float], Awaitable[object]]

MILLION = Decimal(1_000_000)
BACKOFF_BASE = 0.5  # seconds before the first retry, doubled each time
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 60.0  # a server asking for longer than this gets this
SNIPPET = 200  # characters of an error body quoted in a message

# Anything shaped like a bearer secret ("sk-…", "Bearer …") is masked even when it is not our key:
# providers echo partial keys in 401 bodies.
_SECRETISH = re.compile(r"(\bsk-[A-Za-z0-9_\-*.]{4,}|Bearer\s+\S+)")


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Where a model lives, how to call it and what it costs.

    ``retries`` counts the attempts after the first: ``retries=3`` makes at most four calls.
    Prices are per million tokens in ``currency``; the app may replace them from its price
    table setting with ``dataclasses.replace``.
    """

    name: str
    base_url: str
    model: str
    temperature: float = 0.2
    max_tokens: int = 1500
    timeout: float = 60.0
    retries: int = 3
    key_env: str | None = None
    needs_key: bool = True
    price_in_per_mtok: Decimal = Decimal(0)
    price_out_per_mtok: Decimal = Decimal(0)
    currency: Currency = "USD"

    @property
    def chat_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/chat/completions"

    @property
    def generic_key_env(self) -> str:
        """``DEEPALPHA_MODEL_<PROFILE>_KEY``, the variable every profile accepts."""
        slug = re.sub(r"[^A-Za-z0-9]+", "_", self.name).strip("_").upper()
        return f"DEEPALPHA_MODEL_{slug}_KEY"


# Prices are not here: they drift, so the app prices a profile from its dated price table
# setting (``deepalpha.app.ai_models.priced``); a bare preset costs nothing.
PRESETS: dict[str, ModelProfile] = {
    "deepseek": ModelProfile(
        name="deepseek",
        base_url="https://api.deepseek.com",
        model="deepseek-chat",
        key_env="DEEPSEEK_API_KEY",
    ),
    "qwen": ModelProfile(
        name="qwen",
        base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
        model="qwen-plus",
        key_env="DASHSCOPE_API_KEY",
    ),
    "openai": ModelProfile(
        name="openai",
        base_url="https://api.openai.com/v1",
        model="gpt-4o-mini",
        key_env="OPENAI_API_KEY",
    ),
    "kimi": ModelProfile(
        name="kimi",
        base_url="https://api.moonshot.cn/v1",
        model="moonshot-v1-8k",
        key_env="DEEPALPHA_MODEL_KIMI_KEY",
    ),
    # Local servers: no key, no cost. vLLM and llama.cpp serve whatever model they were started
    # with; set ``model`` to the name the server reports at /v1/models.
    "ollama": ModelProfile(
        name="ollama",
        base_url="http://127.0.0.1:11434/v1",
        model="llama3.1",
        needs_key=False,
        timeout=120.0,
        currency="CNY",
    ),
    "vllm": ModelProfile(
        name="vllm",
        base_url="http://127.0.0.1:8000/v1",
        model="local-model",
        needs_key=False,
        timeout=120.0,
        currency="CNY",
    ),
    "llamacpp": ModelProfile(
        name="llamacpp",
        base_url="http://127.0.0.1:8080/v1",
        model="local-model",
        needs_key=False,
        timeout=120.0,
        currency="CNY",
    ),
}


def custom_profile(
    base_url: str,
    model: str,
    key_env: str | None = None,
    *,
    name: str = "custom",
    needs_key: bool | None = None,
) -> ModelProfile:
    """A profile for any other OpenAI-compatible endpoint.

    It needs a key when ``key_env`` is given (or ``needs_key=True``); a key found in
    ``DEEPALPHA_MODEL_<NAME>_KEY`` or keyring is still sent when it does not.
    """
    return ModelProfile(
        name=name,
        base_url=base_url,
        model=model,
        key_env=key_env,
        needs_key=key_env is not None if needs_key is None else needs_key,
    )


def key_from_env(profile: ModelProfile, environ: Mapping[str, str] = os.environ) -> str | None:
    """The profile's key from its own variable, else ``DEEPALPHA_MODEL_<PROFILE>_KEY``."""
    for var in (profile.key_env, profile.generic_key_env):
        if var:
            value = environ.get(var, "").strip()
            if value:
                return value
    return None


def missing_key_message(profile: ModelProfile) -> str:
    var = profile.key_env or profile.generic_key_env
    return f"no API key for profile '{profile.name}': set {var} or store it in Settings (keyring)"


@dataclass(frozen=True, slots=True)
class ModelReply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    latency_ms: int
    model: str
    attempts: int


class ModelError(Exception):
    """A model call that failed; ``kind`` is one of ``ModelErrorKind``.

    The message says what to do next and never contains the key.
    """

    def __init__(
        self,
        kind: ModelErrorKind,
        message: str,
        *,
        status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.kind: ModelErrorKind = kind
        self.message = message
        self.status = status
        self.attempts = attempts


@dataclass(slots=True)
class _Failure:
    """A retryable failure of one attempt, and how long the server asked us to wait."""

    kind: ModelErrorKind
    detail: str
    status: int | None = None
    retry_after: float | None = None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


class ChatClient:
    """One profile, one key, one pooled httpx client. Close it with ``aclose``."""

    def __init__(
        self,
        profile: ModelProfile,
        key: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if profile.needs_key and not key:
            raise ModelError("missing_key", missing_key_message(profile))
        self.profile = profile
        self._key = key or None
        self._sleep = sleep
        self._rng = rng or random.Random()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(profile.timeout),
            headers=headers,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ChatClient(profile={self.profile.name!r}, model={self.profile.model!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _scrub(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "***")
        return _SECRETISH.sub("***", text)

    def _error(
        self, kind: ModelErrorKind, message: str, *, status: int | None, attempts: int
    ) -> ModelError:
        return ModelError(kind, self._scrub(message), status=status, attempts=attempts)

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1-based): exponential with jitter."""
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
        return ceiling * (0.5 + self._rng.random() / 2)

    async def complete(self, system: str, user: str) -> ModelReply:
        profile = self.profile
        payload = {
            "model": profile.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": profile.temperature,
            "max_tokens": profile.max_tokens,
            "stream": False,
        }
        total = 1 + max(profile.retries, 0)
        started = time.monotonic()
        failure: _Failure | None = None
        for attempt in range(1, total + 1):
            try:
                response = await self._http.post(profile.chat_url, json=payload)
            except httpx.TimeoutException as exc:
                failure = _Failure("timeout", type(exc).__name__)
            except httpx.TransportError as exc:
                failure = _Failure("connection", f"{type(exc).__name__}: {exc}")
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    failure = _Failure(
                        "rate_limited" if status == 429 else "server",
                        self._snippet(response),
                        status=status,
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
                elif status in (401, 403):
                    raise self._error(
                        "auth", self._auth_message(status), status=status, attempts=attempt
                    )
                elif status >= 300:
                    raise self._error(
                        "bad_request",
                        self._bad_request_message(status, self._snippet(response)),
                        status=status,
                        attempts=attempt,
                    )
                else:
                    latency_ms = round((time.monotonic() - started) * 1000)
                    return self._reply(response, latency_ms=latency_ms, attempts=attempt)
            if attempt < total:
                delay = (
                    failure.retry_after
                    if failure.retry_after is not None
                    else self.backoff(attempt)
                )
                log.warning(
                    "model profile %r: attempt %d/%d failed (%s%s); retrying in %.1fs",
                    profile.name,
                    attempt,
                    total,
                    failure.kind,
                    f" HTTP {failure.status}" if failure.status else "",
                    delay,
                )
                await self._sleep(delay)
        assert failure is not None  # the loop runs at least once and returns on success
        raise self._error(
            failure.kind,
            self._give_up_message(failure, total),
            status=failure.status,
            attempts=total,
        )

    # -- replies ---------------------------------------------------------------------------

    def _reply(self, response: httpx.Response, *, latency_ms: int, attempts: int) -> ModelReply:
        profile = self.profile
        try:
            body = response.json()
        except ValueError:
            raise self._error(
                "bad_reply",
                f"profile '{profile.name}' answered HTTP {response.status_code} with something "
                f"that is not JSON ({self._snippet(response)!r}); check that the base URL "
                f"{profile.base_url} is an OpenAI-compatible endpoint",
                status=response.status_code,
                attempts=attempts,
            ) from None
        text = _choice_text(body)
        if text is None:
            raise self._error(
                "bad_reply",
                f"profile '{profile.name}' answered without a message "
                f"({self._snippet(response)!r}); check the model name '{profile.model}' "
                "or try again",
                status=response.status_code,
                attempts=attempts,
            )
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        prompt_tokens = _int(usage.get("prompt_tokens"))
        completion_tokens = _int(usage.get("completion_tokens"))
        cost = (
            Decimal(prompt_tokens) * profile.price_in_per_mtok
            + Decimal(completion_tokens) * profile.price_out_per_mtok
        ) / MILLION
        model = body.get("model")
        return ModelReply(
            # A reply that echoes the request (its Authorization header, the key) would carry
            # the secret into decision records, the WAL and every backup.
            text=self._scrub(text),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            latency_ms=latency_ms,
            model=model if isinstance(model, str) and model else profile.model,
            attempts=attempts,
        )

    # -- messages --------------------------------------------------------------------------

    def _snippet(self, response: httpx.Response) -> str:
        try:
            text = response.text
        except (UnicodeDecodeError, httpx.HTTPError):
            return ""
        text = " ".join(text.split())
        return self._scrub(text[:SNIPPET] + ("…" if len(text) > SNIPPET else ""))

    def _auth_message(self, status: int) -> str:
        p = self.profile
        var = p.key_env or p.generic_key_env
        what = "rejected the API key" if status == 401 else "refused access"
        # The body is not quoted: providers echo part of the key in it.
        return (
            f"the model server for profile '{p.name}' {what} (HTTP {status}): check the key "
            f"(set {var} or store it in Settings (keyring)) and that the account may use "
            f"model '{p.model}'"
        )

    def _bad_request_message(self, status: int, snippet: str) -> str:
        p = self.profile
        if status == 404:
            hint = f"check the base URL {p.base_url} and the model name '{p.model}'"
        else:
            hint = f"check the model name '{p.model}', max tokens ({p.max_tokens}) and temperature"
        said = f": {snippet}" if snippet else ""
        return (
            f"the model server for profile '{p.name}' refused the request "
            f"(HTTP {status}{said}); {hint}"
        )

    def _give_up_message(self, failure: _Failure, attempts: int) -> str:
        p = self.profile
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if failure.kind == "timeout":
            return (
                f"profile '{p.name}' did not answer within {p.timeout:g}s ({tries}): the server "
                "may be overloaded — try again later, raise the timeout or lower max tokens"
            )
        if failure.kind == "connection":
            return (
                f"cannot reach {p.base_url} for profile '{p.name}' ({tries}; {failure.detail}): "
                "check the base URL, the network or proxy, and that a local server is running"
            )
        said = f": {failure.detail}" if failure.detail else ""
        if failure.kind == "rate_limited":
            return (
                f"profile '{p.name}' is rate-limited (HTTP 429{said}) {tries}: wait a minute, "
                "make decisions less often, or check the account's quota and balance"
            )
        return (
            f"the model server for profile '{p.name}' failed (HTTP {failure.status}{said}) "
            f"{tries}: try again later or switch the trader to another model profile"
        )


def _choice_text(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    return content if isinstance(content, str) else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
