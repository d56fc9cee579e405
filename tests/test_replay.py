"""CSV replay of the shared real data and of broken files."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from deepalpha.engine.feeds.csv_replay import BarFileError, VolumeUnit, load_bar_file
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.rules import PriceLimitRules


@pytest.fixture(scope="module")
def registry() -> InstrumentRegistry:
    return InstrumentRegistry.default()


def _load(path: Path, registry: InstrumentRegistry, unit: VolumeUnit = VolumeUnit.AUTO):
    [series] = load_bar_file(path, registry, unit)
    return series


@pytest.mark.parametrize(
    ("name", "bars", "unit"),
    [
        ("a_600519_daily.csv", 4874, VolumeUnit.SHARES),
        # SOURCES.md §2: the 5-minute A-share files count volume in lots of 100 shares.
        ("a_600519_5min_2026.csv", 1488, VolumeUnit.LOTS),
        ("a_300766_5min_2026.csv", 1536, VolumeUnit.LOTS),
        # SOURCES.md §3: three typhoon placeholders (volume 0) and the 2016-01-07 glitch row.
        ("hk_00700_daily.csv", 1234 - 4, VolumeUnit.SHARES),
        ("hk_00005_daily.csv", 1234 - 3, VolumeUnit.SHARES),
        # SOURCES.md §4: 41 untraded minutes of 00005 are zero-volume rows.
        ("hk_00005_1min_2020-11-23_2020-12-23.csv", 7613 - 41, VolumeUnit.SHARES),
    ],
)
def test_real_files_load_with_units_and_placeholders_skipped(
    real_data: Path, registry: InstrumentRegistry, name: str, bars: int, unit: VolumeUnit
) -> None:
    series = _load(real_data / name, registry)
    assert len(series.bars) == bars
    assert series.volume_unit is unit
    assert all(b.volume > 0 for b in series.bars)


def test_lots_become_shares(real_data: Path, registry: InstrumentRegistry) -> None:
    series = _load(real_data / "a_600519_5min_2026.csv", registry)
    first = series.bars[0]
    assert first.volume == 9340 * 100  # 9340 lots
    # VWAP from amount / shares lies inside the bar (SOURCES.md §2's check).
    assert first.amount is not None
    assert first.low <= first.amount / first.volume <= first.high
    forced = _load(real_data / "a_600519_5min_2026.csv", registry, VolumeUnit.SHARES)
    assert forced.bars[0].volume == 9340


def test_intraday_pre_close_is_previous_days_last_close(
    real_data: Path, registry: InstrumentRegistry
) -> None:
    series = _load(real_data / "a_600519_5min_2026.csv", registry)
    day1 = [b for b in series.bars if b.trading_day == series.bars[0].trading_day]
    day2 = [b for b in series.bars if b.trading_day == series.bars[len(day1)].trading_day]
    assert day1[0].pre_close is None  # nothing before the file's first day
    assert {b.pre_close for b in day2} == {day1[-1].close}
    assert day1[0].time.utcoffset().total_seconds() == 8 * 3600


# SOURCES.md §5: limit price = round_half_up(pre_close × (1 ± r), 0.01), compared with the
# close. Each regime's day count and the close-at-limit counts must match the table.
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a_600519_daily.csv", {"10%": (4872, 14, 1)}),
        ("a_600518_ST_daily.csv", {"10%": (4325, 31, 32), "5% ST": (617, 94, 60)}),
        ("a_300437_daily.csv", {"10%": (1184, 46, 22), "20%": (335, 13, 2)}),
        ("a_000001_daily.csv", {"10%": (5911, 37, 14)}),
        ("a_300750_daily.csv", {"10%": (536, 14, 1), "20%": (340, 0, 0)}),
        ("a_688981_daily.csv", {"20%": (362, 0, 0)}),
        (
            "a_300064_ST_chinext_daily.csv",
            {"10%": (2425, 19, 34), "20%": (36, 6, 0), "20% ST": (293, 7, 4)},
        ),
    ],
)
def test_limit_hits_reproduce_sources_table(
    real_data: Path, registry: InstrumentRegistry, name: str, expected: dict
) -> None:
    series = _load(real_data / name, registry)
    rules = PriceLimitRules()
    counts: Counter[tuple[str, str]] = Counter()
    for bar in series.bars:
        assert bar.pre_close is not None
        ratio = rules.ratio(series.instrument, bar.trading_day, bar.status)
        if ratio is None:
            continue
        regime = f"{int(ratio * 100)}%" + (" ST" if bar.status.st else "")
        band = rules.band(series.instrument, bar.trading_day, bar.pre_close, bar.status)
        assert band is not None
        down, up = band
        counts[regime, "days"] += 1
        counts[regime, "up"] += bar.close == up
        counts[regime, "down"] += bar.close == down
    got = {r: (counts[r, "days"], counts[r, "up"], counts[r, "down"]) for r in expected}
    assert got == expected
    assert {r for r, _ in counts} == set(expected)


def _write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


HEADER = "date,code,open,high,low,close,volume\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", ":1: the file is empty"),
        ("date,code,open,high,low,close\n", ":1: missing column(s) volume"),
        ("code,open,high,low,close,volume\n", ":1: no 'date' or 'datetime' column"),
        (
            HEADER + "2024-01-02,600519,10,11,9,10.5,100\n2024-01-03,600519,10,x,9,10,100\n",
            ":3: high 'x' is not a number",
        ),
        (
            HEADER + "2024-01-02,600519,10,10.2,9,10.5,100\n",
            ":2: inconsistent bar: high 10.2 and low 9 must contain open 10 and close 10.5",
        ),
        (
            HEADER + "2024-01-02,600519,10,11,9,10.5,-5\n",
            ":2: volume '-5' must be a non-negative whole number",
        ),
        (
            HEADER + "2024-01-03,600519,10,11,9,10.5,100\n2024-01-02,600519,10,11,9,10.5,100\n",
            ":3: 2024-01-02 is not after the previous row 2024-01-03",
        ),
        (
            HEADER + "2024-13-01,600519,10,11,9,10.5,100\n",
            ":2: date '2024-13-01' is not YYYY-MM-DD",
        ),
        (HEADER + "2024-01-02,600519,10,11,9,10.5\n", ":2: 6 fields, the header has 7"),
        (HEADER + "2024-01-02,600519,0,11,0,10.5,100\n", ":2: prices must be positive"),
        (HEADER, "no bars after the header"),
    ],
)
def test_bad_files_name_file_line_and_reason(
    tmp_path: Path, registry: InstrumentRegistry, body: str, message: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(BarFileError) as err:
        load_bar_file(path, registry)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_unknown_hk_lot_says_what_to_supply(tmp_path: Path, registry: InstrumentRegistry) -> None:
    path = _write(tmp_path, HEADER + "2024-01-02,01234,10,11,9,10.5,1000\n")
    with pytest.raises(
        BarFileError, match=r"board lot of 01234\.HK is unknown.*--instruments"
    ) as err:
        load_bar_file(path, registry)
    assert str(err.value).startswith(f"{path}:2: code '01234': ")  # where, and what it read
    extra = _write(
        tmp_path, "symbol,name,name_en,board_lot\n01234.HK,Test,Test,2000\n", "instruments.csv"
    )
    registry2 = InstrumentRegistry.default()
    registry2.load_file(extra)
    [series] = load_bar_file(path, registry2)
    assert series.instrument.board_lot == 2000
    assert series.bars[0].close == Decimal("10.5")


def test_missing_file_is_a_clear_error(tmp_path: Path, registry: InstrumentRegistry) -> None:
    with pytest.raises(BarFileError, match="cannot open"):
        load_bar_file(tmp_path / "nope.csv", registry)
