"""Storage on SQLite and Postgres: exact money, UTC time, upserts, migrations, recovery data."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from deepalpha.engine.events import (
    AccountEvent,
    AccountState,
    EquityEvent,
    FillEvent,
    OrderEvent,
    PositionState,
    TraderHaltedEvent,
    TradingDayEvent,
)
from deepalpha.engine.markets.fees import FeeBreakdown
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Fill, Order, OrderStatus, OrderType, RejectCode, Side
from deepalpha.engine.performance import round_trips
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.storage.connect import open_store
from deepalpha.storage.database import DatabaseError, create_engine, resolve
from deepalpha.storage.migrate import current_revision, head_revision, upgrade

T0 = datetime(2024, 3, 4, 1, 35, 12, 345678, tzinfo=UTC)
DAY = date(2024, 3, 4)


def trader() -> TraderConfig:
    return TraderConfig(
        "t1",
        "Alice",
        TraderKind.DISCRETIONARY,
        limits=RiskLimits(max_order_value=Decimal("500000.55"), max_open_orders=7),
        settings={"note": "中文"},
    )


def order(status: OrderStatus = OrderStatus.OPEN, filled: int = 0) -> Order:
    return Order(
        "o1",
        "t1",
        "00700.HK",
        Side.BUY,
        OrderType.LIMIT,
        200,
        Decimal("0.235"),
        T0,
        DAY,
        status=status,
        filled_quantity=filled,
        filled_amount=Decimal("0.235") * filled,
        frozen_cash=Decimal("47.123"),
        updated_at=T0,
    )


FEES = FeeBreakdown(
    Decimal("3.00"),
    Decimal("1"),
    Decimal("0"),
    Decimal("0.01"),
    Decimal("0.00"),
    Decimal("0.01"),
    Decimal("2.00"),
)


def fill_event() -> FillEvent:
    fill = Fill(
        "f1",
        "o1",
        "t1",
        "00700.HK",
        Side.BUY,
        100,
        Decimal("0.235"),
        Decimal("23.500"),
        FEES,
        T0 + timedelta(seconds=1),
        DAY,
        "HKD",
    )
    pos = PositionState(
        "t1",
        "00700.HK",
        "HKD",
        100,
        100,
        Decimal("29.520"),
        Decimal(0),
        FEES.total,
        Decimal("0.235"),
        T0,
    )
    acct = AccountState(
        "t1",
        "HKD",
        Decimal("999970.480"),
        Decimal("23.56"),
        Decimal("1000000"),
        Decimal(0),
        FEES.total,
    )
    return FillEvent(fill, order(OrderStatus.PARTIALLY_FILLED, 100), pos, acct)


def run(coro):
    return asyncio.run(coro)


def test_round_trip_is_exact_on_both_databases(database_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await open_store(database_url, tmp_path)
        try:
            assert await current_revision(store.engine) == head_revision()
            await store.save_trader(trader())
            await store.save_account(
                AccountState(
                    "t1",
                    "HKD",
                    Decimal("1000000"),
                    Decimal(0),
                    Decimal("1000000"),
                    Decimal(0),
                    Decimal(0),
                )
            )
            await store.write_events(
                [
                    OrderEvent(order()),
                    fill_event(),
                    EquityEvent(
                        "t1",
                        DAY,
                        T0,
                        Decimal("12345678901234.5678"),
                        Decimal("0.001"),
                        Decimal("12345678901234.5688"),
                    ),
                    TradingDayEvent(Market.HK, DAY, True, (("t1", Decimal("1000000.01")),)),
                    TraderHaltedEvent("t1", "RISK_DAILY_LOSS", "lost 5,000.00 of 4,000 limit"),
                ]
            )
            # Idempotent: the same batch again changes nothing and duplicates nothing.
            await store.write_events([fill_event()])
            counts = await store.row_counts()
            assert counts["fills"] == 1 and counts["orders"] == 1 and counts["positions"] == 1

            state = await store.load_state()
            [t] = state.traders
            assert t.limits.max_order_value == Decimal("500000.55")
            assert t.limits.max_open_orders == 7 and t.settings == {"note": "中文"}
            assert state.halted["t1"] == ("RISK_DAILY_LOSS", "lost 5,000.00 of 4,000 limit")
            assert state.day_start_equity["t1"] == Decimal("1000000.01")
            assert state.last_days == {Market.HK: DAY}
            [acct] = state.accounts
            assert acct.cash == Decimal("999970.480") and acct.frozen == Decimal("23.56")
            [pos] = state.positions
            assert pos.cost_basis == Decimal("29.520") and pos.sellable == 100
            assert pos.opened_at == T0 and pos.opened_at.tzinfo is not None
            [o] = state.open_orders
            assert o.status is OrderStatus.PARTIALLY_FILLED
            assert o.limit_price == Decimal("0.235") and o.frozen_cash == Decimal("47.123")
            assert o.fees == FEES  # rebuilt from its fills
            assert o.created_at == T0
            [f] = await store.fills(trader_id="t1")
            assert f.fees == FEES and f.amount == Decimal("23.5") and f.time.tzinfo is not None
            curve = await store.equity_curve("t1")
            assert curve == [(DAY, Decimal("12345678901234.5688"))]
        finally:
            await store.close()

    run(scenario())


def test_money_is_never_a_binary_float_in_sqlite(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await open_store(None, tmp_path)
        await store.save_trader(trader())
        await store.save_account(
            AccountState(
                "t1",
                "CNY",
                Decimal("0.1") + Decimal("0.2"),
                Decimal(0),
                Decimal("0.3"),
                Decimal(0),
                Decimal(0),
            )
        )
        await store.close()

    run(scenario())
    with sqlite3.connect(tmp_path / "deepalpha.db") as conn:
        cash, kind = conn.execute("SELECT cash, typeof(cash) FROM accounts").fetchone()
    assert (cash, kind) == ("0.3", "text")


def test_sqlite_runs_wal_with_foreign_keys(tmp_path: Path) -> None:
    async def scenario() -> tuple[str, int, int]:
        store = await open_store(None, tmp_path)
        async with store.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            fk = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
            sync = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
        await store.close()
        return mode, fk, sync

    assert run(scenario()) == ("wal", 1, 2)  # synchronous=FULL survives a power cut


def test_order_updates_coalesce_to_the_last_state(database_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await open_store(database_url, tmp_path)
        await store.save_trader(trader())
        o = order()
        first = o.snapshot()
        o.status, o.reject_code, o.reject_reason = (
            OrderStatus.CANCELLED,
            None,
            "cancelled by request",
        )
        await store.write_events([OrderEvent(first), OrderEvent(o.snapshot())])
        [saved] = await store.orders()
        assert saved.status is OrderStatus.CANCELLED
        assert (await store.load_state()).open_orders == []
        await store.close()

    run(scenario())


def test_upgrade_from_the_first_revision_keeps_the_data(database_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = create_engine(resolve(database_url, tmp_path))
        assert await upgrade(engine, "0001") == "0001"
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO traders (id, name, kind, running, base_currency, settings, "
                    "risk_limits, created_at, updated_at) VALUES ('t1', 'Alice', 'ai', true, 'CNY',"
                    " '{}', '{\"max_open_orders\": 3}', :now, :now)"
                ),
                {"now": T0},
            )
            await conn.execute(
                text(
                    "INSERT INTO accounts (id, trader_id, currency, cash, frozen, deposits, "
                    "realized_pnl, fees_paid, created_at, updated_at) VALUES "
                    "('t1/CNY', 't1', 'CNY', '123.45', '0', '1000', '0', '5', :now, :now)"
                ),
                {"now": T0},
            )
        await engine.dispose()
        store = await open_store(database_url, tmp_path)  # applies the later revisions
        assert await current_revision(store.engine) == head_revision() != "0001"
        state = await store.load_state()
        [t] = state.traders
        assert (t.id, t.name, t.kind, t.limits.max_open_orders) == ("t1", "Alice", "ai", 3)
        [acct] = state.accounts
        assert acct.cash == Decimal("123.45") and acct.fees_paid == Decimal(5)
        await store.write_events([TradingDayEvent(Market.CN, DAY, True, (("t1", Decimal(1)),))])
        assert (await store.load_state()).day_start_equity == {"t1": Decimal(1)}
        await store.close()

    run(scenario())


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await open_store(None, tmp_path)
        async with store.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        await store.close()
        with pytest.raises(DatabaseError, match=r"revision 9999.*newer version"):
            await open_store(None, tmp_path)

    run(scenario())


def test_a_corrupt_database_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "deepalpha.db"
    junk = b"this is not a database" * 100
    path.write_bytes(junk)
    with pytest.raises(DatabaseError) as err:
        run(open_store(None, tmp_path))
    assert str(path) in str(err.value) and "backup restore" in str(err.value)
    assert path.read_bytes() == junk  # nothing was changed


def test_a_truncated_database_file_is_refused(tmp_path: Path) -> None:
    async def make() -> None:
        store = await open_store(None, tmp_path)
        await store.save_trader(trader())
        await store.close()

    run(make())
    path = tmp_path / "deepalpha.db"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatabaseError, match=r"truncated \(\d+ of \d+ bytes\)"):
        run(open_store(None, tmp_path))


def test_unreachable_postgres_names_the_url_without_the_password(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://trader:s3cret-pw@127.0.0.1:1/deepalpha"
    with pytest.raises(DatabaseError) as err:
        run(open_store(url, tmp_path))
    message = str(err.value)
    assert "s3cret-pw" not in message
    assert "127.0.0.1:1" in message and "cannot reach" in message


def test_wrong_postgres_database_says_so(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres:pw@127.0.0.1:5432/no_such_db_here"
    with pytest.raises(DatabaseError) as err:
        run(open_store(url, tmp_path))
    assert "no_such_db_here" in str(err.value) and "pw@" not in str(err.value)


def test_bad_urls_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="not a valid URL") as err:
        resolve("::not a url with password hunter2::", tmp_path)
    assert "hunter2" not in str(err.value)
    with pytest.raises(DatabaseError, match="unsupported database"):
        resolve("mysql://u:p@localhost/db", tmp_path)
    with pytest.raises(DatabaseError, match="in-memory"):
        resolve("sqlite+aiosqlite://", tmp_path)


def test_reject_codes_survive_storage(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await open_store(None, tmp_path)
        await store.save_trader(trader())
        o = order()
        o.status, o.reject_code, o.reject_reason = (
            OrderStatus.REJECTED,
            RejectCode.LOT_SIZE,
            "150 shares is not a multiple of 100",
        )
        await store.write_events([OrderEvent(o)])
        [saved] = await store.orders(status="rejected")
        assert saved.reject_code is RejectCode.LOT_SIZE
        assert saved.reject_reason == "150 shares is not a multiple of 100"
        await store.close()

    run(scenario())


def test_account_event_alone_updates_cash(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await open_store(None, tmp_path)
        await store.save_trader(trader())
        await store.write_events(
            [
                AccountEvent(
                    AccountState(
                        "t1",
                        "CNY",
                        Decimal("10"),
                        Decimal("4"),
                        Decimal("10"),
                        Decimal(0),
                        Decimal(0),
                    )
                )
            ]
        )
        [acct] = (await store.load_state()).accounts
        assert acct.frozen == Decimal("4")
        await store.close()

    run(scenario())


def test_round_trips_count_profitable_sells_exactly(database_url: str, tmp_path: Path) -> None:
    """The leaderboard's win rate: closing fills with a profit, counted by the database. On
    SQLite money is text, so "0.00" and "-0.50" must not pass for profits. The count is
    engine.performance's, which the report and the AI's context use."""
    fills: list[Fill] = []

    async def scenario() -> dict[str, tuple[int, int]]:
        store = await open_store(database_url, tmp_path)
        try:
            await store.create_traders([trader()], [])
            base = fill_event()
            events = [base]  # a buy: not a round trip
            for i, pnl in enumerate(["12.50", "-3.00", "0.00", "0.01", "-0.50", "100"]):
                fill = dataclasses.replace(
                    base.fill, id=f"s{i}", side=Side.SELL, realized_pnl=Decimal(pnl)
                )
                events.append(dataclasses.replace(base, fill=fill))
            await store.write_events(events)
            fills.extend(e.fill for e in events)
            return await store.round_trips()
        finally:
            await store.close()

    assert run(scenario()) == {"t1": (6, 3)}
    trips = round_trips(fills)
    assert (trips.closed, trips.won) == (6, 3)
