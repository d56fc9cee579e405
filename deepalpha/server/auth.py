"""Who may use ``deepalpha serve``: password hashes, the token signing secret, access and refresh
tokens, the login rate limit and the roles' rules. No HTTP here: the routes call this module.

- Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).
  Only the hash is stored; no function here logs, formats or raises with a password.
- Tokens are JWTs signed with HS256. Each carries a ``type`` claim, so a refresh token is never
  taken for an access token. Expiry is checked against the clock the service is given, never
  the machine's (PyJWT's own time checks are switched off).
- The signing secret comes from ``DEEPALPHA_JWT_SECRET`` or the keyring, never from the
  database or a settings file. :class:`AuthError` messages never hold a token or the secret.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import secrets
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

if TYPE_CHECKING:
    from deepalpha.storage.users import StoredUser

log = logging.getLogger(__name__)


class Role(StrEnum):
    ADMIN = "admin"  # everything, on every trader, and the users
    TRADER = "trader"  # commands on the traders it owns; reads everything
    VIEWER = "viewer"  # reads only


def may_act_on_trader(role: Role, user: str, owner: str | None) -> bool:
    """Whether ``user`` (with ``role``) may command the trader that ``owner`` owns."""
    if role is Role.ADMIN:
        return True
    return role is Role.TRADER and owner is not None and owner == user


# --- passwords ------------------------------------------------------------------------------
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; nobody types more, and a bound is a bound

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash with a fresh salt: two calls never give the same text."""
    return _HASHER.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches the hash (argon2 compares in constant time); a damaged or
    foreign hash is a mismatch, not an error."""
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(hashed)
    except InvalidHashError:
        return False


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be a new password, or ``None``. The message never quotes it."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters "
            f"(this one has {len(password)})"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    if not password.strip():
        return "a password cannot be only spaces"
    return None


_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash of nothing anybody knows, verified for unknown names so that a login for a name
    that does not exist takes as long as one for a name that does."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(24))
    return _dummy_hash


# --- the signing secret ---------------------------------------------------------------------
SECRET_ENV = "DEEPALPHA_JWT_SECRET"
KEYRING_SERVICE = "deepalpha"
KEYRING_SECRET_NAME = "jwt-signing-secret"
MIN_SECRET_BYTES = 32  # HS256's key should be at least its 256-bit output (RFC 7518 §3.2)
MIN_SECRET_SYMBOLS = 8


def load_signing_secret(environ: Mapping[str, str] | None = None) -> str | None:
    """``DEEPALPHA_JWT_SECRET`` (deployments: a Kubernetes Secret), else the keyring's
    ``deepalpha`` / ``jwt-signing-secret``; ``None`` if neither has one."""
    env = os.environ if environ is None else environ
    value = (env.get(SECRET_ENV) or "").strip()
    if value:
        return value
    try:
        import keyring  # noqa: PLC0415 - late: backends are slow to load

        stored = keyring.get_password(KEYRING_SERVICE, KEYRING_SECRET_NAME)
    except Exception as exc:  # NoKeyringError, a locked or broken backend, D-Bus errors...
        log.debug("keyring unavailable for the token signing secret (%s)", type(exc).__name__)
        return None
    stored = (stored or "").strip()
    return stored or None


def is_strong_secret(secret: str) -> bool:
    """At least 32 bytes, and not trivially repetitive: several different characters and not
    one short piece said over and over ("abcd" * 8)."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return False
    if len(set(secret)) < MIN_SECRET_SYMBOLS:
        return False
    n = len(secret)
    return not any(
        n % size == 0 and secret == secret[:size] * (n // size) for size in range(1, n // 2 + 1)
    )


_process_secret: str | None = None


def ensure_local_secret(environ: Mapping[str, str] | None = None) -> str:
    """The signing secret for a ``serve`` that listens on loopback only: the configured one,
    else a new random one kept in the keyring so that tokens survive a restart. Without a
    usable keyring it lives in this process only (logged once, without the secret)."""
    global _process_secret
    configured = load_signing_secret(environ)
    if configured is not None:
        return configured
    if _process_secret is not None:
        return _process_secret
    secret = secrets.token_urlsafe(48)
    try:
        import keyring  # noqa: PLC0415

        keyring.set_password(KEYRING_SERVICE, KEYRING_SECRET_NAME, secret)
        # Some backends (keyring's null one) accept and forget: keep only what reads back.
        kept = keyring.get_password(KEYRING_SERVICE, KEYRING_SECRET_NAME) == secret
        why = "it did not keep it"
    except Exception as exc:
        kept, why = False, type(exc).__name__
    if kept:
        log.info(
            "made a token signing secret and stored it in the keyring (%s / %s)",
            KEYRING_SERVICE,
            KEYRING_SECRET_NAME,
        )
    else:
        log.warning(
            "no keyring to keep the token signing secret in (%s): this process made one that "
            "ends with it, so logins do not survive a restart; set %s to keep them",
            why,
            SECRET_ENV,
        )
    _process_secret = secret
    return secret


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen_problem(host: str, secret: str | None, users: int) -> str | None:
    """Why ``serve`` must not listen on ``host``, or ``None``. Beyond loopback it needs a strong
    secret of its own (not one made up for the occasion) and at least one user."""
    if is_loopback(host):
        return None
    where = f"listening on {host}, beyond this machine,"
    if secret is None:
        return (
            f"{where} needs a token signing secret: set {SECRET_ENV} or store one in the "
            f"keyring ({KEYRING_SERVICE} / {KEYRING_SECRET_NAME})"
        )
    if not is_strong_secret(secret):
        return (
            f"{where} needs a strong token signing secret: at least {MIN_SECRET_BYTES} bytes of "
            "random text, e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if users < 1:
        return f"{where} needs a user: deepalpha users add NAME --role admin"
    return None


# --- tokens ---------------------------------------------------------------------------------
ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096  # ours are ~300 characters; anything far longer is not ours
# Tokens whose signature and claims were checked, kept so a client's every request does not pay
# for PyJWT again (~80 µs, a fifth of a signed-in read); type and expiry are checked each time.
CHECKED_TOKENS = 1024
TokenKind = Literal["access", "refresh"]
NOT_OURS = "the token is not a token this server issued"


class AuthError(Exception):
    """Authentication failed. ``code`` is for programs (``token_expired``, ``token_invalid``,
    ``wrong_token_type``, ``user_unavailable``), ``message`` for people; neither ever holds a
    token, a password or the secret."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TokenPair(BaseModel):
    model_config = ConfigDict(frozen=True)

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int  # seconds the access token is valid for


class Claims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sub: str
    role: Role
    type: TokenKind
    exp: StrictInt  # Unix seconds
    iat: StrictInt
    jti: str


class TokenService:
    """Issues and checks tokens; ``now`` is the only clock it reads."""

    def __init__(
        self,
        secret: str,
        now: Callable[[], datetime],
        access_ttl: timedelta = timedelta(minutes=15),
        refresh_ttl: timedelta = timedelta(days=7),
    ) -> None:
        if not secret:
            raise ValueError("a token signing secret is required")
        self._secret = secret
        self._now = now
        self._checked: dict[str, Claims] = {}  # token → its claims, oldest first
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def __repr__(self) -> str:  # never the secret
        return f"TokenService(access_ttl={self.access_ttl}, refresh_ttl={self.refresh_ttl})"

    def issue(self, name: str, role: Role) -> TokenPair:
        role = Role(role)  # a plain "admin" too
        at = self._now()
        return TokenPair(
            access_token=self._sign(name, role, "access", at, self.access_ttl),
            refresh_token=self._sign(name, role, "refresh", at, self.refresh_ttl),
            expires_in=int(self.access_ttl.total_seconds()),
        )

    def _sign(self, name: str, role: Role, kind: TokenKind, at: datetime, ttl: timedelta) -> str:
        payload: dict[str, Any] = {
            "sub": name,
            "role": role.value,
            "type": kind,
            "iat": int(at.timestamp()),
            "exp": int((at + ttl).timestamp()),
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, kind: TokenKind) -> Claims:
        """The token's claims if it is ours, unexpired and of ``kind``; else :class:`AuthError`."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("token_invalid", NOT_OURS)
        claims = self._checked.get(token)
        if claims is None:
            claims = self._decode(token)
            if len(self._checked) >= CHECKED_TOKENS:
                del self._checked[next(iter(self._checked))]
            self._checked[token] = claims
        if claims.type != kind:
            raise AuthError(
                "wrong_token_type", f"a {claims.type} token was given where {kind} is needed"
            )
        if self._now().timestamp() >= claims.exp:
            raise AuthError(
                "token_expired",
                "the access token has expired; refresh it"
                if kind == "access"
                else "the refresh token has expired; log in again",
            )
        return claims

    def _decode(self, token: str) -> Claims:
        """The claims of a token signed with our secret; else :class:`AuthError`."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # only HS256: "none" and any other alg are refused
                options={
                    "verify_signature": True,
                    "verify_exp": False,  # checked in verify() against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "role", "type", "exp", "iat", "jti"],
                },
            )
        except jwt.InvalidSignatureError:
            raise AuthError(
                "token_invalid", "the token's signature does not match (not issued here)"
            ) from None
        except jwt.InvalidTokenError:
            # PyJWT's own words may quote header or payload fields; ours quote nothing.
            raise AuthError("token_invalid", NOT_OURS) from None
        try:
            return Claims.model_validate(payload)
        except ValidationError:
            raise AuthError("token_invalid", "the token's claims are not ours") from None


# --- login ----------------------------------------------------------------------------------
class LoginRateLimiter:
    """At most ``max_failures`` failed logins per key (the lead uses (client ip, user name))
    within a sliding ``window``; then :meth:`retry_after` says how long to wait.

    Memory is bounded: keys whose failures have all left the window are forgotten, and past
    ``max_keys`` the oldest key goes, so a stream of made-up names cannot fill it.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=1),
        *,
        now: Callable[[], datetime],
        max_keys: int = 10_000,
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.max_failures = max_failures
        self.window = window
        self._now = now
        self.max_keys = max_keys
        self._failures: dict[Hashable, deque[datetime]] = {}

    def _recent(self, key: Hashable, now: datetime) -> deque[datetime] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, key: Hashable) -> float | None:
        """Seconds until ``key`` may try again, or ``None`` when it may now."""
        now = self._now()
        times = self._recent(key, now)
        if times is None or len(times) < self.max_failures:
            return None
        # Allowed again when the failure that filled the window leaves it.
        free_at = times[-self.max_failures] + self.window
        return max((free_at - now).total_seconds(), 0.001)

    def failed(self, key: Hashable) -> None:
        now = self._now()
        times = self._recent(key, now)
        if times is None:
            if len(self._failures) >= self.max_keys:
                self._forget_stale(now)
            times = self._failures[key] = deque(maxlen=self.max_failures)
        times.append(now)

    def succeeded(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def _forget_stale(self, now: datetime) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        while len(self._failures) >= self.max_keys:
            del self._failures[next(iter(self._failures))]  # the oldest key


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as the server sees it: never the password hash."""

    name: str
    role: Role
    disabled: bool


class UserSource(Protocol):
    """What :func:`authenticate` needs of the store (``SqlStore`` has it)."""

    async def get_user(self, name: str) -> StoredUser | None: ...

    async def set_password(self, name: str, password_hash: str) -> None: ...


def _record(user: StoredUser) -> UserRecord:
    return UserRecord(user.name, Role(user.role), user.disabled)


async def find_user(store: UserSource, name: str) -> UserRecord | None:
    """The user named ``name``, disabled or not; ``None`` if there is none."""
    user = await store.get_user(name)
    return None if user is None else _record(user)


async def authenticate(store: UserSource, name: str, password: str) -> UserRecord | None:
    """The user if ``name`` exists, is enabled and ``password`` is its password; else ``None``
    — one answer for every failure, taking the same time whether the name exists or not.

    Hashing runs in a thread: argon2 is built to take tens of milliseconds, and the event loop
    serves everyone else meanwhile. A hash made with weaker parameters than today's is
    replaced on a successful login.
    """
    stored = await store.get_user(name) if len(name) <= 64 else None
    hashed = stored.password_hash if stored is not None else _dummy()
    ok = await asyncio.to_thread(verify_password, hashed, password)
    if stored is None or not ok or stored.disabled:
        return None
    if needs_rehash(hashed):
        await store.set_password(stored.name, await asyncio.to_thread(hash_password, password))
    return _record(stored)


async def refresh_tokens(store: UserSource, tokens: TokenService, refresh_token: str) -> TokenPair:
    """A new pair for a valid refresh token whose user still exists and is enabled; the role
    is read afresh, so a changed role holds from the next refresh."""
    claims = tokens.verify(refresh_token, "refresh")
    user = await store.get_user(claims.sub)
    if user is None or user.disabled:
        raise AuthError("user_unavailable", "the token's user no longer exists or is disabled")
    return tokens.issue(user.name, Role(user.role))
