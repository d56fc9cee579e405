"""Replay of historical bars from CSV files (daily ``date`` or intraday ``datetime`` rows).

Columns: ``date`` or ``datetime``; ``code``; ``open``, ``high``, ``low``, ``close``, ``volume``;
optional ``pre_close`` (the exchange's reference price), ``name`` (the day's short name, from
which ST and listing status follow) and ``amount`` (turnover). Other columns are ignored.

Zero-volume rows are suspension placeholders (Yahoo's typhoon days, Futu's untraded minutes)
and are skipped. Volume is in shares unless the caller says lots, or ``auto`` finds it from
``amount`` (amount / (volume × close) ≈ 100 means lots of 100 shares).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from itertools import chain
from pathlib import Path
from statistics import median

from deepalpha.engine.feeds.csv_text import CsvTextError, csv_text
from deepalpha.engine.marketdata import Bar
from deepalpha.engine.markets.instruments import Instrument, InstrumentRegistry
from deepalpha.engine.markets.rules import LISTED, DayStatus
from deepalpha.engine.markets.sessions import MARKET_TZ, close_time
from deepalpha.engine.markets.symbols import SymbolError, normalize


class VolumeUnit(StrEnum):
    AUTO = "auto"
    SHARES = "shares"
    LOTS = "lots"  # lots of 100 shares (Eastmoney/akshare minute data, tushare ``vol``)


class BarFileError(ValueError):
    """A file that cannot be replayed; the message names the file, the line and the reason."""


REQUIRED = ("code", "open", "high", "low", "close", "volume")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


@dataclass(slots=True)
class BarSeries:
    """The bars of one symbol from one file, oldest first."""

    instrument: Instrument
    source: Path
    intraday: bool
    volume_unit: VolumeUnit
    bars: list[Bar] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


# Beyond these no real bar goes (a share at a trillion, a day's amount of 10^18): such a cell
# is a broken file, and arithmetic on it would overflow deep in the run, not at its line.
MAX_PRICE_OR_AMOUNT = Decimal(10) ** 18
MAX_VOLUME = 10**15


MIDNIGHT = ("", "00:00", "00:00:00")  # what may follow a daily bar's date


def _decimal(text: str, column: str, where: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BarFileError(f"{where}: {column} {text!r} is not a number") from None
    if not value.is_finite():
        raise BarFileError(f"{where}: {column} {text!r} is not a finite number")
    if abs(value) >= MAX_PRICE_OR_AMOUNT:
        raise BarFileError(f"{where}: {column} {text!r} is out of range")
    return value


def _volume(text: str, where: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BarFileError(f"{where}: volume {text!r} is not a number") from None
    if not value.is_finite():
        raise BarFileError(f"{where}: volume {text!r} is not a finite number")
    if value < 0 or value != value.to_integral_value():
        raise BarFileError(f"{where}: volume {text!r} must be a non-negative whole number")
    if value >= MAX_VOLUME:
        raise BarFileError(f"{where}: volume {text!r} is out of range")
    return int(value)


def _parse_time(text: str, intraday: bool, where: str) -> datetime | date:
    text = text.strip()
    if not intraday:
        day, _, rest = text.replace("/", "-").partition(" ")
        try:
            if rest.strip() not in MIDNIGHT:  # "2023-08-16xyz" or "… 10:30" is not a day
                raise ValueError(rest)
            return date.fromisoformat(day)
        except ValueError:
            raise BarFileError(f"{where}: date {text!r} is not YYYY-MM-DD") from None
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # noqa: DTZ007 - made aware by the caller
        except ValueError:
            continue
    raise BarFileError(f"{where}: datetime {text!r} is not YYYY-MM-DD HH:MM[:SS]")


def _prefix(name: str) -> str:
    """The exchange's status letters before the short name: N, XD, XR, DR, G, ST, *ST."""
    end = 0
    while end < len(name) and (name[end].isascii() and not name[end].isdigit()):
        end += 1
    return name[:end].upper()


def _status(name: str | None, listing_day: int | None, reform_day: bool) -> DayStatus:
    if not name:
        return LISTED if listing_day is None else DayStatus(listing_day=listing_day)
    # ST/*ST, also inside ex-rights prefixes such as XDST康美 or XR*ST康 (SOURCES.md §1).
    st = "ST" in _prefix(name)
    if not st and not reform_day and listing_day is None:
        return LISTED
    return DayStatus(st=st, listing_day=listing_day, no_limit=reform_day)


def _detect_unit(samples: list[tuple[Decimal, int, Decimal]]) -> VolumeUnit:
    """Lots when amount / (volume × close) sits near 100, shares near 1."""
    ratios = [amount / (vol * close) for amount, vol, close in samples if vol and close]
    if not ratios:
        return VolumeUnit.SHARES
    ratio = median(ratios)
    return VolumeUnit.LOTS if Decimal(20) < ratio < Decimal(500) else VolumeUnit.SHARES


def load_bar_file(
    path: Path, instruments: InstrumentRegistry, volume_unit: VolumeUnit = VolumeUnit.AUTO
) -> list[BarSeries]:
    """Read and check a bar file; one series per code in it. Raises :class:`BarFileError`."""
    try:
        handle = csv_text(path)
    except OSError as exc:
        raise BarFileError(f"{path}: cannot open ({exc.strerror})") from None
    except CsvTextError as exc:
        raise BarFileError(f"{path}:{exc.line}: {exc.detail}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise BarFileError(f"{path}:1: the file is empty") from None
        except csv.Error as exc:
            raise BarFileError(f"{path}:1: not a CSV file ({exc})") from None
        col = {name: i for i, name in enumerate(header)}
        if "datetime" in col:
            intraday, time_col = True, col["datetime"]
        elif "date" in col:
            intraday, time_col = False, col["date"]
        else:
            raise BarFileError(
                f"{path}:1: no 'date' or 'datetime' column (header: {','.join(header)})"
            )
        missing = [c for c in REQUIRED if c not in col]
        if missing:
            raise BarFileError(f"{path}:1: missing column(s) {', '.join(missing)}")
        if "volume_lots" in col:  # a file that says its unit in the header
            volume_unit = VolumeUnit.LOTS
        i_code, i_open, i_high, i_low, i_close, i_vol = (col[c] for c in REQUIRED)
        i_pre, i_name, i_amount = col.get("pre_close"), col.get("name"), col.get("amount")
        width = len(header)
        rows: dict[str, list[tuple]] = {}
        try:
            for line_no, row in enumerate(reader, start=2):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                where = f"{path}:{line_no}"
                if len(row) != width:
                    raise BarFileError(f"{where}: {len(row)} fields, the header has {width}")
                code = row[i_code].strip()
                when = _parse_time(row[time_col], intraday, where)
                o = _decimal(row[i_open], "open", where)
                h = _decimal(row[i_high], "high", where)
                lo = _decimal(row[i_low], "low", where)
                c = _decimal(row[i_close], "close", where)
                if min(o, h, lo, c) <= 0:
                    raise BarFileError(
                        f"{where}: prices must be positive "
                        f"(open {o}, high {h}, low {lo}, close {c})"
                    )
                if h < max(o, c) or lo > min(o, c) or lo > h:
                    raise BarFileError(
                        f"{where}: inconsistent bar: high {h} and low {lo} must "
                        f"contain open {o} and close {c}"
                    )
                vol = _volume(row[i_vol], where)
                pre = (
                    _decimal(row[i_pre], "pre_close", where)
                    if i_pre is not None and row[i_pre].strip()
                    else None
                )
                amount = (
                    _decimal(row[i_amount], "amount", where)
                    if i_amount is not None and row[i_amount].strip()
                    else None
                )
                name = row[i_name].strip() if i_name is not None else None
                rows.setdefault(code, []).append(
                    (line_no, when, o, h, lo, c, vol, pre, amount, name)
                )
        except csv.Error as exc:
            raise BarFileError(f"{path}:{reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise BarFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not rows:
        raise BarFileError(f"{path}: no bars after the header")
    return [
        _series(path, code, data, intraday, volume_unit, instruments) for code, data in rows.items()
    ]


def _series(
    path: Path,
    code: str,
    data: list[tuple],
    intraday: bool,
    unit: VolumeUnit,
    instruments: InstrumentRegistry,
) -> BarSeries:
    try:
        inst = instruments.get(normalize(code))
    except SymbolError as exc:
        raise BarFileError(f"{path}:{data[0][0]}: code {code!r}: {exc}") from None
    except LookupError as exc:
        # The first line of the code, so the person finds the rows the message is about.
        raise BarFileError(f"{path}:{data[0][0]}: code {code!r}: {exc}") from None
    if unit is VolumeUnit.AUTO:
        unit = _detect_unit([(r[8], r[6], r[5]) for r in data[:500] if r[8] is not None])
    scale = 100 if unit is VolumeUnit.LOTS else 1
    tz = MARKET_TZ[inst.market]
    series = BarSeries(inst, path, intraday, unit)
    bars = series.bars
    first = data[0][1]
    first_day = first.date() if isinstance(first, datetime) else first
    # The file starts at the listing when the first name carries the N (new listing) prefix
    # or the reference data says the stock listed that day.
    starts_at_listing = _prefix(data[0][9] or "").startswith("N") or inst.listed == first_day
    seen_reform = False
    prev_when: date | datetime | None = None
    prev_close: Decimal | None = None  # last close of the previous trading day
    day_close: Decimal | None = None  # close of the latest bar of the current day
    current_day: date | None = None
    day_index = 0
    for line_no, when, o, h, lo, c, vol, pre, amount, name in data:
        if prev_when is not None and when <= prev_when:
            raise BarFileError(
                f"{path}:{line_no}: {when} is not after the previous row "
                f"{prev_when}; rows must be in time order"
            )
        prev_when = when
        if isinstance(when, datetime):
            moment = when.replace(tzinfo=tz)
            day = when.date()
        else:
            day = when
            moment = close_time(inst.market, day)
        if day != current_day:
            if current_day is not None:
                prev_close = day_close
                day_index += 1
            current_day = day
        day_close = c
        if vol == 0:
            continue  # a suspension placeholder, not a trade
        listing_day = day_index + 1 if starts_at_listing and day_index < 5 else None
        prefix = _prefix(name) if name else ""
        if prefix.startswith("N"):
            listing_day = 1  # N marks a (re)listing day, traded without a price limit
        # The first day under the share-structure reform's G prefix was traded without a
        # price limit (SOURCES.md §5); later G days, e.g. after DRG, are ordinary days.
        reform_day = "G" in prefix and not seen_reform
        seen_reform = seen_reform or "G" in prefix
        status = _status(name, listing_day, reform_day)
        bars.append(
            Bar(
                inst.symbol,
                moment,
                day,
                o,
                h,
                lo,
                c,
                vol * scale,
                amount,
                pre if pre is not None else prev_close,
                status,
                name,
            )
        )
    return series


def load_bar_files(
    paths: Iterable[Path],
    instruments: InstrumentRegistry,
    volume_unit: VolumeUnit = VolumeUnit.AUTO,
) -> list[BarSeries]:
    out: list[BarSeries] = []
    for path in paths:
        out.extend(load_bar_file(path, instruments, volume_unit))
    seen: dict[str, Path] = {}
    for s in out:
        if s.symbol in seen:
            raise BarFileError(
                f"{s.source}: {s.symbol} is also in {seen[s.symbol]}; replay one file per symbol"
            )
        seen[s.symbol] = s.source
    return out


def merge(
    series: Iterable[BarSeries], start: date | None = None, end: date | None = None
) -> Iterator[Bar]:
    """All bars of all series in time order (ties: in series order).

    Bars are bucketed by their time rather than heap-merged: a universe of daily series shares
    one label per day, so this costs a dict append per bar and a sort of the distinct times.
    Appending series by series keeps the bars of one moment in series order. Aware times of
    different zones that name the same instant share a bucket, as they compare equal.
    """
    at: dict[datetime, list[Bar]] = {}
    for s in series:
        for bar in s.bars:
            day = bar.trading_day
            if start is not None and day < start:
                continue
            if end is not None and day > end:
                break
            bucket = at.get(bar.time)
            if bucket is None:
                at[bar.time] = [bar]
            else:
                bucket.append(bar)
    return chain.from_iterable(at[moment] for moment in sorted(at))
