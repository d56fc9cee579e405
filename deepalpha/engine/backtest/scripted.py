"""Scripted orders from a CSV file: each order is matched on the bar of its date or time.

Columns: ``date`` or ``datetime``, ``symbol``, ``side`` (buy|sell), ``quantity``, ``type``
(market|limit, default market), ``limit_price`` (limit orders).
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from deepalpha.engine.feeds.csv_text import CsvTextError, csv_text
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.symbols import SymbolError, normalize
from deepalpha.engine.orders import OrderRequest, OrderType, Side


class OrdersFileError(ValueError):
    """A bad orders file: the message names the file, the line and the reason."""


MAX_QUANTITY_DIGITS = 12  # a trillion shares: past any real order, within int arithmetic


@dataclass(frozen=True, slots=True)
class ScriptedOrder:
    line: int
    when: date | datetime  # a date matches a daily bar; a naive datetime an intraday bar
    symbol: str
    side: Side
    quantity: int
    type: OrderType
    limit_price: Decimal | None

    def request(self, trader_id: str) -> OrderRequest:
        return OrderRequest(
            trader_id,
            self.symbol,
            self.side,
            self.quantity,
            self.type,
            self.limit_price,
            source="scripted",
        )


def load_orders(path: Path) -> list[ScriptedOrder]:
    try:
        handle = csv_text(path)
    except OSError as exc:
        raise OrdersFileError(f"{path}: cannot open ({exc.strerror})") from None
    except CsvTextError as exc:
        raise OrdersFileError(f"{path}:{exc.line}: {exc.detail}") from None
    out: list[ScriptedOrder] = []
    with handle:
        reader = csv.DictReader(handle)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        reader.fieldnames = fields
        time_col = "datetime" if "datetime" in fields else "date" if "date" in fields else None
        if time_col is None:
            raise OrdersFileError(f"{path}:1: no 'date' or 'datetime' column")
        missing = [c for c in ("symbol", "side", "quantity") if c not in fields]
        if missing:
            raise OrdersFileError(f"{path}:1: missing column(s) {', '.join(missing)}")
        try:
            for row in reader:
                where = f"{path}:{reader.line_num}"
                out.append(_parse(row, time_col, where, reader.line_num))
        except csv.Error as exc:
            raise OrdersFileError(f"{path}:{reader.line_num}: not a CSV row ({exc})") from None
    return out


def check_symbols(
    orders: Sequence[ScriptedOrder],
    path: Path,
    instruments: InstrumentRegistry,
    in_data: Collection[str],
) -> None:
    """Every order names a symbol the bar files have. An order for any other symbol could
    only ever be rejected for want of a bar; it is a mistake in the file (a typo, a file left
    out of --data), so it is refused before the run with the line it is on."""
    for so in orders:
        if so.symbol in in_data:
            continue
        where = f"{path}:{so.line}: symbol {so.symbol}"
        have = ", ".join(in_data)
        if so.symbol.endswith(".HK") and instruments.find(so.symbol) is None:
            # HKEX sets the board lot per stock: it must come from the instruments file.
            raise OrdersFileError(
                f"{where} is not in the instrument data and has no bars in --data "
                f"(it has {have}): add its bar file to --data and a line "
                f"'{so.symbol},<name>,<name_en>,<board_lot>' to a CSV given with "
                "--instruments FILE"
            )
        raise OrdersFileError(
            f"{where} has no bars in --data (it has {have}); add its bar file to --data"
        )


def _parse(row: dict[str, str], time_col: str, where: str, line: int) -> ScriptedOrder:
    raw_time = (row.get(time_col) or "").strip()
    try:
        when: date | datetime
        if time_col == "datetime":
            when = datetime.fromisoformat(raw_time)
            if when.tzinfo is not None:
                when = when.replace(tzinfo=None)
        else:
            when = date.fromisoformat(raw_time)
    except ValueError:
        raise OrdersFileError(
            f"{where}: {time_col} {raw_time!r} is not ISO (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"
        ) from None
    try:
        symbol = normalize(row.get("symbol") or "")
    except SymbolError as exc:
        raise OrdersFileError(f"{where}: {exc}") from None
    side_text = (row.get("side") or "").strip().lower()
    try:
        side = Side(side_text)
    except ValueError:
        raise OrdersFileError(f"{where}: side {side_text!r} must be buy or sell") from None
    qty_text = (row.get("quantity") or "").strip()
    if not (qty_text.isascii() and qty_text.isdigit()) or len(qty_text) > MAX_QUANTITY_DIGITS:
        # isdigit() alone takes '²' and other digits int() refuses.
        raise OrdersFileError(f"{where}: quantity {qty_text!r} must be a whole number of shares")
    type_text = (row.get("type") or "market").strip().lower() or "market"
    try:
        otype = OrderType(type_text)
    except ValueError:
        raise OrdersFileError(f"{where}: type {type_text!r} must be market or limit") from None
    price_text = (row.get("limit_price") or "").strip()
    price: Decimal | None = None
    if otype is OrderType.LIMIT:
        try:
            price = Decimal(price_text)
        except InvalidOperation:
            raise OrdersFileError(
                f"{where}: a limit order needs a limit_price, got {price_text!r}"
            ) from None
        if not price.is_finite() or price <= 0:
            raise OrdersFileError(f"{where}: limit_price {price_text!r} must be positive")
    elif price_text:
        raise OrdersFileError(f"{where}: a market order takes no limit_price ({price_text})")
    return ScriptedOrder(line, when, symbol, side, int(qty_text), otype, price)
