"""Start-up: the first frame shows prices before the engine has started, and nothing it skips
changes what the engine does.

- ``storage.peek`` reads with ``sqlite3`` exactly what the store wrote (preferences, the saved
  market, the last days) and declines anything it is not sure of;
- the modules of the first frame import none of the heavy libraries;
- while the engine starts, a twin of the market plays for the screen, and the engine's market
  then plays the same steps with the broker attached: the handover is seamless;
- the warm-up history of a symbol is generated when its bars are asked for, not when its first
  bar closes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time as clock
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from deepalpha.app import runtime as runtime_module
from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.app.tui import make_app
from deepalpha.engine.events import QuoteEvent
from deepalpha.engine.feeds.simulator import SimulatedMarket
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.sessions import SHANGHAI
from deepalpha.engine.minute_bars import MinuteBars
from deepalpha.storage.connect import open_store
from deepalpha.storage.migrate import head_revision
from deepalpha.storage.peek import SCHEMA_HEAD, Peek, peek
from deepalpha.widgets.quote_board import QuoteBoard

START = datetime(2025, 12, 3, 10, 0, tzinfo=SHANGHAI)  # both markets trading
MOUTAI = "600519.SH"


def options(data: Path, **kw: Any) -> RuntimeOptions:
    return RuntimeOptions(data_dir=data, auto_backup=False, start_at=START, **kw)


async def until(condition: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = clock.monotonic() + timeout
    while not condition():
        if clock.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {condition}")
        await asyncio.sleep(0.02)


# --- peek -----------------------------------------------------------------------------------


def test_peek_knows_the_schema_alembic_has() -> None:
    assert head_revision() == SCHEMA_HEAD  # a new migration: check peek's queries, bump it


def test_peek_reads_what_the_store_wrote(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def first_run() -> None:
        b = LocalBackend(options(data, speed=600))
        await b.start()
        await b.set_preference("language", "zh")
        await b.set_preference("watchlist", ["600519.SH", "00700.HK"])
        await b.set_preference("nothing", None)
        await until(lambda: b.runtime.market.now() > START + timedelta(minutes=1))
        await b.stop()

    async def stored() -> tuple[Any, dict[str, Any]]:
        store = await open_store(None, data)
        try:
            prefs = {
                k: await store.get_preference(k, "default")
                for k in ("language", "watchlist", "nothing", "absent")
            }
            return await store.load_state(), prefs
        finally:
            await store.close()

    asyncio.run(first_run())
    state, prefs = asyncio.run(stored())
    seen = peek(data / "deepalpha.db")
    assert seen is not None and state.market is not None
    assert seen.market == state.market
    assert {m.value: d for m, d in state.last_days.items()} == seen.last_days
    assert {k: seen.preferences.get(k, "default") for k in prefs} == prefs
    assert prefs["watchlist"] == ["600519.SH", "00700.HK"] and prefs["nothing"] is None


def test_peek_declines_what_it_cannot_be_sure_of(tmp_path: Path) -> None:
    assert peek(tmp_path / "none.db") == Peek()  # no database yet: nothing stored
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, not even close" * 10)
    assert peek(junk) is None

    async def make() -> None:
        store = await open_store(None, tmp_path)
        await store.close()

    asyncio.run(make())
    db = tmp_path / "deepalpha.db"
    assert peek(db) == Peek()
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0002'")
    assert peek(db) is None  # a schema to migrate: the slow path, through Alembic


# --- what the first frame imports -----------------------------------------------------------

HEAVY = (
    "sqlalchemy",
    "alembic",
    "numpy",
    "talib",
    "pandas",
    "exchange_calendars",
    "httpx",
    "pydantic",
)


def test_the_first_frame_imports_no_heavy_library(tmp_path: Path) -> None:
    """The workstation's way to its first frame (the command, the app, the backend, the
    market screen, the engine's start-up) imports none of what takes most of a second; those
    load after it. The command runs for real, up to where the app would take the terminal."""
    code = (
        "import sys, json\n"
        "import deepalpha.app.tui as tui\n"
        "tui.DeepAlphaApp.run = lambda self, *a, **k: None\n"
        "from deepalpha.app.cli import main\n"
        f"main(['--data-dir', {str(tmp_path)!r}])\n"
        "import deepalpha.screens.market\n"
        "import datetime\n"
        "from pathlib import Path\n"
        "import zoneinfo\n"
        "from deepalpha.app.runtime import Runtime, RuntimeOptions\n"
        f"Runtime(RuntimeOptions(data_dir=Path({str(tmp_path)!r}), start_at={START!r}))"
        ".prepare()\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


# --- the market twin --------------------------------------------------------------------------


def test_the_engine_market_takes_over_where_the_screen_was(tmp_path: Path) -> None:
    """``open`` shows a market at once and lets it play; ``start`` hands over to the engine's
    market at the same moment with the same prices, the steps in between fed to the broker and
    the bars as if the engine had run from the first moment."""

    async def go() -> None:
        b = LocalBackend(options(tmp_path / "data", speed=600, seed=5))
        await b.open()
        rt = b.runtime
        assert not b.ready and rt.prepared
        first = dict(b.quotes())
        assert len(first) == len(b.instruments()) > 30
        versions = b.quotes_version()
        await until(lambda: b.quotes_version() > versions + 3)  # it plays on meanwhile
        assert b.quotes() != first
        await b.start()
        try:
            assert b.ready and rt.screen_market is rt.market
            # The engine's market played every step the screen showed, in order: a market
            # advanced alone to the same moment has the same quotes.
            alone = SimulatedMarket(seed=5, speed=600, start=START, instruments=rt.instruments)
            for _ in alone.iter_to(rt.market.now()):
                pass
            shown = rt.market.quotes
            assert {s: q for s, q in alone.quotes.items()} == {
                s: q for s, q in shown.items() if s in alone.quotes
            }
            assert rt.broker.state(MOUTAI).last == shown[MOUTAI].last
            assert rt.minute_bars.get(MOUTAI)[-1].time >= START  # bars from the live quotes
        finally:
            await b.stop()

    asyncio.run(go())


def test_preferences_are_there_before_the_engine_and_writes_wait_for_it(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def first() -> None:
        b = LocalBackend(options(data))
        await b.start()
        await b.set_preference("theme", "light")
        await b.stop()

    async def second() -> None:
        b = LocalBackend(options(data))
        await b.open()
        assert not b.ready
        assert await b.get_preference("theme") == "light"
        assert await b.get_preference("absent", 3) == 3
        await b.set_preference("theme", "dark")  # waits for the engine, then is stored
        assert b.ready
        assert await b.runtime.store.get_preference("theme") == "dark"
        await b.stop()

    asyncio.run(first())
    asyncio.run(second())


def test_the_board_has_prices_while_the_engine_is_still_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first frame does not wait for the database engine: with its import held back, the
    market screen already shows moving prices; released, the engine starts under it."""
    release = threading.Event()
    opener = runtime_module._store_opener

    def slow_opener() -> Any:
        release.wait()  # no timeout: libfaketime (CI) can turn timed waits into hangs
        return opener()

    monkeypatch.setattr(runtime_module, "_store_opener", slow_opener)

    async def go() -> None:
        backend = LocalBackend(options(tmp_path / "data", speed=600, tick_interval=0.1))
        app = make_app(backend, start_screen="market")
        async with app.run_test(size=(120, 40)) as pilot:
            try:
                board = app.screen.query_one(QuoteBoard)
                await until(lambda: board.cell_text(MOUTAI, "last") not in ("", "—"))
                before = board.cell_text(MOUTAI, "volume")
                await until(lambda: board.cell_text(MOUTAI, "volume") != before)
                assert not backend.ready and not backend.runtime.started
            finally:
                release.set()
            await until(lambda: backend.ready, timeout=60)
            await pilot.pause()

    asyncio.run(go())


# --- the warm-up history ----------------------------------------------------------------------


def _quote(symbol: str, at: datetime, last: str, volume: int) -> Quote:
    price = Decimal(last)
    return Quote(symbol, at, price, price, price, 100, 100, volume)


def test_history_is_read_when_the_bars_are_asked_for() -> None:
    asked: list[str] = []
    t0 = datetime(2025, 12, 3, 9, 31, tzinfo=SHANGHAI)
    history = {
        s: [
            Bar(s, t0 - timedelta(minutes=n), date(2025, 12, 2), *(Decimal(9),) * 4, 10)
            for n in range(6, 0, -1)
        ]
        for s in ("A.SH", "B.SH")
    }

    def source(symbol: str) -> list[Bar]:
        asked.append(symbol)
        return history[symbol]

    bars = MinuteBars(kept=8, history=source)
    for minute in range(5):  # every symbol closes bars, nobody asks yet
        for s in ("A.SH", "B.SH"):
            bars.on_quote(QuoteEvent(_quote(s, t0 + timedelta(minutes=minute), "10", minute)))
    assert asked == []
    got = bars.get("A.SH")
    assert asked == ["A.SH"]
    # The last ``kept`` of history + closed bars, then the bar being built.
    assert got[:4] == history["A.SH"][-4:]
    assert [b.time for b in got[4:]] == [t0 + timedelta(minutes=m) for m in range(5)]
    bars.get("A.SH")
    assert asked == ["A.SH"]  # once


def test_the_runtime_warms_up_only_what_is_asked(tmp_path: Path) -> None:
    """The engine reads the simulator's warm-up history per symbol when its bars are asked for
    (the chart, an AI trader's candidates), never for the whole universe at the first minute."""

    async def go() -> None:
        rt = Runtime(options(tmp_path / "data", speed=600, demo=False))  # no AI trader asks
        generated: list[str] = []
        await rt.start()
        try:
            market = rt.market
            history = market.history

            def counting(symbol: str, count: int = 800) -> list[Bar]:
                generated.append(symbol)
                return history(symbol, count)

            market.history = counting  # type: ignore[method-assign]
            await until(lambda: rt.market.now() > START + timedelta(minutes=3))
            assert generated == []
            assert len(rt.minute_bars.get(MOUTAI)) > 800
            assert generated == [MOUTAI]
        finally:
            await rt.stop()

    asyncio.run(go())


def test_a_restart_continues_from_the_peeked_snapshot(tmp_path: Path) -> None:
    """A market left at lunch continues from its snapshot (read by the peek) when nobody says
    where to start."""
    data = tmp_path / "data"
    lunch = datetime.combine(START.date(), time(12, 0), SHANGHAI)

    async def run(at: datetime | None) -> datetime:
        rt = Runtime(RuntimeOptions(data_dir=data, auto_backup=False, start_at=at, speed=1))
        await rt.start()
        now = rt.market.now()
        await rt.stop()
        return now

    assert asyncio.run(run(lunch)) >= lunch
    assert asyncio.run(run(None)) >= lunch


# --- the first frame's settings -------------------------------------------------------------


def test_first_frame_defaults_are_the_settings_defaults() -> None:
    from deepalpha.app.first_settings import SECTIONS, FirstFrameSettings, overridden
    from deepalpha.app.settings import Settings

    assert not overridden()  # the tests' settings file does not exist
    assert FirstFrameSettings.of(Settings()) == FirstFrameSettings()
    assert set(SECTIONS) == set(Settings.model_fields)


def test_a_settings_file_or_variable_is_read_for_the_first_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepalpha.app.first_settings import first_frame_settings

    config = tmp_path / "settings.toml"
    config.write_text('[market]\nsimulator_seed = 11\n[ui]\ntheme = "light"\n', "utf-8")
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(config))
    first = first_frame_settings()
    assert (first.simulator_seed, first.theme, first.language) == (11, "light", "auto")
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("deepalpha_ui__language", "zh")  # names are case-insensitive
    monkeypatch.setenv("DEEPALPHA_MARKET__SIMULATOR_SPEED", "120")
    first = first_frame_settings()
    assert (first.language, first.simulator_speed, first.simulator_seed) == ("zh", 120.0, 7)


def test_the_market_follows_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The market the first frame shows is built from the settings, and the engine keeps it."""
    config = tmp_path / "settings.toml"
    config.write_text("[market]\nsimulator_seed = 11\n", "utf-8")
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(config))

    async def go() -> None:
        b = LocalBackend(options(tmp_path / "data"))
        await b.open()
        assert b.runtime.screen_market.seed == 11
        await b.start()
        assert b.runtime.market.seed == 11 and b.runtime.settings.market.simulator_seed == 11
        await b.stop()

    asyncio.run(go())
