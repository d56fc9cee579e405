"""The SQL store: implements the engine's ``Store`` protocol and the queries screens need.

Writes are upserts keyed by id, so replaying a batch after a failed commit is harmless. Rows
whose identity is natural get a derived id (``trader/symbol`` for positions, ``trader/CNY``
for accounts, ``trader/day`` for equity snapshots).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from deepalpha.engine.ai.records import DecisionRecord
from deepalpha.engine.events import (
    AccountEvent,
    AccountState,
    AiStateEvent,
    DecisionEvent,
    EquityEvent,
    Event,
    FillEvent,
    MarketStateEvent,
    OrderEvent,
    PositionEvent,
    PositionState,
    TraderHaltedEvent,
    TradingDayEvent,
)
from deepalpha.engine.markets.fees import FEE_ITEMS, FeeBreakdown
from deepalpha.engine.markets.instruments import Instrument
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Fill, Order, OrderStatus, OrderType, RejectCode, Side
from deepalpha.engine.persistence import StoredState
from deepalpha.engine.traders import TraderConfig, TraderKind, limits_from_dict, limits_to_dict
from deepalpha.i18n import Msg, from_stored, to_stored
from deepalpha.storage.database import explain
from deepalpha.storage.models import (
    AccountRow,
    AuditLogRow,
    DecisionRecordRow,
    EngineStateRow,
    EquitySnapshotRow,
    FillRow,
    InstrumentRow,
    OrderRow,
    PositionRow,
    TraderRow,
    UiPreferenceRow,
    table,
)
from deepalpha.storage.peek import MARKET_STATE
from deepalpha.storage.types import utcnow
from deepalpha.storage.users import UserStore

ZERO = Decimal(0)
OPEN_STATUSES = (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value)


def position_id(trader_id: str, symbol: str) -> str:
    return f"{trader_id}/{symbol}"


def account_id(trader_id: str, currency: str) -> str:
    return f"{trader_id}/{currency}"


def _order_row(o: Order) -> dict[str, Any]:
    reason = o.reject_reason
    key, params = to_stored(reason) if isinstance(reason, Msg) else (None, None)
    return {
        "id": o.id,
        "trader_id": o.trader_id,
        "symbol": o.symbol,
        "side": o.side.value,
        "type": o.type.value,
        "quantity": o.quantity,
        "limit_price": o.limit_price,
        "status": o.status.value,
        "filled_quantity": o.filled_quantity,
        "filled_amount": o.filled_amount,
        "fees_total": o.fees.total,
        "frozen_cash": o.frozen_cash,
        "reject_code": o.reject_code.value if o.reject_code else None,
        "reject_reason": reason,
        "reject_key": key,
        "reject_params": params,
        "source": o.source,
        "trading_day": o.trading_day,
        "created_at": o.created_at,
        "updated_at": o.updated_at or o.created_at,
    }


def _fill_row(f: Fill) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f.id,
        "order_id": f.order_id,
        "trader_id": f.trader_id,
        "symbol": f.symbol,
        "side": f.side.value,
        "quantity": f.quantity,
        "price": f.price,
        "amount": f.amount,
        "currency": f.currency,
        "fees_total": f.fees.total,
        "realized_pnl": f.realized_pnl,
        "time": f.time,
        "trading_day": f.trading_day,
        "created_at": f.time,
        "updated_at": f.time,
    }
    for item in FEE_ITEMS:
        row[item] = getattr(f.fees, item)
    return row


def _position_row(p: PositionState) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": position_id(p.trader_id, p.symbol),
        "trader_id": p.trader_id,
        "symbol": p.symbol,
        "currency": p.currency,
        "quantity": p.quantity,
        "sellable": p.sellable,
        "cost_basis": p.cost_basis,
        "realized_pnl": p.realized_pnl,
        "fees_paid": p.fees_paid,
        "last_price": p.last_price,
        "opened_at": p.opened_at,
        "created_at": now,
        "updated_at": now,
    }


def _account_row(a: AccountState) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": account_id(a.trader_id, a.currency),
        "trader_id": a.trader_id,
        "currency": a.currency,
        "cash": a.cash,
        "frozen": a.frozen,
        "deposits": a.deposits,
        "realized_pnl": a.realized_pnl,
        "fees_paid": a.fees_paid,
        "created_at": now,
        "updated_at": now,
    }


def _decision_row(d: DecisionRecord) -> dict[str, Any]:
    return {
        "id": d.id,
        "trader_id": d.trader_id,
        "cycle": d.cycle,
        "time": d.time,
        "model": d.model[:128],
        "system_prompt": d.system_prompt,
        "user_prompt": d.user_prompt,
        "raw_reply": d.raw_reply,
        "reasoning": d.reasoning,
        "decisions": d.decisions,
        "results": d.results,
        "latency_ms": d.latency_ms,
        "prompt_tokens": d.prompt_tokens,
        "completion_tokens": d.completion_tokens,
        "cost": d.cost,
        "success": d.success,
        "error": d.error,
        "created_at": d.time,
        "updated_at": utcnow(),
    }


def decision_from_row(r: Any) -> DecisionRecord:
    return DecisionRecord(
        id=r.id,
        trader_id=r.trader_id,
        cycle=r.cycle,
        time=r.time,
        model=r.model,
        system_prompt=r.system_prompt,
        user_prompt=r.user_prompt,
        raw_reply=r.raw_reply,
        reasoning=r.reasoning,
        decisions=list(r.decisions or []),
        results=list(r.results or []),
        latency_ms=r.latency_ms,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        cost=r.cost if r.cost is not None else ZERO,
        success=bool(r.success),
        error=r.error,
    )


def fill_from_row(r: Any) -> Fill:
    fees = FeeBreakdown(*(getattr(r, item) for item in FEE_ITEMS))
    return Fill(
        r.id,
        r.order_id,
        r.trader_id,
        r.symbol,
        Side(r.side),
        r.quantity,
        r.price,
        r.amount,
        fees,
        r.time,
        r.trading_day,
        r.currency,
        r.realized_pnl,
    )


def order_from_row(r: Any, fees: FeeBreakdown | None = None) -> Order:
    return Order(
        id=r.id,
        trader_id=r.trader_id,
        symbol=r.symbol,
        side=Side(r.side),
        type=OrderType(r.type),
        quantity=r.quantity,
        limit_price=r.limit_price,
        created_at=r.created_at,
        trading_day=r.trading_day,
        source=r.source,
        status=OrderStatus(r.status),
        filled_quantity=r.filled_quantity,
        filled_amount=r.filled_amount,
        fees=fees or FeeBreakdown(),
        frozen_cash=r.frozen_cash,
        reject_code=RejectCode(r.reject_code) if r.reject_code else None,
        reject_reason=from_stored(r.reject_key, r.reject_params, r.reject_reason),
        updated_at=r.updated_at,
    )


class SqlStore(UserStore):
    """The engine's store on SQLite or Postgres; the users of ``serve`` come from
    :class:`~deepalpha.storage.users.UserStore`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.target: Any = None  # the DatabaseTarget it was opened on, when known
        self.dialect = engine.dialect.name
        self._insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert

    async def close(self) -> None:
        await self.engine.dispose()

    # --- writing ------------------------------------------------------------------------
    async def _upsert(
        self,
        conn: AsyncConnection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        *,
        keep: Iterable[str] = ("created_at",),
    ) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        keep_set = {"id", *keep}
        update_cols = {c: stmt.excluded[c] for c in rows[0] if c not in keep_set}
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=["id"], set_=update_cols), list(rows)
        )

    async def _insert_new(
        self, conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]
    ) -> None:
        if rows:
            stmt = self._insert(table).on_conflict_do_nothing(index_elements=["id"])
            await conn.execute(stmt, list(rows))

    async def write_events(self, events: Sequence[Event]) -> None:
        # Coalesce: the last state of each row wins; fills are appended.
        orders: dict[str, dict[str, Any]] = {}
        fills: list[dict[str, Any]] = []
        positions: dict[str, dict[str, Any]] = {}
        accounts: dict[str, dict[str, Any]] = {}
        equity: dict[str, dict[str, Any]] = {}
        state: dict[str, dict[str, Any]] = {}
        halts: dict[str, tuple[str, str]] = {}
        day_start: dict[str, Decimal] = {}
        decisions: dict[str, dict[str, Any]] = {}
        for ev in events:
            if isinstance(ev, OrderEvent):
                orders[ev.order.id] = _order_row(ev.order)
            elif isinstance(ev, FillEvent):
                fills.append(_fill_row(ev.fill))
                orders[ev.order.id] = _order_row(ev.order)
                row = _position_row(ev.position)
                positions[row["id"]] = row
                row = _account_row(ev.account)
                accounts[row["id"]] = row
            elif isinstance(ev, PositionEvent):
                row = _position_row(ev.position)
                positions[row["id"]] = row
            elif isinstance(ev, AccountEvent):
                row = _account_row(ev.account)
                accounts[row["id"]] = row
            elif isinstance(ev, EquityEvent):
                eid = f"{ev.trader_id}/{ev.day.isoformat()}"
                equity[eid] = {
                    "id": eid,
                    "trader_id": ev.trader_id,
                    "day": ev.day,
                    "time": ev.time,
                    "cash": ev.cash,
                    "market_value": ev.market_value,
                    "equity": ev.equity,
                    "created_at": ev.time,
                    "updated_at": utcnow(),
                }
            elif isinstance(ev, TradingDayEvent):
                key = f"{'last_day' if ev.started else 'closed_day'}:{ev.market.value}"
                now = utcnow()
                state[key] = {
                    "id": key,
                    "value": ev.day.isoformat(),
                    "created_at": now,
                    "updated_at": now,
                }
                for trader_id, eq in ev.day_start_equity:
                    day_start[trader_id] = eq
            elif isinstance(ev, TraderHaltedEvent):
                halts[ev.trader_id] = (ev.code, ev.reason)
            elif isinstance(ev, DecisionEvent):
                decisions[ev.record.id] = _decision_row(ev.record)
            elif isinstance(ev, MarketStateEvent):
                now = utcnow()
                state[MARKET_STATE] = {
                    "id": MARKET_STATE,
                    "value": json.dumps(ev.state, separators=(",", ":")),
                    "created_at": now,
                    "updated_at": now,
                }
            elif isinstance(ev, AiStateEvent):
                key = f"ai:{ev.trader_id}"
                now = utcnow()
                state[key] = {
                    "id": key,
                    "value": json.dumps(ev.state, separators=(",", ":")),
                    "created_at": now,
                    "updated_at": now,
                }
        try:
            await self._write(
                orders, fills, positions, accounts, equity, state, halts, day_start, decisions
            )
        except DBAPIError as exc:
            # A full disk or a lost server: say which database and what to do, not the SQL.
            if self.target is None:
                raise
            raise explain(exc.orig or exc, self.target) from None

    async def _write(
        self,
        orders: dict[str, dict[str, Any]],
        fills: list[dict[str, Any]],
        positions: dict[str, dict[str, Any]],
        accounts: dict[str, dict[str, Any]],
        equity: dict[str, dict[str, Any]],
        state: dict[str, dict[str, Any]],
        halts: dict[str, tuple[str, str]],
        day_start: dict[str, Decimal],
        decisions: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        async with self.engine.begin() as conn:
            await self._upsert(conn, table(OrderRow), list(orders.values()))
            await self._insert_new(conn, table(FillRow), fills)
            await self._upsert(conn, table(PositionRow), list(positions.values()))
            await self._upsert(conn, table(AccountRow), list(accounts.values()))
            await self._upsert(conn, table(EquitySnapshotRow), list(equity.values()))
            await self._upsert(conn, table(EngineStateRow), list(state.values()))
            await self._upsert(conn, table(DecisionRecordRow), list((decisions or {}).values()))
            now = utcnow()
            for trader_id, (code, reason) in halts.items():
                await conn.execute(
                    update(TraderRow)
                    .where(TraderRow.id == trader_id)
                    .values(halted_code=code, halted_reason=reason, updated_at=now)
                )
            for trader_id, eq in day_start.items():
                await conn.execute(
                    update(TraderRow)
                    .where(TraderRow.id == trader_id)
                    .values(day_start_equity=eq, updated_at=now)
                )

    async def save_trader(self, trader: TraderConfig) -> None:
        await self.create_traders([trader], [])

    async def create_traders(
        self, traders: Sequence[TraderConfig], accounts: Sequence[AccountState]
    ) -> None:
        """Traders and their opening cash in one transaction: never a trader without cash."""
        async with self.engine.begin() as conn:
            await self._upsert(conn, table(TraderRow), [self._trader_row(t) for t in traders])
            await self._upsert(conn, table(AccountRow), [_account_row(a) for a in accounts])

    @staticmethod
    def _trader_row(trader: TraderConfig) -> dict[str, Any]:
        now = utcnow()
        return {
            "id": trader.id,
            "name": trader.name,
            "kind": trader.kind.value,
            "running": trader.running,
            "base_currency": trader.base_currency,
            "settings": trader.settings,
            "risk_limits": limits_to_dict(trader.limits),
            "model_profile": trader.model_profile,
            "created_at": now,
            "updated_at": now,
        }

    async def clear_halt(self, trader_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(TraderRow)
                .where(TraderRow.id == trader_id)
                .values(halted_code=None, halted_reason=None, updated_at=utcnow())
            )

    async def save_account(self, account: AccountState) -> None:
        async with self.engine.begin() as conn:
            await self._upsert(conn, table(AccountRow), [_account_row(account)])

    async def save_instruments(self, instruments: Iterable[Instrument]) -> None:
        now = utcnow()
        rows = [
            {
                "id": i.symbol,
                "symbol": i.symbol,
                "name": i.name,
                "name_en": i.name_en,
                "market": i.market.value,
                "exchange": i.exchange.value,
                "board": i.board.value,
                "kind": i.kind.value,
                "board_lot": i.board_lot,
                "currency": i.currency,
                "st": i.st,
                "listed": i.listed,
                "created_at": now,
                "updated_at": now,
            }
            for i in instruments
        ]
        async with self.engine.begin() as conn:
            await self._upsert(conn, table(InstrumentRow), rows)

    async def audit(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        from deepalpha.engine.ids import new_id  # noqa: PLC0415

        now = utcnow()
        async with self.engine.begin() as conn:
            await conn.execute(
                table(AuditLogRow)
                .insert()
                .values(
                    id=new_id(),
                    time=now,
                    actor=actor,
                    action=action,
                    subject=subject,
                    detail=detail or {},
                    created_at=now,
                    updated_at=now,
                )
            )

    async def set_preference(self, key: str, value: Any) -> None:
        now = utcnow()
        async with self.engine.begin() as conn:
            await self._upsert(
                conn,
                table(UiPreferenceRow),
                [{"id": key, "key": key, "value": value, "created_at": now, "updated_at": now}],
            )

    async def get_preference(self, key: str, default: Any = None) -> Any:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(UiPreferenceRow.value).where(UiPreferenceRow.key == key))
            ).first()
        return default if row is None else row[0]

    # --- reading ------------------------------------------------------------------------
    async def load_state(self) -> StoredState:
        st = StoredState()
        async with self.engine.connect() as conn:
            for r in (await conn.execute(select(TraderRow))).all():
                st.traders.append(
                    TraderConfig(
                        id=r.id,
                        name=r.name,
                        kind=TraderKind(r.kind),
                        base_currency=r.base_currency,
                        limits=limits_from_dict(r.risk_limits or {}),
                        settings=dict(r.settings or {}),
                        model_profile=r.model_profile,
                        running=r.running,
                    )
                )
                if r.halted_code:
                    st.halted[r.id] = (r.halted_code, r.halted_reason or "")
                if r.day_start_equity is not None:
                    st.day_start_equity[r.id] = r.day_start_equity
            for ar in (await conn.execute(select(AccountRow))).all():
                st.accounts.append(
                    AccountState(
                        ar.trader_id,
                        ar.currency,
                        ar.cash,
                        ar.frozen,
                        ar.deposits,
                        ar.realized_pnl,
                        ar.fees_paid,
                    )
                )
            for pr in (await conn.execute(select(PositionRow))).all():
                st.positions.append(
                    PositionState(
                        pr.trader_id,
                        pr.symbol,
                        pr.currency,
                        pr.quantity,
                        pr.sellable,
                        pr.cost_basis,
                        pr.realized_pnl,
                        pr.fees_paid,
                        pr.last_price,
                        pr.opened_at,
                    )
                )
            rows = (
                await conn.execute(
                    select(OrderRow)
                    .where(OrderRow.status.in_(OPEN_STATUSES))
                    .order_by(OrderRow.created_at)
                )
            ).all()
            partial = [r.id for r in rows if r.filled_quantity]
            fees: dict[str, FeeBreakdown] = {}
            if partial:
                for f in (
                    await conn.execute(select(FillRow).where(FillRow.order_id.in_(partial)))
                ).all():
                    fill = fill_from_row(f)
                    fees[fill.order_id] = fees.get(fill.order_id, FeeBreakdown()) + fill.fees
            st.open_orders = [order_from_row(r, fees.get(r.id)) for r in rows]
            days = await conn.execute(
                select(EngineStateRow).where(EngineStateRow.id.like("last_day:%"))
            )
            for er in days.all():
                st.last_days[Market(er.id.split(":", 1)[1])] = date.fromisoformat(er.value)
            ai = await conn.execute(select(EngineStateRow).where(EngineStateRow.id.like("ai:%")))
            for er in ai.all():
                st.ai_states[er.id.split(":", 1)[1]] = json.loads(er.value)
            market = (
                await conn.execute(
                    select(EngineStateRow.value).where(EngineStateRow.id == MARKET_STATE)
                )
            ).scalar()
            if market is not None:
                st.market = json.loads(market)
        return st

    async def orders(
        self,
        *,
        trader_id: str | None = None,
        status: str | None = None,
        symbol: str | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        q = select(OrderRow).order_by(OrderRow.created_at.desc())
        if trader_id:
            q = q.where(OrderRow.trader_id == trader_id)
        if status:
            q = q.where(OrderRow.status == status)
        if symbol:
            q = q.where(OrderRow.symbol == symbol)
        if limit:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            return [order_from_row(r) for r in (await conn.execute(q)).all()]

    async def fills(
        self, *, trader_id: str | None = None, order_id: str | None = None, limit: int | None = None
    ) -> list[Fill]:
        q = select(FillRow).order_by(FillRow.time.desc(), FillRow.id.desc())
        if trader_id:
            q = q.where(FillRow.trader_id == trader_id)
        if order_id:
            q = q.where(FillRow.order_id == order_id)
        if limit:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            return [fill_from_row(r) for r in (await conn.execute(q)).all()]

    async def decisions(
        self, trader_id: str | None = None, limit: int = 100
    ) -> list[DecisionRecord]:
        """The latest decision records, newest first."""
        q = select(DecisionRecordRow).order_by(
            DecisionRecordRow.time.desc(), DecisionRecordRow.cycle.desc()
        )
        if trader_id:
            q = q.where(DecisionRecordRow.trader_id == trader_id)
        if limit:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            return [decision_from_row(r) for r in (await conn.execute(q)).all()]

    async def decisions_by_id(self, ids: Iterable[str]) -> list[DecisionRecord]:
        wanted = list(ids)
        if not wanted:
            return []
        q = select(DecisionRecordRow).where(DecisionRecordRow.id.in_(wanted))
        async with self.engine.connect() as conn:
            return [decision_from_row(r) for r in (await conn.execute(q)).all()]

    async def round_trips(self) -> dict[str, tuple[int, int]]:
        """Per trader: round trips closed (sell fills) and won (realised P&L above zero), as
        ``engine.performance`` defines them, counted by the database — the win rate of the whole
        history, which the screens' window of recent fills cannot give."""
        pnl = FillRow.realized_pnl
        profit: ColumnElement[bool]
        if self.engine.dialect.name == "sqlite":
            # Money is exact text there: a profit has no minus sign and a non-zero digit
            # (comparing the text with 0 would compare strings).
            profit = (func.substr(pnl, 1, 1) != "-") & (func.glob("*[1-9]*", pnl) == 1)
        else:
            profit = pnl > Decimal(0)
        wins = case((profit, 1), else_=0)
        q = (
            select(FillRow.trader_id, func.count(), func.sum(wins))
            .where(FillRow.side == "sell")
            .group_by(FillRow.trader_id)
        )
        async with self.engine.connect() as conn:
            return {r[0]: (int(r[1]), int(r[2] or 0)) for r in (await conn.execute(q)).all()}

    async def equity_curve(self, trader_id: str) -> list[tuple[date, Decimal]]:
        q = (
            select(EquitySnapshotRow.day, EquitySnapshotRow.equity)
            .where(EquitySnapshotRow.trader_id == trader_id)
            .order_by(EquitySnapshotRow.day)
        )
        async with self.engine.connect() as conn:
            return [(r.day, r.equity) for r in (await conn.execute(q)).all()]

    async def row_counts(self) -> dict[str, int]:
        from deepalpha.storage.models import TABLES  # noqa: PLC0415

        out: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for t in TABLES:
                count = await conn.execute(select(func.count()).select_from(t))
                out[t.name] = count.scalar_one()
        return out
