"""The workstation attached to a live ``deepalpha serve`` (``deepalpha connect``), by keyboard
through Pilot: an order from the ticket that fills (the toast, the blotter), a resting order
cancelled from the Orders screen, a hybrid trader's proposal approved on the Decisions screen;
the server stopped (the status bar says so, commands are refused) and started again (the status
bar says connected, and what happened meanwhile is shown: an order in the blotter, a rejection
toasted). The client reaches the server through a ``Cable`` the test plugs in and out, so that
what happens "meanwhile" happens before the client is back."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from deepalpha.app.backend import Backend
from deepalpha.app.remote_backend import RemoteBackend
from deepalpha.app.remote_session import sign_in
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.app.tui import DeepAlphaApp, make_app
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Order, OrderRequest, OrderStatus, OrderType, Side
from deepalpha.screens.confirm import ConfirmScreen
from deepalpha.screens.decisions import DecisionsScreen
from deepalpha.screens.order_ticket import OrderTicket
from deepalpha.screens.orders import OrdersScreen
from deepalpha.widgets.status_bar import StatusBar
from tests.fake_openai import FakeOpenAI, Scripted, chat_body, fake_openai
from tests.remote_support import PASSWORD, SECRET, Cable, serving
from tests.test_tui_decisions import HYBRID, add_hybrid, scripted_reply, settings_file
from tests.test_tui_ticket import pick, quantity
from tests.tui_support import wait_for

MOUTAI, CMB, PINGAN, ICBC = "600519.SH", "600036.SH", "601318.SH", "601398.SH"
SPEED = 60  # simulated seconds per second: the morning session outlasts the test

Toasts = list[tuple[str, str]]


def status_line(app: DeepAlphaApp) -> str:
    content: Any = app.screen.query_one(StatusBar).content
    return str(getattr(content, "plain", content))


def resting(backend: Backend, symbol: str = MOUTAI, quantity: int = 100) -> OrderRequest:
    """A limit buy 7 % under the last price (inside the band): it rests."""
    price = (backend.quotes()[symbol].last * Decimal("0.93")).quantize(Decimal("0.01"))
    return OrderRequest("you", symbol, Side.BUY, quantity, OrderType.LIMIT, price)


def order_of(backend: Backend, order_id: str) -> Order | None:
    return next((o for o in backend.orders() if o.id == order_id), None)


async def goto(app: DeepAlphaApp, pilot: Pilot[None], key: str, screen: type) -> Any:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, screen))
    return app.screen


def test_the_workstation_attached_trades_loses_the_server_and_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPALPHA_JWT_SECRET", SECRET)

    async def scenario(model: FakeOpenAI) -> None:
        options = RuntimeOptions(
            data_dir=tmp_path / "data", speed=SPEED, tick_interval=0.1, auto_backup=False
        )
        first = serving(options)
        server = await first.__aenter__()
        running = True
        await add_hybrid(server.backend)
        port = server.where.port
        async with Cable(port) as cable:
            tokens = await sign_in(cable.url, "ada", PASSWORD)
            backend = RemoteBackend(cable.url, tokens, data_dir=tmp_path / "client")
            app = make_app(backend, start_screen="market")
            toasts: Toasts = []
            notify = app.notify

            def record(message: str, *args: Any, **kwargs: Any) -> None:
                toasts.append((str(kwargs.get("title", "")), str(message)))
                notify(message, *args, **kwargs)

            app.notify = record  # type: ignore[method-assign]
            try:
                async with app.run_test(size=(160, 50)) as pilot:
                    await app.engine_started()
                    await wait_for(
                        pilot,
                        lambda: (
                            backend.market_status().phases.get(Market.CN) is Phase.CONTINUOUS
                            and {MOUTAI, CMB, PINGAN, ICBC} <= backend.quotes().keys()
                        ),
                        timeout=20,
                    )
                    assert f"connected to 127.0.0.1:{cable.port}" in status_line(app)

                    # A market buy from the ticket: placed on the server, filled, toasted.
                    await pilot.press("b")
                    await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket))
                    ticket = app.screen
                    assert isinstance(ticket, OrderTicket)
                    await pick(app, pilot, "茅台", MOUTAI)
                    await quantity(pilot, ticket, "100")
                    await pilot.press("tab", "right")  # order type: limit → market
                    await pilot.pause()
                    await pilot.press("enter")
                    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                    await pilot.press("y")
                    await wait_for(
                        pilot, lambda: not isinstance(app.screen, OrderTicket | ConfirmScreen)
                    )
                    [bought] = [
                        o for o in backend.orders() if o.source == "manual" and o.symbol == MOUTAI
                    ]
                    assert server.backend.runtime.broker.orders.get(bought.id) is not None
                    await wait_for(
                        pilot,
                        lambda: any(
                            title == "Filled" and m.startswith("Buy 100 600519.SH @ ")
                            for title, m in toasts
                        ),
                    )
                    assert any(f.order_id == bought.id for f in backend.fills())

                    # The Orders screen lists it; a resting order is cancelled with c.
                    rest = await backend.place_order(resting(backend, CMB))
                    assert rest.status is OrderStatus.OPEN
                    orders = await goto(app, pilot, "f4", OrdersScreen)
                    blotter = orders.blotter
                    await pilot.press("t")  # "you" only: the demo bots trade meanwhile
                    await wait_for(pilot, lambda: blotter.row_count >= 2)
                    shown = [blotter.order_at(r) for r in range(blotter.row_count)]
                    assert [o.id for o in shown if o is not None][:2] == [rest.id, bought.id]
                    assert shown[1] is not None and shown[1].status is OrderStatus.FILLED
                    assert blotter.selected_order is not None
                    assert blotter.selected_order.id == rest.id
                    await pilot.press("c")
                    await wait_for(
                        pilot,
                        lambda: (
                            getattr(order_of(backend, rest.id), "status", None)
                            is OrderStatus.CANCELLED
                        ),
                    )
                    kept = server.backend.runtime.broker.orders[rest.id]
                    assert kept.status is OrderStatus.CANCELLED

                    # The hybrid trader decides now (d) and its first proposal is approved (a).
                    model.push(Scripted(200, chat_body(scripted_reply(backend))))
                    decisions = await goto(app, pilot, "f10", DecisionsScreen)
                    while decisions.trader_filter != HYBRID:
                        await pilot.press("t")
                    await pilot.press("d")
                    await wait_for(pilot, lambda: decisions.proposals_table.row_count == 3)
                    await pilot.press("a")
                    await wait_for(
                        pilot,
                        lambda: any(
                            o.trader_id == HYBRID and o.symbol == MOUTAI for o in backend.orders()
                        ),
                    )
                    [approved] = [o for o in backend.orders() if o.trader_id == HYBRID]
                    assert approved.source == "ai" and approved.quantity == 100
                    await wait_for(pilot, lambda: decisions.proposals_table.row_count == 2)
                    assert len(server.backend.proposals(HYBRID)) == 2

                    # The server stops: the status bar says so, and a command is refused.
                    running = False
                    await first.__aexit__(None, None, None)
                    cable.unplug()  # back only once what happens "meanwhile" has happened
                    await wait_for(pilot, lambda: "disconnected" in status_line(app))
                    assert "reconnecting" in status_line(app)
                    await pilot.press("a")  # approve the next proposal: refused, said
                    await wait_for(
                        pilot, lambda: any("the command was not sent" in m for _, m in toasts)
                    )

                    # It starts again; meanwhile an order rests and one is rejected there.
                    async with serving(options, port=port) as again:
                        engine = again.backend
                        await wait_for(pilot, lambda: MOUTAI in engine.quotes())
                        meanwhile = await engine.place_order(resting(engine, PINGAN))
                        broken = await engine.place_order(
                            OrderRequest("you", ICBC, Side.BUY, 150)  # not a board lot
                        )
                        assert meanwhile.status is OrderStatus.OPEN
                        assert broken.status is OrderStatus.REJECTED
                        assert "disconnected" in status_line(app)
                        cable.plug()
                        await wait_for(
                            pilot,
                            lambda: f"connected to 127.0.0.1:{cable.port}" in status_line(app),
                            timeout=20,
                        )
                        await wait_for(
                            pilot,
                            lambda: any(t == "Rejected: LOT_SIZE" for t, _ in toasts),
                        )
                        assert any(m.startswith("Reconnected to") for _, m in toasts)
                        await goto(app, pilot, "f4", OrdersScreen)
                        await wait_for(
                            pilot,
                            lambda: (
                                meanwhile.id
                                in {
                                    o.id
                                    for r in range(blotter.row_count)
                                    if (o := blotter.order_at(r)) is not None
                                }
                            ),
                        )
                        # Commands go through again.
                        cancelled = await backend.cancel_order(meanwhile.id)
                        assert cancelled.status is OrderStatus.CANCELLED
                        await app.action_quit()
            finally:
                if running:
                    await first.__aexit__(None, None, None)

    with fake_openai() as model:
        monkeypatch.setenv("DEEPALPHA_CONFIG", str(settings_file(tmp_path, model)))
        asyncio.run(scenario(model))
