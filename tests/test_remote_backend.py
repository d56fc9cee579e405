"""RemoteBackend's connection to a live ``deepalpha serve``: lost and found again without losing
an order event, commands refused (not queued) while it is down, the session renewed before
its access token expires. The contract it shares with LocalBackend is tested in
test_backend_contract.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from deepalpha.app.remote_backend import RemoteBackend, RemoteError
from deepalpha.app.remote_session import Tokens
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.engine.bus import Subscription
from deepalpha.engine.events import OrderEvent
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import OrderRequest, OrderStatus, OrderType, Side
from tests.remote_support import SECRET, Cable, serving, signed_in

MOUTAI = "600519.SH"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPALPHA_JWT_SECRET", SECRET)


def options(tmp_path: Path) -> RuntimeOptions:
    return RuntimeOptions(
        data_dir=tmp_path / "data", speed=60, tick_interval=0.1, auto_backup=False
    )


async def wait_for(check: Callable[[], object], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def order_event(sub: Subscription, order_id: str) -> OrderEvent:
    async def find() -> OrderEvent:
        while True:
            event = await sub.get()
            if isinstance(event, OrderEvent) and event.order.id == order_id:
                return event

    return await asyncio.wait_for(find(), 10)


def resting_buy(backend: RemoteBackend) -> OrderRequest:
    """A limit buy far under the market, inside the band: it stays open."""
    quote = backend.quotes()[MOUTAI]
    assert quote.limit_down is not None
    price = (quote.limit_down + Decimal("1")).quantize(Decimal("0.01"))
    return OrderRequest("you", MOUTAI, Side.BUY, 100, OrderType.LIMIT, price)


def test_a_lost_connection_refuses_commands_and_replays_what_happened_meanwhile(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        first = serving(options(tmp_path))
        server = await first.__aenter__()
        running = True
        port = server.where.port
        async with Cable(port) as cable:
            backend = await signed_in(cable.url)
            try:
                sub = backend.subscribe()
                await wait_for(
                    lambda: (
                        backend.market_status().phases.get(Market.CN) is Phase.CONTINUOUS
                        and MOUTAI in backend.quotes()
                    )
                )
                assert backend.connected
                assert backend.market_status().connection == f"connected to 127.0.0.1:{cable.port}"

                # The cable is pulled; the server carries on. An order placed meanwhile (by the
                # server's own engine) comes as an event once the stream resumes from its seq.
                cable.unplug()
                await wait_for(lambda: not backend.connected)
                placed = await server.backend.place_order(resting_buy(backend))
                with pytest.raises(RemoteError) as refused:
                    await backend.cancel_order(placed.id)
                assert refused.value.code == "disconnected"
                assert "the command was not sent" in str(refused.value)
                status = backend.market_status()
                assert not status.connection_ok and "reconnecting" in status.connection
                cable.plug()
                seen = await order_event(sub, placed.id)
                assert seen.order.status is OrderStatus.OPEN and backend.connected
                assert any(o.id == placed.id for o in backend.orders())

                # The server stops: the stream is told it goes away; commands are refused.
                running = False
                await first.__aexit__(None, None, None)
                await wait_for(lambda: not backend.connected)
                with pytest.raises(RemoteError, match=r"not connected to 127\.0\.0\.1"):
                    await backend.place_order(OrderRequest("you", MOUTAI, Side.BUY, 100))
                assert "disconnected" in backend.market_status().connection
                cable.unplug()  # so that it cannot come back before the order below is placed

                # It starts again on the same data and port; another client places an order
                # before this one is back: the new server's events are replayed from its first.
                async with serving(options(tmp_path), port=port) as again:
                    other = await signed_in(again.where.url, "tina")
                    try:
                        await wait_for(lambda: MOUTAI in other.quotes())
                        meanwhile = await other.place_order(resting_buy(other))
                    finally:
                        await other.stop()
                    assert meanwhile.status is OrderStatus.OPEN
                    assert not backend.connected
                    cable.plug()
                    seen = await order_event(sub, meanwhile.id)
                    assert seen.order.status is OrderStatus.OPEN
                    await wait_for(lambda: backend.connected)
                    # Connected again, commands go through: the first order is still there.
                    cancelled = await backend.cancel_order(placed.id)
                    assert cancelled.status is OrderStatus.CANCELLED
                    kept = {o.id: o for o in backend.orders()}
                    assert kept[placed.id].status is OrderStatus.CANCELLED
                    assert kept[meanwhile.id].status is OrderStatus.OPEN
            finally:
                await backend.stop()
                if running:
                    await first.__aexit__(None, None, None)

    asyncio.run(scenario())


def test_the_session_is_renewed_before_the_access_token_expires(tmp_path: Path) -> None:
    async def scenario() -> None:
        renewed: list[Tokens] = []
        async with serving(options(tmp_path)) as server:
            backend = await signed_in(server.where.url, renew_after=0.3, on_tokens=renewed.append)
            try:
                first = backend.tokens
                await wait_for(lambda: len(renewed) >= 2)
                assert backend.tokens.access != first.access
                assert backend.tokens == renewed[-1] and backend.connected
                # The renewed token works for commands and the stream keeps its user.
                await backend.set_preference("watchlist", [MOUTAI])
                assert await server.backend.get_preference("watchlist") == [MOUTAI]
                assert backend.tokens.access not in repr(backend.tokens)
            finally:
                await backend.stop()

    asyncio.run(scenario())


def test_an_unreachable_server_and_a_wrong_password_are_said_plainly(tmp_path: Path) -> None:
    from deepalpha.app.remote_session import sign_in
    from tests.fake_openai import closed_port

    async def scenario() -> None:
        url = f"http://127.0.0.1:{closed_port()}"
        with pytest.raises(RemoteError, match="is `deepalpha serve` running there") as lost:
            await sign_in(url, "ada", "x")
        assert lost.value.code == "unreachable" and url in str(lost.value)
        async with serving(options(tmp_path)) as server:
            with pytest.raises(RemoteError, match="wrong name or password") as wrong:
                await sign_in(server.where.url, "ada", "not the password")
            assert wrong.value.code == "bad_credentials"
            backend = await signed_in(server.where.url, "tina")  # a trader-role user
            try:
                with pytest.raises(RemoteError) as forbidden:
                    await backend.set_market_speed(60)
                assert forbidden.value.code == "forbidden"
                with pytest.raises(KeyError):
                    await backend.approve_proposal("no-such-proposal")
                with pytest.raises(RemoteError, match="deepalpha backtest"):
                    await backend.estimate_backtest([], Decimal(1), ai_model="baseline")
            finally:
                await backend.stop()

    asyncio.run(scenario())


def test_the_ticket_preview_is_the_brokers_at_once_then_the_servers(tmp_path: Path) -> None:
    """The first answer for an order is estimated here with the broker's rules (no round trip)
    and says what the server's broker says; the server's own answer follows, and it also
    knows what only the server counts (the order rate)."""

    async def scenario() -> None:
        async with serving(options(tmp_path)) as server:
            backend = await signed_in(server.where.url)
            try:
                await wait_for(
                    lambda: (
                        backend.market_status().phases.get(Market.CN) is Phase.CONTINUOUS
                        and MOUTAI in backend.quotes()
                        and "00700.HK" in backend.quotes()
                    )
                )
                bought = await backend.place_order(OrderRequest("you", MOUTAI, Side.BUY, 100))
                await wait_for(lambda: any(f.order_id == bought.id for f in backend.fills()))
                quote = backend.quotes()[MOUTAI]
                assert quote.limit_down is not None and quote.limit_up is not None
                low, up = quote.limit_down, quote.limit_up
                price = (low + Decimal(5)).quantize(Decimal("0.01"))
                limit = OrderType.LIMIT
                cases = [
                    OrderRequest("you", MOUTAI, Side.BUY, 100, limit, price),
                    OrderRequest("you", "600519", Side.BUY, 150, limit, price),  # LOT_SIZE
                    OrderRequest("you", MOUTAI, Side.BUY, 100, limit, price + Decimal("0.001")),
                    OrderRequest("you", MOUTAI, Side.BUY, 100, limit, up + Decimal(1)),
                    OrderRequest("you", MOUTAI, Side.BUY, 100_000, limit, price),  # cash
                    OrderRequest("you", MOUTAI, Side.SELL, 100, limit, price),  # T+1
                    OrderRequest("you", MOUTAI, Side.SELL, 200, limit, price),  # held
                    OrderRequest("you", "00700.HK", Side.BUY, 100, limit, Decimal("300.2")),
                    OrderRequest("you", "999999.SH", Side.BUY, 100, limit, Decimal(10)),
                    OrderRequest("ghost", MOUTAI, Side.BUY, 100, limit, price),
                ]
                for req in cases:
                    here = backend.preview_order(req)
                    there = server.backend.preview_order(req)
                    assert (here.ok, here.code) == (there.ok, there.code), req
                    assert str(here.message) == str(there.message), req
                    assert here.amount == there.amount and here.fees == there.fees, req
                    assert (here.board_lot, here.sellable, here.tick) == (
                        there.board_lot,
                        there.sellable,
                        there.tick,
                    ), req
                    assert (here.limit_down, here.limit_up) == (there.limit_down, there.limit_up)
                codes = [backend.preview_order(r).code for r in cases]
                assert codes == [
                    None,
                    "LOT_SIZE",
                    "TICK_SIZE",
                    "PRICE_LIMIT",
                    "INSUFFICIENT_CASH",
                    "T_PLUS_ONE",
                    "INSUFFICIENT_POSITION",
                    None,
                    None,  # an A-share code not in the list is built from its code
                    "UNKNOWN_TRADER",
                ]

                # One order a minute: only the server counts them; its answer comes next.
                config = backend.trader_config("you")
                config.limits.max_orders_per_minute = 1
                await backend.save_trader(config)
                await backend.place_order(cases[0])
                again = OrderRequest("you", MOUTAI, Side.BUY, 200, limit, price)
                assert backend.preview_order(again).ok  # the estimate: no rule against it
                await wait_for(lambda: backend.preview_order(again).code == "RISK_ORDER_RATE")
            finally:
                await backend.stop()

    asyncio.run(scenario())


def test_a_server_that_forgot_the_session_signs_out_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server restarted with another signing secret (none kept: no keyring, no variable)
    refuses the old refresh token: the workstation stops retrying and says to sign in again."""

    async def scenario() -> None:
        first = serving(options(tmp_path))
        server = await first.__aenter__()
        port = server.where.port
        backend = await signed_in(server.where.url)
        try:
            sub = backend.subscribe()
            await first.__aexit__(None, None, None)
            await wait_for(lambda: not backend.connected)
            other = "another-secret-after-a-restart-0123456789ab"
            monkeypatch.setenv("DEEPALPHA_JWT_SECRET", other)
            async with serving(options(tmp_path), port=port):
                await wait_for(lambda: "signed out" in backend.market_status().connection, 30)
                with pytest.raises(RemoteError) as refused:
                    await backend.place_order(OrderRequest("you", MOUTAI, Side.BUY, 100))
                assert refused.value.code == "signed_out"
                assert "deepalpha connect again" in str(refused.value)
                told = []
                while len(sub):
                    told.append(str(getattr(await sub.get(), "message", "")))
                assert any("no longer accepts this session" in m for m in told), told
        finally:
            await backend.stop()

    asyncio.run(scenario())
