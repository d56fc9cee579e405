"""The Backend contract: what every backend must do, LocalBackend and RemoteBackend alike.

Each test runs against every backend in ``BACKENDS`` on a fresh data directory: ``local`` is the
engine in this process; ``remote`` is a ``RemoteBackend`` signed in to a live ``deepalpha serve``
on loopback (the same engine options), in the same event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from deepalpha.app.backend import Backend
from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.remote_backend import RemoteBackend, RemoteError
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.engine.events import OrderEvent
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import OrderRequest, OrderStatus, OrderType, Side
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig, TraderKind
from tests.remote_support import SECRET, attached

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def options(data_dir: Path) -> RuntimeOptions:
    return RuntimeOptions(data_dir=data_dir, speed=900, tick_interval=0.02, auto_backup=False)


@asynccontextmanager
async def local(data_dir: Path) -> AsyncIterator[Backend]:
    backend = LocalBackend(options(data_dir))
    await backend.start()
    try:
        yield backend
    finally:
        await backend.stop()


@asynccontextmanager
async def remote(data_dir: Path) -> AsyncIterator[Backend]:
    """The server is started and stopped around the backend: a second ``running`` on the same
    data directory is a restart of ``deepalpha serve``."""
    async with attached(options(data_dir)) as (backend, _server):
        yield backend


Factory = Callable[[Path], AbstractAsyncContextManager[Backend]]
BACKENDS: dict[str, Factory] = {"local": local, "remote": remote}


@pytest.fixture(params=sorted(BACKENDS))
def make_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Factory:
    monkeypatch.setenv("DEEPALPHA_JWT_SECRET", SECRET)  # the server's; the local one ignores it
    return BACKENDS[request.param]


def running(factory: Factory, data_dir: Path) -> AbstractAsyncContextManager[Backend]:
    return factory(data_dir)


async def wait_for(check: Callable[[], object], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def continuous(backend: Backend, market: Market = Market.CN) -> None:
    await wait_for(
        lambda: backend.market_status().phases.get(market) is Phase.CONTINUOUS and backend.quotes()
    )


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_market_view(make_backend: Factory, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(make_backend, tmp_path) as b:
            status = b.market_status()
            assert status.simulated and "SIMULATED" in status.label
            assert status.time.tzinfo is not None
            assert {i.symbol for i in b.instruments()} >= {"600519.SH", "00700.HK"}
            v0 = b.quotes_version()
            await continuous(b)
            await wait_for(lambda: b.quotes_version() > v0 + 50)
            q = b.quotes()["600519.SH"]
            assert q.last > 0 and q.time.tzinfo is not None
            await wait_for(lambda: len(b.bars("600519.SH")) >= 2)

    run(scenario())


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("600519", "600519.SH"),
        ("sh600519", "600519.SH"),
        ("茅台", "600519.SH"),
        ("tencent", "00700.HK"),
        ("700.HK", "00700.HK"),
        ("HK.00700", "00700.HK"),
        ("宁德", "300750.SZ"),
    ],
)
def test_search_matches_codes_aliases_and_names(
    make_backend: Factory, tmp_path: Path, text: str, symbol: str
) -> None:
    async def scenario() -> None:
        async with running(make_backend, tmp_path) as b:
            assert b.search(text)[0].symbol == symbol
            assert b.search("zzzz-nothing") == []

    run(scenario())


def test_orders_are_durable_previewed_cancelled_and_streamed(
    make_backend: Factory, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(make_backend, tmp_path) as b:
            sub = b.subscribe()
            await continuous(b)
            last = b.quotes()["600519.SH"].last
            low = (last * Decimal("0.95")).quantize(Decimal("0.01"))
            bad = b.preview_order(
                OrderRequest("you", "600519.SH", Side.BUY, 150, OrderType.LIMIT, low)
            )
            assert not bad.ok and bad.code == "LOT_SIZE" and "150" in (bad.message or "")
            good = b.preview_order(
                OrderRequest("you", "600519", Side.BUY, 100, OrderType.LIMIT, low)
            )
            assert good.ok and good.amount == low * 100 and good.fees.total > 0
            assert good.board_lot == 100 and good.limit_up is not None
            order = await b.place_order(
                OrderRequest("you", "600519", Side.BUY, 100, OrderType.LIMIT, low)
            )
            assert order.status is OrderStatus.OPEN
            seen = await asyncio.wait_for(_next_order_event(sub, order.id), 5)
            assert seen.order.id == order.id
            second = await b.place_order(
                OrderRequest("you", "00700.HK", Side.BUY, 100, OrderType.LIMIT, Decimal("1.00"))
            )
            assert second.status is OrderStatus.OPEN  # HKEX has no daily price band
            cancelled = await b.cancel_order(order.id)
            assert cancelled.status is OrderStatus.CANCELLED
            assert {o.id for o in b.orders()} >= {order.id}
            await b.cancel_all()
            assert not [o for o in b.orders() if o.status.is_open and o.trader_id == "you"]
            order_id = order.id
        async with running(make_backend, tmp_path) as again:
            [kept] = [o for o in again.orders() if o.id == order_id]
            assert kept.status is OrderStatus.CANCELLED

    run(scenario())


async def _next_order_event(sub: object, order_id: str) -> OrderEvent:
    while True:
        event = await sub.get()  # type: ignore[attr-defined]
        if isinstance(event, OrderEvent) and event.order.id == order_id:
            return event


def test_a_market_buy_fills_into_a_t_plus_one_position(
    make_backend: Factory, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(make_backend, tmp_path) as b:
            await continuous(b)
            before = next(t for t in b.traders() if t.id == "you")
            order = await b.place_order(OrderRequest("you", "600519.SH", Side.BUY, 100))
            await wait_for(lambda: any(f.order_id == order.id for f in b.fills()))
            [pos] = [p for p in b.positions("you") if p.symbol == "600519.SH"]
            assert pos.quantity == 100 and pos.sellable == 0  # bought today: T+1
            after = next(t for t in b.traders() if t.id == "you")
            assert after.fees > before.fees and after.positions == before.positions + 1
            sell = b.preview_order(OrderRequest("you", "600519.SH", Side.SELL, 100))
            assert sell.code == "T_PLUS_ONE" and sell.sellable == 0

    run(scenario())


def test_traders_are_created_started_and_stopped(make_backend: Factory, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(make_backend, tmp_path) as b:
            names = {t.id: t for t in b.traders()}
            assert {"you", "sma-bot"} <= set(names)
            assert names["you"].equity == names["you"].deposits  # nothing traded yet
            await b.set_trader_running("sma-bot", False)
            config = TraderConfig(
                "t-new", "Nova", TraderKind.DISCRETIONARY, limits=RiskLimits(max_open_orders=3)
            )
            await b.save_trader(config, {"CNY": Decimal(50_000)})
            nova = next(t for t in b.traders() if t.id == "t-new")
            assert nova.cash == {"CNY": Decimal(50_000)} and nova.limits.max_open_orders == 3
            await b.set_preference("watchlist", ["600519.SH"])
        async with running(make_backend, tmp_path) as again:
            kept = {t.id: t for t in again.traders()}
            assert not kept["sma-bot"].running and kept["t-new"].name == "Nova"
            assert await again.get_preference("watchlist") == ["600519.SH"]
            assert again.trader_config("t-new").limits.max_open_orders == 3

    run(scenario())


def test_ai_traders_decide_record_and_are_stopped(make_backend: Factory, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(make_backend, tmp_path) as b:
            assert b.model_profiles()[0] == ("baseline", "baseline (no LLM)")
            assert b.ai_status("you") is None  # not an AI trader
            await continuous(b)
            await wait_for(lambda: b.decisions("ai-demo"))
            record = b.decisions("ai-demo")[0]
            assert record.trader_id == "ai-demo" and record.raw_reply and record.reasoning
            status = b.ai_status("ai-demo")
            assert status is not None and status.cycle >= record.cycle >= 1
            view = next(v for v in b.traders() if v.id == "ai-demo")
            assert view.model_label == "baseline (no LLM)" and not view.safe_mode
            # Decide now, outside the schedule: a new record, the next cycle number.
            now = await b.run_ai_cycle("ai-demo")
            assert b.decisions("ai-demo")[0].id == now.id and now.cycle > record.cycle
            assert b.proposals() == []  # an ai trader proposes nothing
            # A stopped AI trader decides no more.
            await b.set_trader_running("ai-demo", False)
            await asyncio.sleep(0.1)  # a cycle already under way may still finish
            seen = b.ai_status("ai-demo")
            assert seen is not None
            await asyncio.sleep(0.5)  # at this speed, several intervals
            after = b.ai_status("ai-demo")
            assert after is not None and after.cycle == seen.cycle
        async with running(make_backend, tmp_path) as again:
            assert now.id in {r.id for r in again.decisions("ai-demo", limit=500)}

    run(scenario())


def test_backtests(make_backend: Factory, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(make_backend, tmp_path / "data") as b:
            progress: list[int] = []
            backtest = b.run_backtest(
                [REAL / "a_600519_daily_2023-08.csv"],
                Decimal(1_000_000),
                strategy="sma_cross",
                params={"fast": "2", "slow": "5", "qty": "100"},
                progress=lambda done, total: progress.append(done),
            )
            if isinstance(b, RemoteBackend):
                # Not on the API: the data files are this machine's, the engine the server's.
                with pytest.raises(RemoteError, match="deepalpha backtest") as refused:
                    await backtest
                assert refused.value.code == "not_on_server"
                return
            report = await backtest
            assert report["summary"]["bars"] == 20 and progress

    run(scenario())


def test_backups(make_backend: Factory, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(make_backend, tmp_path / "data") as b:
            path = await b.create_backup("contract")
            # Remotely a backup is referred to by its name: the archive stays on the server.
            assert (tmp_path / "data" / "backups" / path.name).exists()
            listed = await b.list_backups()
            assert [v.path for v in listed] == [path] and listed[0].schema_revision
            assert await b.verify_backup(path) == []

    run(scenario())
