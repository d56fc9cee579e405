"""The database schema. Every row has an id, ``created_at`` and ``updated_at`` (UTC) so the sync
service can push it incrementally; money columns are exact (:class:`Money`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from deepalpha.storage.types import Money, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamped:
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False, index=True
    )


class InstrumentRow(Timestamped, Base):
    __tablename__ = "instruments"
    symbol: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    market: Mapped[str] = mapped_column(String(4))
    exchange: Mapped[str] = mapped_column(String(4))
    board: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    board_lot: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    st: Mapped[bool] = mapped_column(Boolean, default=False)
    listed: Mapped[date | None] = mapped_column(Date, nullable=True)


class TraderRow(Timestamped, Base):
    __tablename__ = "traders"
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # discretionary | ai | hybrid | strategy
    running: Mapped[bool] = mapped_column(Boolean, default=False)
    base_currency: Mapped[str] = mapped_column(String(3), default="CNY")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    risk_limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_profile: Mapped[str | None] = mapped_column(String(64), nullable=True)
    halted_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    halted_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    day_start_equity: Mapped[Decimal | None] = mapped_column(Money, nullable=True)


class AccountRow(Timestamped, Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("trader_id", "currency"),)
    trader_id: Mapped[str] = mapped_column(ForeignKey("traders.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    cash: Mapped[Decimal] = mapped_column(Money)
    frozen: Mapped[Decimal] = mapped_column(Money)
    deposits: Mapped[Decimal] = mapped_column(Money)
    realized_pnl: Mapped[Decimal] = mapped_column(Money)
    fees_paid: Mapped[Decimal] = mapped_column(Money)


FEE_COLUMNS = (
    "commission",
    "stamp_duty",
    "transfer_fee",
    "sfc_levy",
    "afrc_levy",
    "trading_fee",
    "settlement_fee",
)


class OrderRow(Timestamped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status", "status"),
        Index("ix_orders_trader_created", "trader_id", "created_at"),
    )
    trader_id: Mapped[str] = mapped_column(ForeignKey("traders.id"))
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(Integer)
    limit_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    filled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    filled_amount: Mapped[Decimal] = mapped_column(Money)
    fees_total: Mapped[Decimal] = mapped_column(Money)
    frozen_cash: Mapped[Decimal] = mapped_column(Money)
    reject_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reject_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The reason's catalogue key and JSON-safe parameters, so it can be said in Chinese too.
    reject_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reject_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    trading_day: Mapped[date] = mapped_column(Date)


class FillRow(Timestamped, Base):
    __tablename__ = "fills"
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    trader_id: Mapped[str] = mapped_column(ForeignKey("traders.id"), index=True)
    symbol: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    commission: Mapped[Decimal] = mapped_column(Money)
    stamp_duty: Mapped[Decimal] = mapped_column(Money)
    transfer_fee: Mapped[Decimal] = mapped_column(Money)
    sfc_levy: Mapped[Decimal] = mapped_column(Money)
    afrc_levy: Mapped[Decimal] = mapped_column(Money)
    trading_fee: Mapped[Decimal] = mapped_column(Money)
    settlement_fee: Mapped[Decimal] = mapped_column(Money)
    fees_total: Mapped[Decimal] = mapped_column(Money)
    realized_pnl: Mapped[Decimal] = mapped_column(Money)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    trading_day: Mapped[date] = mapped_column(Date)


class PositionRow(Timestamped, Base):
    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("trader_id", "symbol"),)
    trader_id: Mapped[str] = mapped_column(ForeignKey("traders.id"), index=True)
    symbol: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    quantity: Mapped[int] = mapped_column(Integer)
    sellable: Mapped[int] = mapped_column(Integer)
    cost_basis: Mapped[Decimal] = mapped_column(Money)
    realized_pnl: Mapped[Decimal] = mapped_column(Money)
    fees_paid: Mapped[Decimal] = mapped_column(Money)
    last_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EquitySnapshotRow(Timestamped, Base):
    __tablename__ = "equity_snapshots"
    __table_args__ = (UniqueConstraint("trader_id", "day"),)
    trader_id: Mapped[str] = mapped_column(ForeignKey("traders.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    cash: Mapped[Decimal] = mapped_column(Money)
    market_value: Mapped[Decimal] = mapped_column(Money)
    equity: Mapped[Decimal] = mapped_column(Money)


class DecisionRecordRow(Timestamped, Base):
    """One AI decision cycle (SPEC §5), whether it traded, waited or failed."""

    __tablename__ = "decision_records"
    __table_args__ = (Index("ix_decisions_trader_time", "trader_id", "time"),)
    trader_id: Mapped[str] = mapped_column(ForeignKey("traders.id"))
    cycle: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    model: Mapped[str] = mapped_column(String(128))
    system_prompt: Mapped[str] = mapped_column(Text)
    user_prompt: Mapped[str] = mapped_column(Text)
    raw_reply: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str] = mapped_column(Text, default="")
    decisions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    results: Mapped[list[Any]] = mapped_column(JSON, default=list)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = mapped_column(Money)
    success: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class UiPreferenceRow(Timestamped, Base):
    __tablename__ = "ui_preferences"
    key: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[Any] = mapped_column(JSON)


class AuditLogRow(Timestamped, Base):
    __tablename__ = "audit_log"
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EngineStateRow(Timestamped, Base):
    """Small facts the engine needs on restart, e.g. the last trading day it opened."""

    __tablename__ = "engine_state"
    value: Mapped[str] = mapped_column(Text)


USER_ROLES = ("admin", "trader", "viewer")


class UserRow(Timestamped, Base):
    """A person who may use ``deepalpha serve``. Only the argon2 hash of the password is kept;
    the id is generated, the name is what people log in with."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in USER_ROLES)})", name="role"),
    )
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(8))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class TraderOwnerRow(Timestamped, Base):
    """Which user a trader belongs to: a trader-role user acts only on the traders it owns.

    A table of its own rather than a column of ``traders``: the database keeps it true (a
    removed user lets go of its traders by itself), and the engine's upserts of trader rows,
    which know nothing of users, can never overwrite it. The id is the trader's id, so a
    trader has at most one owner.
    """

    __tablename__ = "trader_owners"
    trader_id: Mapped[str] = mapped_column(
        ForeignKey("traders.id", ondelete="CASCADE"), unique=True
    )
    owner: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), index=True)


def table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


TABLES: list[Table] = [table(m) for m in Base.__subclasses__()]
