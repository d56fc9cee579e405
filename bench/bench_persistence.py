"""(c) Persistence: fills persisted per second, and the time from start to a ready engine.

**Fills per second.** A paper broker fills market orders (A-shares bought, H-shares bought and
sold) and every event that persists is recorded beforehand, grouped by the fill it belongs to:
the order's acceptance and its fill, with the cash, position and order changes that go with it.
The timed runs publish the groups on a bus to an ``EventWriter`` on a ``SqlStore``, which
commits what has gathered in one transaction at a time: ``batched`` publishes flat out (a yield
to the loop after each fill, as a live engine does) and ends when ``flush()`` says all is
durable; ``batched_50_acked`` has 50 clients at once each waiting for ``flush()`` (the
acknowledgement) before placing the next order. The baseline writes the same groups with one
transaction per fill. Both
run on a fresh SQLite file (WAL, synchronous=FULL) and on a fresh Postgres database.

**Start to ready.** A database with 1,000,000 orders (most final, 100 open, some of those
partially filled) is generated untimed with bulk inserts. The timed part is what the app does on
start: ``open_store`` (file check, migration check), ``load_state`` and ``restore`` into a new
``PaperBroker``; the aim is under 2 s. The baseline is a bare ``SELECT count(*)`` of the orders.

Times here are wall-clock seconds, not CPU: the work is waiting for the disk and the database
server, which CPU time of this process would not see.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import BenchResult
from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.events import AccountState, Event, FillEvent, OrderEvent, PositionState
from deepalpha.engine.ids import new_id, sequential
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.fees import FeeBreakdown
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from deepalpha.engine.persistence import PERSISTED, EventWriter, restore
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.storage.connect import open_store
from deepalpha.storage.repository import SqlStore

PG_HOST = os.environ.get("DEEPALPHA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DEEPALPHA_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DEEPALPHA_TEST_PG_USER", "postgres")

DAY = date(2025, 6, 3)
T0 = datetime(2025, 6, 3, 1, 30, tzinfo=UTC)
TRADER = "bench"
CASH = Decimal(10) ** 12
SYMBOLS = {"600036.SH": "35.00", "000001.SZ": "11.00", "00700.HK": "380.00", "01810.HK": "30.00"}
OPEN_ORDERS = 100
CLIENTS = 50  # traders and API clients placing orders at once, each waiting for its ack
AIM_SECONDS = 2.0


def _note(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


# --- throwaway databases ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Db:
    url: str | None  # None: the SQLite file in data_dir, as the app does by default
    data_dir: Path

    async def open(self) -> SqlStore:
        return await open_store(self.url, self.data_dir)


Maker = Callable[[], AbstractAsyncContextManager[Db]]


@contextlib.asynccontextmanager
async def _sqlite_db() -> AsyncIterator[Db]:
    path = Path(tempfile.mkdtemp(prefix="deepalpha-bench-"))
    try:
        yield Db(None, path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _pg_db() -> AsyncIterator[Db]:
    name = f"deepalpha_bench_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        yield Db(url, Path(tempfile.gettempdir()))
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _targets(pg: bool) -> list[tuple[str, Maker]]:
    out: list[tuple[str, Maker]] = [("sqlite", _sqlite_db)]
    if pg:
        out.append(("postgres", _pg_db))
    return out


async def _postgres_reachable() -> bool:
    try:
        await _pg_admin("SELECT 1")
    except Exception as exc:  # no server: the Postgres rows are left out, with a note
        _note(f"Postgres at {PG_HOST}:{PG_PORT} not reachable ({exc}); its rows are skipped")
        return False
    return True


async def _seed_trader(store: SqlStore) -> None:
    await store.save_trader(TraderConfig(TRADER, "Bench", TraderKind.DISCRETIONARY))
    zero = Decimal(0)
    for currency in ("CNY", "HKD"):
        await store.save_account(AccountState(TRADER, currency, CASH, zero, CASH, zero, zero))


# --- fills per second -------------------------------------------------------------------------


def fill_groups(count: int) -> list[list[Event]]:
    """``count`` fills, each with every persisted event that came with it, in order."""
    clock = ManualClock(T0)
    bus = EventBus()
    broker = PaperBroker(
        InstrumentRegistry.default(),
        clock,
        bus,
        id_factory=sequential("o"),
        fill_id_factory=sequential("f"),
    )
    events: list[Event] = []
    for kind in PERSISTED:
        bus.on(kind, events.append)
    broker.add_trader(TRADER, cash={"CNY": CASH, "HKD": CASH})
    for market in Market:
        broker.start_day(market, DAY)
        broker.set_phase(market, Phase.CONTINUOUS)
    for symbol, price in SYMBOLS.items():
        mid = Decimal(price)
        tick = Decimal({"00700.HK": "0.20", "01810.HK": "0.05"}.get(symbol, "0.01"))
        broker.on_quote(Quote(symbol, T0, mid, mid - tick, mid + tick))
    rng = random.Random(5)
    groups: list[list[Event]] = []
    symbols = list(SYMBOLS)
    while len(groups) < count:
        events.clear()
        symbol = rng.choice(symbols)
        side = Side.BUY
        pos = broker.portfolio(TRADER).positions.get(symbol)
        if symbol.endswith(".HK") and pos and pos.available >= 1000 and rng.random() < 0.5:
            side = Side.SELL  # H-shares are T+0: sell some of what was bought
        clock.advance(timedelta(milliseconds=5))
        order = broker.submit(OrderRequest(TRADER, symbol, side, 1000))
        if order.status is not OrderStatus.FILLED:
            raise RuntimeError(f"bench order not filled: {order.reject_reason}")
        groups.append(list(events))
    return groups


async def _batched(db: Db, groups: list[list[Event]], clients: int) -> tuple[float, int]:
    """Through the writer: ``clients`` placing orders and each waiting for its ack, or with
    ``clients=0`` the engine publishing flat out and one flush at the end."""
    store = await db.open()
    try:
        await _seed_trader(store)
        bus = EventBus()
        writer = EventWriter(bus, store)
        writer.start()
        todo = iter(groups)

        async def client() -> None:
            # Place an order, wait for its acknowledgement (durable), place the next one.
            for group in todo:
                for event in group:
                    bus.publish(event)
                await writer.flush(timeout=None)

        async def stream() -> None:
            for group in todo:
                for event in group:
                    bus.publish(event)
                await asyncio.sleep(0)  # the engine goes on; the writer batches behind it
            await writer.flush(timeout=None)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients))) if clients else await stream()
        seconds = time.perf_counter() - start
        batches = writer.batches
        await writer.stop()
        counts = await store.row_counts()
        assert counts["fills"] == len(groups), counts
        return seconds, batches
    finally:
        await store.close()


async def _one_by_one(db: Db, groups: list[list[Event]]) -> float:
    store = await db.open()
    try:
        await _seed_trader(store)
        start = time.perf_counter()
        for group in groups:
            await store.write_events(group)
        seconds = time.perf_counter() - start
        counts = await store.row_counts()
        assert counts["fills"] == len(groups), counts
        return seconds
    finally:
        await store.close()


async def _fills(quick: bool, pg: bool) -> list[BenchResult]:
    many, few = (2_000, 200) if quick else (20_000, 1_000)
    groups = fill_groups(many)
    per_fill = sum(len(g) for g in groups) / len(groups)
    out: list[BenchResult] = []
    for name, make in _targets(pg):
        async with make() as db:
            base_seconds = await _one_by_one(db, groups[:few])
        base = BenchResult(
            f"persist.{name}.one_per_transaction",
            few,
            "fills",
            base_seconds,
            wall_seconds=base_seconds,
            check=f"wall s; {few:,} fills stored, {per_fill:.1f} events each",
        )
        out.append(base)
        for label, clients in (("batched", 0), (f"batched_{CLIENTS}_acked", CLIENTS)):
            async with make() as db:
                seconds, batches = await _batched(db, groups, clients)
            who = f"{clients} clients awaiting acks" if clients else "published flat out"
            out.append(
                BenchResult(
                    f"persist.{name}.{label}",
                    many,
                    "fills",
                    seconds,
                    wall_seconds=seconds,
                    check=f"wall s; {many:,} fills {who}, stored in {batches} transactions",
                    extra={"transactions": batches, "events_per_fill": round(per_fill, 2)},
                ).against(base)
            )
    return out


# --- start to ready ---------------------------------------------------------------------------

ORDER_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "trader_id",
    "symbol",
    "side",
    "type",
    "quantity",
    "limit_price",
    "status",
    "filled_quantity",
    "filled_amount",
    "fees_total",
    "frozen_cash",
    "reject_code",
    "reject_reason",
    "source",
    "trading_day",
)
FINAL = (
    ("filled", None, None),
    ("filled", None, None),
    ("filled", None, None),
    ("cancelled", None, "cancelled by request"),
    ("rejected", "INSUFFICIENT_CASH", "buy 500 600036.SH at 35.01 needs 17,510.25 CNY"),
    ("expired", "DAY_END", "day order expired at the close with 500 of 500 shares unfilled"),
)


def _final_rows(lo: int, hi: int, total: int, *, sqlite_text: bool) -> list[tuple[Any, ...]]:
    """Final orders ``lo``..``hi`` of ``total`` (filled, cancelled, rejected, expired), spread
    over the four years before the open ones."""
    rng = random.Random(lo)
    symbols = list(SYMBOLS)
    rows: list[tuple[Any, ...]] = []
    start = T0 - timedelta(days=4 * 365)
    step = timedelta(days=4 * 365) / total
    for i in range(lo, hi):
        at = start + step * i
        status, code, reason = FINAL[i % len(FINAL)]
        symbol = symbols[rng.randrange(len(symbols))]
        filled = status == "filled"
        amount = Decimal("17500.00") if filled else Decimal(0)
        fees = Decimal("5.18") if filled else Decimal(0)
        limit = Decimal("35.00") if i % 2 else None
        row: list[Any] = [
            f"{i:032x}",
            at,
            at,
            TRADER,
            symbol,
            "buy" if i % 3 else "sell",
            "limit" if limit is not None else "market",
            500,
            limit,
            status,
            500 if filled else 0,
            amount,
            fees,
            Decimal(0),
            code,
            reason,
            "manual",
            at.date(),
        ]
        if sqlite_text:  # the stored forms of the Money and UTCDateTime columns on SQLite
            row[1] = row[2] = at.strftime("%Y-%m-%d %H:%M:%S.%f")
            for j in (8, 11, 12, 13):
                row[j] = None if row[j] is None else str(row[j])
            row[17] = row[17].isoformat()
        rows.append(tuple(row))
    return rows


def _open_events() -> list[Event]:
    """The open orders, written by the real store: half resting, a fifth partially filled."""
    events: list[Event] = []
    fees = FeeBreakdown(Decimal("5"), Decimal(0), Decimal("0.09"))
    for i in range(OPEN_ORDERS):
        at = T0 + timedelta(seconds=i)
        partial = i % 5 == 0
        order = Order(
            new_id(),
            TRADER,
            "600036.SH",
            Side.BUY,
            OrderType.LIMIT,
            1000,
            Decimal("34.50"),
            at,
            DAY,
            status=OrderStatus.PARTIALLY_FILLED if partial else OrderStatus.OPEN,
            filled_quantity=500 if partial else 0,
            filled_amount=Decimal("17250.00") if partial else Decimal(0),
            fees=fees if partial else FeeBreakdown(),
            frozen_cash=Decimal("17255.09"),
            updated_at=at,
        )
        events.append(OrderEvent(order))
        if partial:
            fill = Fill(
                new_id(),
                order.id,
                TRADER,
                order.symbol,
                Side.BUY,
                500,
                Decimal("34.50"),
                Decimal("17250.00"),
                fees,
                at,
                DAY,
                "CNY",
            )
            events.append(
                FillEvent(
                    fill,
                    order,
                    # A stand-in position and account: the benchmark times the reading.
                    PositionState(
                        TRADER,
                        "600036.SH",
                        "CNY",
                        10_000,
                        10_000,
                        Decimal("350000"),
                        Decimal(0),
                        Decimal("100"),
                        Decimal("35.00"),
                        T0,
                    ),
                    AccountState(TRADER, "CNY", CASH, Decimal(0), CASH, Decimal(0), Decimal(0)),
                )
            )
    return events


async def _generate(db: Db, count: int) -> None:
    """Schema by migration, the trader by the store, a million final orders in bulk."""
    store = await db.open()
    await _seed_trader(store)
    target = store.target
    await store.close()
    finals = count - OPEN_ORDERS
    started = time.perf_counter()
    if db.url is None:
        assert target is not None and target.path is not None
        conn = sqlite3.connect(target.path)
        try:
            marks = ", ".join("?" for _ in ORDER_COLUMNS)
            sql = f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES ({marks})"
            chunk = 100_000
            for lo in range(0, finals, chunk):
                rows = _final_rows(lo, min(lo + chunk, finals), finals, sqlite_text=True)
                with conn:
                    conn.executemany(sql, rows)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    else:
        import asyncpg

        dsn = db.url.replace("postgresql+asyncpg://", "postgresql://")
        conn_pg = await asyncpg.connect(dsn)
        try:
            await conn_pg.copy_records_to_table(
                "orders",
                records=_final_rows(0, finals, finals, sqlite_text=False),
                columns=ORDER_COLUMNS,
            )
            await conn_pg.execute("ANALYZE")
        finally:
            await conn_pg.close()
    store = await db.open()
    try:
        await store.write_events(_open_events())
    finally:
        await store.close()
    _note(f"generated {count:,} orders in {time.perf_counter() - started:.1f} s (untimed)")


async def _start(db: Db) -> tuple[float, int, int]:
    """Open, load and restore as the app does on start: seconds, open orders, positions."""
    start = time.perf_counter()
    store = await db.open()
    try:
        state = await store.load_state()
        broker = PaperBroker(InstrumentRegistry.default(), ManualClock(T0), EventBus())
        restore(broker, state)
        seconds = time.perf_counter() - start
    finally:
        await store.close()
    held = sum(len(b.portfolio.held()) for b in broker.traders.values())
    return seconds, sum(1 for _ in broker.open_orders()), held


async def _sqlite_details(db: Db) -> dict[str, Any]:
    """How big the file is and how much of the start its check takes (it reads every page)."""
    from deepalpha.storage.database import DB_FILENAME, check_sqlite_file

    path = db.data_dir / DB_FILENAME
    start = time.perf_counter()
    check_sqlite_file(path)
    return {
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "file_check_seconds": round(time.perf_counter() - start, 4),
    }


async def _count(db: Db) -> tuple[float, int]:
    from sqlalchemy import text

    store = await db.open()
    try:
        start = time.perf_counter()
        async with store.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT count(*) FROM orders"))).scalar_one()
        seconds = time.perf_counter() - start
    finally:
        await store.close()
    return seconds, int(rows)


async def _ready(quick: bool, repeat: int, pg: bool) -> list[BenchResult]:
    count = 100_000 if quick else 1_000_000
    out: list[BenchResult] = []
    for name, make in _targets(pg):
        async with make() as db:
            await _generate(db, count)
            runs = [await _start(db) for _ in range(max(1, repeat))]
            extra = await _sqlite_details(db) if db.url is None else {}
            seconds, open_orders, _ = min(runs)
            count_seconds, rows = min([await _count(db) for _ in range(max(1, repeat))])
        base = BenchResult(
            f"start.{name}.select_count",
            rows,
            "orders",
            count_seconds,
            wall_seconds=count_seconds,
            check="wall s; SELECT count(*) FROM orders",
        )
        ok = open_orders == OPEN_ORDERS and rows == count
        ours = BenchResult(
            f"start.{name}.ready",
            rows,
            "orders",
            seconds,
            wall_seconds=seconds,
            check=f"wall s; ready in {seconds:.2f} s (aim < {AIM_SECONDS:.0f} s, "
            f"{'met' if seconds < AIM_SECONDS else 'MISSED'}); {open_orders} open orders restored",
            ok=ok,
            extra={
                "first_start_seconds": round(runs[0][0], 4),
                "aim_seconds": AIM_SECONDS,
                **extra,
            },
        ).against(base)
        out += [base, ours]
    return out


def run(quick: bool = False, repeat: int = 3) -> list[BenchResult]:
    async def main() -> list[BenchResult]:
        pg = await _postgres_reachable()
        return await _fills(quick, pg) + await _ready(quick, repeat, pg)

    return asyncio.run(main())
