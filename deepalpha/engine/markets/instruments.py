"""Instruments: what a symbol is, on which board it trades and in what lot.

Reference data ships in ``deepalpha/assets/instruments.csv``; more can be loaded from a file of
the same columns (``--instruments FILE``). An A-share not in the data is still understood from
its code (board, lot, tick are rules of the board); a Hong Kong stock is not, because its board
lot is set per stock by HKEX and is never a constant.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from importlib import resources
from pathlib import Path

from deepalpha.engine.markets.symbols import (
    CURRENCY,
    EXCHANGE_MARKET,
    Exchange,
    Market,
    SymbolError,
    normalize,
    split,
)
from deepalpha.i18n import Msg


class Board(StrEnum):
    MAIN = "main"  # SSE/SZSE main board
    CHINEXT = "chinext"  # SZSE 300xxx, 301xxx
    STAR = "star"  # SSE 688xxx, 689xxx
    BEIJING = "beijing"  # BSE
    HK_MAIN = "hk_main"


class Kind(StrEnum):
    STOCK = "stock"
    FUND = "fund"


class UnknownInstrument(LookupError):
    """A symbol the engine has no reference data for; the message says what to supply."""


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    name: str
    name_en: str
    market: Market
    exchange: Exchange
    board: Board
    kind: Kind
    board_lot: int
    currency: str
    st: bool = False
    listed: date | None = None

    @property
    def code(self) -> str:
        return self.symbol.partition(".")[0]


def board_of(code: str, exchange: Exchange) -> Board:
    """The A-share board of a code (SSE/SZSE/BSE code allocation rules)."""
    if exchange is Exchange.HK:
        return Board.HK_MAIN
    if exchange is Exchange.BJ:
        return Board.BEIJING
    if code.startswith(("688", "689")):
        return Board.STAR
    if code.startswith(("300", "301")):
        return Board.CHINEXT
    return Board.MAIN


def kind_of(code: str, exchange: Exchange) -> Kind:
    """Funds and ETFs: SSE 5xxxxx, SZSE 15xxxx/16xxxx/18xxxx."""
    if exchange is Exchange.SH and code.startswith("5"):
        return Kind.FUND
    if exchange is Exchange.SZ and code.startswith(("15", "16", "18")):
        return Kind.FUND
    return Kind.STOCK


def a_share(
    symbol: str, name: str = "", name_en: str = "", *, st: bool = False, listed: date | None = None
) -> Instrument:
    """An A-share instrument built from the rules of its code."""
    code, exchange = split(symbol)
    market = EXCHANGE_MARKET[exchange]
    if market is not Market.CN:
        raise ValueError(f"{symbol} is not an A-share")
    board = board_of(code, exchange)
    return Instrument(
        symbol=symbol,
        name=name or code,
        name_en=name_en or name or code,
        market=market,
        exchange=exchange,
        board=board,
        kind=kind_of(code, exchange),
        board_lot=200 if board is Board.STAR else 100,
        currency=CURRENCY[market],
        st=st,
        listed=listed,
    )


class InstrumentFileError(ValueError):
    """A bad instruments file: the message names the file and line."""


def _parse_rows(text: str, source: str) -> Iterator[Instrument]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    required = {"symbol", "board_lot"}
    missing = required - set(reader.fieldnames or ())
    if missing:
        raise InstrumentFileError(f"{source}: missing column(s) {', '.join(sorted(missing))}")
    # Line numbers count only the data lines kept; map them back for the message.
    kept = [
        i + 1
        for i, ln in enumerate(text.splitlines())
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    for idx, row in enumerate(reader, start=1):
        where = f"{source}:{kept[idx] if idx < len(kept) else '?'}"
        try:
            symbol = normalize(row.get("symbol") or "")
            lot_text = (row.get("board_lot") or "").strip()  # None when the row is short
            if not lot_text.isdigit() or int(lot_text) <= 0:
                raise ValueError(
                    f"board_lot must be a positive whole number, got {lot_text or 'nothing'!r}"
                )
            lot = int(lot_text)
            code, exchange = split(symbol)
            market = EXCHANGE_MARKET[exchange]
            listed = date.fromisoformat(row["listed"]) if row.get("listed") else None
            st = (row.get("st") or "0").strip() in ("1", "true", "yes")
            kind = Kind(row.get("kind") or kind_of(code, exchange))
        except (SymbolError, ValueError, KeyError) as exc:
            raise InstrumentFileError(f"{where}: {exc}") from None
        name = (row.get("name") or code).strip()
        yield Instrument(
            symbol=symbol,
            name=name,
            name_en=(row.get("name_en") or name).strip(),
            market=market,
            exchange=exchange,
            board=board_of(code, exchange),
            kind=kind,
            board_lot=lot,
            currency=CURRENCY[market],
            st=st,
            listed=listed,
        )


class InstrumentRegistry:
    """All instruments the engine knows, by canonical symbol."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        for inst in instruments:
            self.add(inst)

    @classmethod
    def default(cls) -> InstrumentRegistry:
        text = resources.files("deepalpha.assets").joinpath("instruments.csv").read_text("utf-8")
        return cls(_parse_rows(text, "instruments.csv"))

    def add(self, inst: Instrument) -> None:
        self._by_symbol[inst.symbol] = inst

    def load_file(self, path: Path) -> int:
        """Add the instruments of a CSV file; returns how many were read."""
        try:
            text = path.read_text("utf-8-sig")
        except OSError as exc:
            raise InstrumentFileError(f"{path}: cannot read ({exc.strerror})") from None
        count = 0
        for inst in _parse_rows(text, str(path)):
            self.add(inst)
            count += 1
        return count

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    def get(self, text: str) -> Instrument:
        """The instrument for a symbol or alias; A-shares not listed are built from the code."""
        symbol = normalize(text)
        inst = self._by_symbol.get(symbol)
        if inst is not None:
            return inst
        if symbol.endswith(".HK"):
            raise UnknownInstrument(Msg("symbol.hk_lot_unknown", symbol=symbol))
        inst = a_share(symbol)
        self._by_symbol[symbol] = inst
        return inst

    def find(self, text: str) -> Instrument | None:
        try:
            symbol = normalize(text)
        except SymbolError:
            return None
        return self._by_symbol.get(symbol)
