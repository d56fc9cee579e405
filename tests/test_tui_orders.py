"""The orders and positions screens, driven by keys through Pilot on a real LocalBackend; and the
order blotter alone at a million rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable

from deepalpha.app.backend import Backend
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Order, OrderRequest, OrderStatus, OrderType, RejectCode, Side
from deepalpha.screens.confirm import ConfirmScreen
from deepalpha.screens.orders import OrdersScreen
from deepalpha.screens.positions import PositionsScreen
from deepalpha.widgets.order_blotter import OrderBlotter
from tests.tui_support import running_app, wait_for

YOU = "you"
# Simulated seconds per second: slow enough that a morning session outlasts a test.
SPEED = 120


async def continuous(pilot: Pilot[None], backend: Backend) -> None:
    await wait_for(
        pilot,
        lambda: (
            backend.market_status().phases.get(Market.CN) is Phase.CONTINUOUS
            and {"600519.SH", "600036.SH", "000001.SZ"} <= backend.quotes().keys()
        ),
    )


def far_below(backend: Backend, symbol: str) -> Decimal:
    """A limit price that rests: 7% under the last price, inside the 10% limit-down."""
    return (backend.quotes()[symbol].last * Decimal("0.93")).quantize(Decimal("0.01"))


def row_text(blotter: OrderBlotter, row: int) -> str:
    """What display row ``row`` shows, when it is on screen (line 0 is the header)."""
    return blotter.render_line(row - blotter.scroll_offset.y + 1).text


def visible_orders(blotter: OrderBlotter) -> list[Order]:
    return [o for r in range(blotter.row_count) if (o := blotter.order_at(r)) is not None]


def test_orders_screen_filters_cancels_one_and_cancels_all(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="orders", size=(160, 40), speed=SPEED) as (
            app,
            pilot,
        ):
            backend = app.backend
            await continuous(pilot, backend)
            screen = app.screen
            assert isinstance(screen, OrdersScreen)
            blotter = screen.blotter
            placed = []
            for symbol in ("600519.SH", "600036.SH", "000001.SZ"):
                req = OrderRequest(
                    YOU, symbol, Side.BUY, 100, OrderType.LIMIT, far_below(backend, symbol)
                )
                placed.append(await backend.place_order(req))
            assert all(o.status is OrderStatus.OPEN for o in placed)
            bad = await backend.place_order(
                OrderRequest(YOU, "600036.SH", Side.BUY, 50, OrderType.LIMIT, Decimal("30.00"))
            )
            assert bad.status is OrderStatus.REJECTED and bad.reject_code is RejectCode.LOT_SIZE
            ids = {o.id for o in placed} | {bad.id}

            # They appear in the blotter, newest first.
            await wait_for(pilot, lambda: ids <= {o.id for o in visible_orders(blotter)})
            mine = [o for o in visible_orders(blotter) if o.id in ids]
            assert [o.id for o in mine] == [bad.id, *(o.id for o in reversed(placed))]
            header = blotter.render_line(0).text
            assert "Symbol" in header and "Status" in header and "Reason" in header

            # t: one trader only (the first after "All" is "you").
            await pilot.press("t")
            assert blotter.trader_id == YOU
            assert {o.trader_id for o in visible_orders(blotter)} == {YOU}
            assert blotter.row_count == 4
            assert blotter.selected_order is not None and blotter.selected_order.id == bad.id
            top = row_text(blotter, 0)
            assert "600036.SH" in top and "Rejected" in top and "Lot size" in top

            # f: the status groups. Open shows the three resting buys, rejected the bad one.
            await pilot.press("f")
            assert blotter.status_group == "open"
            assert {o.id for o in visible_orders(blotter)} == {o.id for o in placed}
            await pilot.press("f", "f", "f")
            assert blotter.status_group == "rejected"
            assert [o.id for o in visible_orders(blotter)] == [bad.id]
            await pilot.press("f", "f")  # expired, then all again
            assert blotter.status_group == "all" and blotter.row_count == 4

            # /: a symbol filter; Escape clears it.
            await pilot.press("slash", *"600036")
            assert blotter.symbol_filter == "600036"
            assert {o.symbol for o in visible_orders(blotter)} == {"600036.SH"}
            await pilot.press("escape")
            assert blotter.symbol_filter == "" and blotter.row_count == 4

            # c on the rejected order: nothing to cancel; on the newest open order: cancelled.
            await pilot.press("c")
            await pilot.pause()
            assert all(o.status is OrderStatus.REJECTED for o in backend.orders() if o.id == bad.id)
            await pilot.press("down")
            target = blotter.selected_order
            assert target is not None and target.id == placed[-1].id
            await pilot.press("c")
            await wait_for(
                pilot,
                lambda: getattr(blotter.order_at(1), "status", None) is OrderStatus.CANCELLED,
            )
            assert blotter.selected_order is not None
            assert blotter.selected_order.id == target.id
            assert "Cancelled" in row_text(blotter, 1)

            # x: every open order of "you", after a confirmation.
            assert len(blotter.open_orders(YOU)) == 2
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: not blotter.open_orders(YOU))
            statuses = {o.id: o.status for o in backend.orders() if o.id in ids}
            assert statuses == {
                placed[0].id: OrderStatus.CANCELLED,
                placed[1].id: OrderStatus.CANCELLED,
                placed[2].id: OrderStatus.CANCELLED,
                bad.id: OrderStatus.REJECTED,
            }
            messages = [n.message for n in app._notifications]
            assert "Cancelled 1 order" in messages and "Cancelled 2 orders" in messages
            await pilot.press("f")
            assert blotter.row_count == 0  # no open orders of "you" left

    asyncio.run(scenario())


def test_cancel_all_can_be_declined(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="orders", size=(120, 30), speed=SPEED) as (
            app,
            pilot,
        ):
            backend = app.backend
            await continuous(pilot, backend)
            req = OrderRequest(
                YOU, "600519.SH", Side.BUY, 100, OrderType.LIMIT, far_below(backend, "600519.SH")
            )
            order = await backend.place_order(req)
            await pilot.press("t")
            await pilot.press("C")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen))
            await pilot.pause(0.3)
            assert [o.status for o in backend.orders() if o.id == order.id] == [OrderStatus.OPEN]

    asyncio.run(scenario())


def test_positions_show_t_plus_one_and_sort(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="positions", size=(160, 40), speed=SPEED) as (
            app,
            pilot,
        ):
            backend = app.backend
            await continuous(pilot, backend)
            await wait_for(pilot, lambda: "600036.SH" in backend.quotes())
            for symbol, qty in (("600519.SH", 100), ("600036.SH", 300)):
                order = await backend.place_order(OrderRequest(YOU, symbol, Side.BUY, qty))
                assert order.status is not OrderStatus.REJECTED, order.reject_reason
            screen = app.screen
            assert isinstance(screen, PositionsScreen)
            await pilot.press("t")
            assert screen.trader_id == YOU
            table = screen.query_one(DataTable)

            def symbols() -> list[str]:
                return [str(table.get_cell_at(Coordinate(r, 1))) for r in range(table.row_count)]

            await wait_for(pilot, lambda: sorted(symbols()) == ["600036.SH", "600519.SH"])
            row = symbols().index("600036.SH")
            assert str(table.get_cell_at(Coordinate(row, 3))) == "300"
            # Bought today: nothing sellable until tomorrow (T+1), and it says so.
            assert str(table.get_cell_at(Coordinate(row, 4))) == "0 (300 T+1)"
            pos = {p.symbol: p for p in backend.positions(YOU)}
            assert pos["600036.SH"].sellable == 0 and pos["600036.SH"].quantity == 300

            # 2 sorts by symbol (ascending), again reverses; O reverses too; o moves on.
            await pilot.press("2")
            assert symbols() == ["600036.SH", "600519.SH"]
            await pilot.press("2")
            assert symbols() == ["600519.SH", "600036.SH"]
            await pilot.press("O")
            assert symbols() == ["600036.SH", "600519.SH"]
            await pilot.press("o")
            assert screen.sort_column == "name"
            await pilot.press("4")  # quantity, largest first
            assert screen.sort_column == "quantity" and symbols() == ["600036.SH", "600519.SH"]
            await pilot.press("O")
            assert symbols() == ["600519.SH", "600036.SH"]

            # The selected row is what the sell ticket opens on.
            table.move_cursor(row=1)
            await pilot.pause()
            assert screen.selected_symbol == "600036.SH"

    asyncio.run(scenario())


# --- the blotter alone, at a million rows --------------------------------------------------
STATUSES = [OrderStatus.FILLED] * 6 + [
    OrderStatus.CANCELLED,
    OrderStatus.REJECTED,
    OrderStatus.EXPIRED,
    OrderStatus.OPEN,
]


def synthetic_orders(n: int) -> list[Order]:
    """``n`` orders over two traders and a few symbols; a tenth of them open."""
    start = datetime(2025, 6, 3, 1, 30, tzinfo=UTC)
    times = [start + timedelta(seconds=s) for s in range(3600)]
    symbols = ["600519.SH", "600036.SH", "000001.SZ", "00700.HK", "300750.SZ"]
    price = Decimal("12.34")
    day = date(2025, 6, 3)
    out = []
    for i in range(n):
        status = STATUSES[i % len(STATUSES)]
        out.append(
            Order(
                f"o{i}",
                "you" if i % 3 else "sma-bot",
                symbols[i % len(symbols)],
                Side.BUY if i % 2 else Side.SELL,
                OrderType.LIMIT,
                100,
                price,
                times[i % 3600],
                day,
                status=status,
                filled_quantity=100 if status is OrderStatus.FILLED else 0,
                filled_amount=price * 100 if status is OrderStatus.FILLED else Decimal(0),
            )
        )
    return out


class BlotterApp(App[None]):
    def compose(self) -> ComposeResult:
        yield OrderBlotter()


def test_blotter_at_a_million_rows() -> None:
    orders = synthetic_orders(1_000_000)

    async def scenario() -> None:
        app = BlotterApp()
        async with app.run_test(size=(120, 40)) as pilot:
            blotter = app.query_one(OrderBlotter)
            blotter.set_orders(orders)
            assert blotter.row_count == 1_000_000
            assert blotter.selected_order is orders[-1]

            blotter.set_filter(status_group="open")
            assert blotter.row_count == 100_000
            assert all(o.status is OrderStatus.OPEN for o in visible_orders_window(blotter))

            blotter.action_last()
            await pilot.pause()
            oldest_open = orders[9]
            assert oldest_open.status is OrderStatus.OPEN
            assert blotter.selected_order is oldest_open
            assert blotter.scroll_offset.y == blotter.row_count + 1 - blotter.size.height

            lines = [blotter.render_line(y).text for y in range(blotter.size.height)]
            assert "Status" in lines[0]
            assert lines[-1].startswith("09:3") and oldest_open.symbol in lines[-1]
            assert all("Open" in line for line in lines[1:])

            # New orders at the end, and an update in place, are picked up incrementally.
            extra = synthetic_orders(20)
            for o in extra:
                o.id = "new-" + o.id
            orders.extend(extra)
            # The backend replaces an order's element with a new snapshot when it changes.
            orders[9] = Order(
                oldest_open.id,
                oldest_open.trader_id,
                oldest_open.symbol,
                oldest_open.side,
                oldest_open.type,
                oldest_open.quantity,
                oldest_open.limit_price,
                oldest_open.created_at,
                oldest_open.trading_day,
                status=OrderStatus.CANCELLED,
            )
            assert blotter.refresh_from(orders)
            assert blotter.row_count == 100_000 + 2 - 1
            assert blotter.total_count == 1_000_020
            assert not blotter.refresh_from(orders)
            # How fast this is, the benchmark says (bench/bench_blotter.py), not the test.

    asyncio.run(scenario())


def visible_orders_window(blotter: OrderBlotter) -> list[Order]:
    return [o for r in range(50) if (o := blotter.order_at(r)) is not None]


def cancelled(o: Order) -> Order:
    """The backend's new snapshot of ``o`` after a cancel."""
    return Order(
        o.id,
        o.trader_id,
        o.symbol,
        o.side,
        o.type,
        o.quantity,
        o.limit_price,
        o.created_at,
        o.trading_day,
        status=OrderStatus.CANCELLED,
    )


def test_blotter_follows_a_growing_list() -> None:
    orders = synthetic_orders(30)  # open: 9, 19, 29
    blotter = OrderBlotter(orders)
    blotter.set_filter(status_group="open")
    assert [o.id for o in visible_orders(blotter)] == ["o29", "o19", "o9"]
    blotter.move_cursor(1)
    assert blotter.selected_order is orders[19]

    # Rows that arrive before a filter change are watched as well as those after it.
    more = synthetic_orders(10)
    for o in more:
        o.id = "new-" + o.id
    orders.extend(more)
    blotter.set_filter(trader_id=YOU)
    assert blotter.total_count == 40
    assert [o.id for o in visible_orders(blotter)] == ["o29", "o19"]
    assert {o.id for o in blotter.open_orders()} == {"o9", "o19", "o29", "new-o9"}
    assert {o.id for o in blotter.open_orders(YOU)} == {"o19", "o29"}
    assert blotter.selected_order is orders[19]  # the cursor stays on its order

    # An update replaces the element: picked up by the next refresh, the cursor still on it.
    orders[29] = cancelled(orders[29])
    assert blotter.refresh_from(orders)
    assert [o.id for o in visible_orders(blotter)] == ["o19"]
    assert blotter.selected_order is orders[19]
    assert not blotter.refresh_from(orders)
    blotter.set_filter(status_group="cancelled")
    assert "o29" in {o.id for o in visible_orders(blotter)}


def test_column_choices_persist(tmp_path: Path) -> None:
    """Hidden blotter columns are a preference: kept after a restart."""
    from deepalpha.screens.orders import ColumnChooser
    from deepalpha.widgets.order_blotter import OrderBlotter

    async def scenario() -> None:
        async with running_app(tmp_path, screen="orders") as (app, pilot):
            await pilot.press("k")
            await pilot.pause()
            assert isinstance(app.screen, ColumnChooser)
            await pilot.press("space")  # the first optional column: trader
            await pilot.press("enter")
            await pilot.pause(0.3)
            blotter = app.screen.query_one(OrderBlotter)
            assert blotter.hidden_columns == frozenset({"trader"})
        async with running_app(tmp_path, screen="orders") as (app, pilot):
            await pilot.pause(0.3)
            assert app.screen.query_one(OrderBlotter).hidden_columns == frozenset({"trader"})

    asyncio.run(scenario())
