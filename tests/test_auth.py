"""server.auth: argon2 passwords, access and refresh tokens against a pinned clock, the
signing secret from the environment or the keyring, the login rate limit, authentication."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import keyring
import pytest
from argon2 import PasswordHasher
from keyring.backend import KeyringBackend
from keyring.backends import fail

from deepalpha.server import auth
from deepalpha.server.auth import (
    AuthError,
    Claims,
    LoginRateLimiter,
    Role,
    TokenService,
    UserRecord,
    authenticate,
    ensure_local_secret,
    find_user,
    hash_password,
    is_loopback,
    is_strong_secret,
    listen_problem,
    load_signing_secret,
    may_act_on_trader,
    password_problem,
    refresh_tokens,
    verify_password,
)
from deepalpha.storage.connect import open_store
from deepalpha.storage.repository import SqlStore

ROOT = Path(__file__).resolve().parents[1]
SECRET = "k7Qm2VxR9pLw4ZsT8nYb3HcJ6fGd1AeU5oKi0rNt"  # 40 characters, random
OTHER_SECRET = "Zq8Wn3Lp6Rt1Vy4Bx7Mc2Hs5Jk9Gd0Fa3Ue6Ti8O"
PASSWORD = "canary-Pa55word-4711"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 12, 3, 2, 0, tzinfo=UTC))


@pytest.fixture
def tokens(clock: Clock) -> TokenService:
    return TokenService(SECRET, clock)


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(autouse=True)
def no_real_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never the machine's keyring; each test starts with no secret made in this process."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.delenv(auth.SECRET_ENV, raising=False)
    monkeypatch.setattr(auth, "_process_secret", None)
    yield
    keyring.set_keyring(before)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    return ring


# --- passwords ------------------------------------------------------------------------------
def test_hashes_verify_and_differ_per_call() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second  # a fresh salt each time
    assert first.startswith("$argon2id$")
    assert PASSWORD not in first
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + "x")
    assert not verify_password(first, "")
    assert not verify_password("not a hash", PASSWORD)  # damaged: a mismatch, not a crash
    assert not verify_password(first[:-4], PASSWORD)


def test_password_rules_never_quote_the_password() -> None:
    assert password_problem("x" * 11) == "a password needs at least 12 characters (this one has 11)"
    assert password_problem(" " * 12) == "a password cannot be only spaces"
    assert password_problem("y" * 1025) == "a password has at most 1024 characters"
    assert password_problem("twelve chars") is None
    short = "s3cr3t-pw"
    assert short not in (password_problem(short) or "")


# --- tokens ---------------------------------------------------------------------------------
def test_a_token_pair_round_trips(tokens: TokenService, clock: Clock) -> None:
    pair = tokens.issue("alice", Role.TRADER)
    assert pair.token_type == "bearer" and pair.expires_in == 15 * 60
    assert set(pair.model_dump()) == {"access_token", "refresh_token", "token_type", "expires_in"}
    access = tokens.verify(pair.access_token, "access")
    refresh = tokens.verify(pair.refresh_token, "refresh")
    now = int(clock().timestamp())
    assert (access.sub, access.role, access.type, access.iat) == (
        "alice",
        Role.TRADER,
        "access",
        now,
    )
    assert access.exp == now + 15 * 60
    assert (refresh.type, refresh.exp) == ("refresh", now + 7 * 24 * 3600)
    assert access.jti != refresh.jti
    assert (
        tokens.verify(tokens.issue("alice", Role.TRADER).access_token, "access").jti != access.jti
    )


def test_expiry_follows_the_given_clock_not_the_machines(
    tokens: TokenService, clock: Clock
) -> None:
    clock.at = datetime(2019, 6, 1, tzinfo=UTC)  # long past on the machine's clock
    pair = tokens.issue("alice", Role.ADMIN)
    clock.advance(minutes=14, seconds=59)
    assert tokens.verify(pair.access_token, "access").sub == "alice"
    clock.advance(seconds=1)
    with pytest.raises(AuthError) as err:
        tokens.verify(pair.access_token, "access")
    assert err.value.code == "token_expired" and "refresh" in err.value.message
    assert tokens.verify(pair.refresh_token, "refresh").sub == "alice"  # lives 7 days
    clock.advance(days=7)
    with pytest.raises(AuthError) as err:
        tokens.verify(pair.refresh_token, "refresh")
    assert err.value.code == "token_expired" and "log in again" in err.value.message

    clock.at = datetime(2040, 1, 1, tzinfo=UTC)  # far ahead of the machine: still judged by it
    assert tokens.verify(tokens.issue("bob", Role.VIEWER).access_token, "access").sub == "bob"


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(segment: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def _refused(tokens: TokenService, token: str, kind: str = "access") -> AuthError:
    with pytest.raises(AuthError) as err:
        tokens.verify(token, kind)  # type: ignore[arg-type]
    # Neither the token, nor any part of it, nor the secret is ever in the words.
    words = f"{err.value} {err.value.message} {err.value.code} {err.value!r}"
    assert SECRET not in words and OTHER_SECRET not in words
    assert token not in words or not token
    assert all(part not in words for part in _segments(token) if len(part) > 8)
    return err.value


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 token
def test_bad_tokens_are_refused_with_a_code_and_no_secret(
    tokens: TokenService, clock: Clock
) -> None:
    pair = tokens.issue("bob", Role.VIEWER)
    claims = _unb64(_segments(pair.access_token)[1])
    now = int(clock().timestamp())

    other = TokenService(OTHER_SECRET, clock).issue("bob", Role.ADMIN)
    assert _refused(tokens, other.access_token).code == "token_invalid"

    assert _refused(tokens, pair.refresh_token, "access").code == "wrong_token_type"
    assert _refused(tokens, pair.access_token, "refresh").code == "wrong_token_type"

    header, _payload, signature = _segments(pair.access_token)
    promoted = _b64({**claims, "role": "admin"})
    assert _refused(tokens, f"{header}.{promoted}.{signature}").code == "token_invalid"

    unsigned = jwt.encode(claims, key=None, algorithm="none")
    assert _refused(tokens, unsigned).code == "token_invalid"
    bare = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_segments(pair.access_token)[1]}."
    assert _refused(tokens, bare).code == "token_invalid"
    other_alg = jwt.encode(claims, SECRET, algorithm="HS512")  # our secret, not our algorithm
    assert _refused(tokens, other_alg).code == "token_invalid"

    missing_jti = {k: v for k, v in claims.items() if k != "jti"}
    assert (
        _refused(tokens, jwt.encode(missing_jti, SECRET, algorithm="HS256")).code == "token_invalid"
    )
    bad_role = {**claims, "role": "root"}
    assert _refused(tokens, jwt.encode(bad_role, SECRET, algorithm="HS256")).code == "token_invalid"
    text_exp = {**claims, "exp": str(now + 60)}
    assert _refused(tokens, jwt.encode(text_exp, SECRET, algorithm="HS256")).code == "token_invalid"

    for junk in ("", "abc", "a.b.c", "x" * 5000, pair.access_token + "x"):
        assert _refused(tokens, junk).code == "token_invalid"
    assert SECRET not in repr(tokens)


def test_a_token_service_needs_a_secret(clock: Clock) -> None:
    with pytest.raises(ValueError, match="secret is required"):
        TokenService("", clock)


# --- the signing secret ---------------------------------------------------------------------
def test_the_secret_comes_from_the_environment_before_the_keyring(
    memory_keyring: MemoryKeyring,
) -> None:
    assert load_signing_secret({}) is None
    memory_keyring.store[("deepalpha", "jwt-signing-secret")] = OTHER_SECRET
    assert load_signing_secret({}) == OTHER_SECRET
    assert load_signing_secret({"DEEPALPHA_JWT_SECRET": SECRET + "\n"}) == SECRET
    assert load_signing_secret({"DEEPALPHA_JWT_SECRET": "  "}) == OTHER_SECRET  # blank: unset


def test_a_broken_keyring_means_no_secret_not_a_crash() -> None:
    assert load_signing_secret({}) is None  # the fail backend raises NoKeyringError


@pytest.mark.parametrize(
    ("secret", "strong"),
    [
        (SECRET, True),
        ("0123456789abcdef" * 4, False),  # one piece said over and over
        ("a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9c", True),  # hex
        ("short-but-random-Xy7", False),
        ("a" * 64, False),
        ("abababababababababababababababababab", False),
        ("aaaabbbbccccddddaaaabbbbccccddddeeee", False),  # five symbols
        ("密钥" * 8, False),  # 48 bytes, two symbols
    ],
)
def test_strong_secrets(secret: str, strong: bool) -> None:
    assert is_strong_secret(secret) is strong


def test_a_local_secret_is_made_once_and_kept_in_the_keyring(
    memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="deepalpha")
    made = ensure_local_secret({})
    assert is_strong_secret(made)
    assert memory_keyring.store[("deepalpha", "jwt-signing-secret")] == made
    auth._process_secret = None  # a restart: the keyring still has it
    assert ensure_local_secret({}) == made
    assert made not in caplog.text and "stored it in the keyring" in caplog.text
    assert ensure_local_secret({"DEEPALPHA_JWT_SECRET": SECRET}) == SECRET  # configured wins


def test_without_a_keyring_the_local_secret_lives_in_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="deepalpha")
    made = ensure_local_secret({})
    assert is_strong_secret(made)
    assert ensure_local_secret({}) == made  # the same for the whole process
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # said once
    assert "this process" in warnings[0].getMessage() and "NoKeyringError" in caplog.text
    assert made not in caplog.text


def test_a_keyring_that_forgets_is_no_keyring(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from keyring.backends import null

    keyring.set_keyring(null.Keyring())
    caplog.set_level(logging.WARNING, logger="deepalpha")
    made = ensure_local_secret({})
    assert "did not keep it" in caplog.text and made not in caplog.text


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("deepalpha.example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_beyond_loopback_serve_needs_a_strong_secret_and_a_user() -> None:
    assert listen_problem("127.0.0.1", None, 0) is None  # loopback: a made-up secret will do
    problem = listen_problem("0.0.0.0", None, 1)
    assert (
        problem is not None and "needs a token signing secret: set DEEPALPHA_JWT_SECRET" in problem
    )
    weak = "password" * 4
    problem = listen_problem("0.0.0.0", weak, 1)
    assert problem is not None and "strong token signing secret" in problem and weak not in problem
    problem = listen_problem("0.0.0.0", SECRET, 0)
    assert problem == (
        "listening on 0.0.0.0, beyond this machine, needs a user: "
        "deepalpha users add NAME --role admin"
    )
    assert SECRET not in (listen_problem("10.1.2.3", SECRET, 0) or "")
    assert listen_problem("0.0.0.0", SECRET, 1) is None


# --- the login rate limit -------------------------------------------------------------------
def test_five_failures_wait_out_the_window(clock: Clock) -> None:
    limiter = LoginRateLimiter(now=clock)
    key = ("10.0.0.7", "alice")
    for _ in range(4):
        limiter.failed(key)
        clock.advance(seconds=2)
    assert limiter.retry_after(key) is None
    limiter.failed(key)  # the fifth, 8 s after the first
    assert limiter.retry_after(key) == pytest.approx(52.0)
    assert limiter.retry_after(("10.0.0.8", "alice")) is None  # another client
    assert limiter.retry_after(("10.0.0.7", "bob")) is None  # another name
    clock.advance(seconds=51)
    assert limiter.retry_after(key) == pytest.approx(1.0)
    clock.advance(seconds=1)
    assert limiter.retry_after(key) is None  # the first failure left the window
    limiter.failed(key)
    assert limiter.retry_after(key) == pytest.approx(2.0)  # the second one leaves next
    clock.advance(minutes=1)
    assert limiter.retry_after(key) is None


def test_a_success_clears_the_failures(clock: Clock) -> None:
    limiter = LoginRateLimiter(max_failures=3, window=timedelta(seconds=30), now=clock)
    for _ in range(3):
        limiter.failed("k")
    assert limiter.retry_after("k") == pytest.approx(30.0)
    limiter.succeeded("k")
    assert limiter.retry_after("k") is None


def test_made_up_names_cannot_fill_the_memory(clock: Clock) -> None:
    limiter = LoginRateLimiter(now=clock, max_keys=100)
    for i in range(1000):
        limiter.failed(("10.0.0.9", f"name{i}"))
    assert len(limiter._failures) <= 100
    for _ in range(5):
        limiter.failed("last")
    assert limiter.retry_after("last") is not None  # the newest key is kept


# --- users ----------------------------------------------------------------------------------
def test_roles_and_traders() -> None:
    assert may_act_on_trader(Role.ADMIN, "root", None)
    assert may_act_on_trader(Role.ADMIN, "root", "bob")
    assert may_act_on_trader(Role.TRADER, "bob", "bob")
    assert not may_act_on_trader(Role.TRADER, "bob", "carol")
    assert not may_act_on_trader(Role.TRADER, "bob", None)
    assert not may_act_on_trader(Role.VIEWER, "vic", "vic")


def with_store(tmp_path: Path, scenario) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        store = await open_store(None, tmp_path)
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(go())


def test_authenticate(tmp_path: Path) -> None:
    async def scenario(store: SqlStore) -> None:
        await store.add_user("alice", "admin", hash_password(PASSWORD))
        await store.add_user("dora", "viewer", hash_password(PASSWORD), disabled=True)
        user = await authenticate(store, "alice", PASSWORD)
        assert user == UserRecord("alice", Role.ADMIN, False)
        assert not hasattr(user, "password_hash")
        assert await authenticate(store, "alice", PASSWORD + "!") is None
        assert await authenticate(store, "Alice", PASSWORD) is None
        assert await authenticate(store, "nobody", PASSWORD) is None
        assert await authenticate(store, "x" * 500, PASSWORD) is None
        assert await authenticate(store, "dora", PASSWORD) is None  # disabled
        assert await find_user(store, "dora") == UserRecord("dora", Role.VIEWER, True)
        assert await find_user(store, "nobody") is None

    with_store(tmp_path, scenario)


@pytest.mark.slow
def test_an_unknown_name_takes_as_long_as_a_wrong_password(tmp_path: Path) -> None:
    """The hash of nothing is checked for a name that does not exist, so the answer's time
    does not tell which names do."""

    async def timed(store: SqlStore, name: str) -> float:
        start = time.perf_counter()
        assert await authenticate(store, name, "wrong password!") is None
        return time.perf_counter() - start

    async def scenario(store: SqlStore) -> None:
        await store.add_user("alice", "admin", hash_password(PASSWORD))
        await timed(store, "nobody")  # the dummy hash is made once, on first use
        known = statistics.median([await timed(store, "alice") for _ in range(3)])
        unknown = statistics.median([await timed(store, "nobody") for _ in range(3)])
        assert unknown > 0.3 * known, (unknown, known)  # skipping the hash: ~0.02

    with_store(tmp_path, scenario)


def test_a_weak_hash_is_replaced_on_login(tmp_path: Path) -> None:
    async def scenario(store: SqlStore) -> None:
        weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        await store.add_user("alice", "admin", weak)
        assert await authenticate(store, "alice", PASSWORD) is not None
        stored = await store.get_user("alice")
        assert stored is not None and stored.password_hash != weak
        assert verify_password(stored.password_hash, PASSWORD)
        assert not auth.needs_rehash(stored.password_hash)

    with_store(tmp_path, scenario)


def test_refresh_reads_the_user_afresh(tmp_path: Path, tokens: TokenService, clock: Clock) -> None:
    async def scenario(store: SqlStore) -> None:
        await store.add_user("bob", "trader", hash_password(PASSWORD))
        pair = tokens.issue("bob", Role.TRADER)
        await store.set_role("bob", "viewer")
        clock.advance(minutes=20)  # the access token has expired; the refresh token has not
        fresh = await refresh_tokens(store, tokens, pair.refresh_token)
        claims: Claims = tokens.verify(fresh.access_token, "access")
        assert (claims.sub, claims.role) == ("bob", Role.VIEWER)
        with pytest.raises(AuthError) as err:
            await refresh_tokens(store, tokens, fresh.access_token)
        assert err.value.code == "wrong_token_type"
        await store.set_disabled("bob", True)
        with pytest.raises(AuthError) as err:
            await refresh_tokens(store, tokens, fresh.refresh_token)
        assert err.value.code == "user_unavailable"
        await store.remove_user("bob")
        with pytest.raises(AuthError) as err:
            await refresh_tokens(store, tokens, fresh.refresh_token)
        assert err.value.code == "user_unavailable"

    with_store(tmp_path, scenario)


def test_auth_imports_no_web_framework() -> None:
    code = (
        "import sys, deepalpha.server.auth\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'uvicorn')]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
