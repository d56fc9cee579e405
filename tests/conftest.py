from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import pytest

from deepalpha.engine import clock as clocks
from deepalpha.engine.markets.sessions import SHANGHAI

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shared real market data (../shared/data/real, beside the checkout)."""
    if not REAL.is_dir():
        pytest.fail(f"real market data not found at {REAL}; it ships beside the checkout")
    return REAL


# The real moment every test's engine starts at, in Beijing time: a Wednesday morning with both
# markets trading. A test that needs another says so: @pytest.mark.moment("2025-12-25 10:00").
DEFAULT_MOMENT = "2025-12-03 10:00"


_REAL_WALL_CLOCK = clocks.WallClock.now


def _no_wall_clock(self: object) -> NoReturn:
    raise AssertionError(
        "a test read the machine's clock: engines take the pinned moment "
        "(the `moment` fixture, @pytest.mark.moment) or an explicit Clock"
    )


def _pin(mp: pytest.MonkeyPatch, text: str, *, guard: bool) -> datetime:
    at = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    pinned = clocks.SimulatedClock(at, 1.0)
    mp.setattr(clocks, "system_clock", lambda: pinned)
    if guard:
        mp.setattr(clocks.WallClock, "now", _no_wall_clock)
    return at


@pytest.fixture(scope="session", autouse=True)
def _pinned_for_shared_fixtures() -> Iterator[None]:
    """The default moment for module- and session-scoped fixtures too (they are set up before
    a test's own ``moment``): an engine a module's tests share starts at it as well."""
    with pytest.MonkeyPatch.context() as mp:
        _pin(mp, DEFAULT_MOMENT, guard=True)
        yield


@pytest.fixture(autouse=True)
def moment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Pin the machine's clock as the application sees it (``system_clock()``), so that no test
    depends on the hour or the day it runs: the moment starts where the test says and runs at
    the wall's pace. Reading the wall clock any other way fails the test."""
    marker = request.node.get_closest_marker("moment")
    text = marker.args[0] if marker is not None else DEFAULT_MOMENT
    if request.node.get_closest_marker("wall_clock") is not None:
        monkeypatch.setattr(clocks.WallClock, "now", _REAL_WALL_CLOCK)
    return _pin(monkeypatch, text, guard=False)


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read the developer's own settings; share one calendar cache per test session."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("DEEPALPHA_CACHE_DIR", str(cache))
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(tmp_path_factory.getbasetemp() / "none.toml"))
    # A served engine (also one in a subprocess) listens on a free port: tests run side by side.
    monkeypatch.setenv("DEEPALPHA_SERVER__PORT", "0")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on SQLite and on the local Postgres."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'deepalpha.db'}"
        return
    from tests.db import postgres_database

    with postgres_database() as url:
        yield url
