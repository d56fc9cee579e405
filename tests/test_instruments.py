"""Instrument reference data: HK board lots come from data, never a constant (SPEC §3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from deepalpha.engine.markets.instruments import (
    Board,
    InstrumentFileError,
    InstrumentRegistry,
    Kind,
    UnknownInstrument,
)
from deepalpha.engine.markets.symbols import Market, SymbolError


@pytest.fixture
def registry() -> InstrumentRegistry:
    return InstrumentRegistry.default()


# HKEX board lots per stock (HKEX securities list): 00700 100, 09988 100, 00005 400,
# 00941 500, 01211 500.
@pytest.mark.parametrize(
    ("alias", "symbol", "lot"),
    [
        ("00700.HK", "00700.HK", 100),
        ("9988.HK", "09988.HK", 100),
        ("HK.00005", "00005.HK", 400),
        ("941.HK", "00941.HK", 500),
        ("hk01211", "01211.HK", 500),
    ],
)
def test_reference_board_lots(
    registry: InstrumentRegistry, alias: str, symbol: str, lot: int
) -> None:
    inst = registry.get(alias)
    assert inst.symbol == symbol
    assert inst.board_lot == lot
    assert (inst.market, inst.currency, inst.board) == (Market.HK, "HKD", Board.HK_MAIN)


def test_reference_a_shares(registry: InstrumentRegistry) -> None:
    moutai = registry.get("sh600519")
    assert (moutai.symbol, moutai.board_lot, moutai.board) == ("600519.SH", 100, Board.MAIN)
    assert moutai.listed == date(2001, 8, 27)
    assert registry.get("688981").board_lot == 200
    assert registry.get("510300").kind is Kind.FUND
    assert registry.get("600518.SH").st is True


def test_unknown_a_share_is_built_from_its_code(registry: InstrumentRegistry) -> None:
    """An A-share's lot and board are rules of its code, so no reference row is needed."""
    inst = registry.get("301999")
    assert (inst.symbol, inst.board, inst.board_lot, inst.currency) == (
        "301999.SZ",
        Board.CHINEXT,
        100,
        "CNY",
    )


def test_unknown_hk_symbol_asks_for_the_board_lot(registry: InstrumentRegistry) -> None:
    with pytest.raises(UnknownInstrument) as info:
        registry.get("HK.09999")
    message = str(info.value)
    assert "09999.HK" in message
    assert "board lot" in message
    assert "--instruments FILE" in message
    assert registry.find("09999.HK") is None


def test_bad_symbol_is_a_symbol_error(registry: InstrumentRegistry) -> None:
    with pytest.raises(SymbolError, match="'TSLA' is not a symbol"):
        registry.get("TSLA")
    assert registry.find("TSLA") is None


def test_loading_an_instruments_file_adds_lots(
    registry: InstrumentRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "extra.csv"
    path.write_text(
        "# extra HK stocks\n"
        "symbol,name,name_en,board_lot\n"
        "9999.HK,网易-S,NetEase,100\n"
        "\n"
        "HK.00016,新鸿基地产,SHK Properties,500\n",
        "utf-8",
    )
    before = len(registry)
    assert registry.load_file(path) == 2
    assert len(registry) == before + 2
    assert registry.get("09999.HK").board_lot == 100
    assert registry.get("16.HK").board_lot == 500
    assert registry.get("16.HK").name_en == "SHK Properties"


def test_a_file_may_override_a_lot(registry: InstrumentRegistry, tmp_path: Path) -> None:
    path = tmp_path / "lots.csv"
    path.write_text("symbol,board_lot\n00005.HK,800\n", "utf-8")
    registry.load_file(path)
    assert registry.get("00005.HK").board_lot == 800


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("symbol,board_lot\n09999.HK,100\n09998.HK,lots\n", 3, "board_lot"),
        ("symbol,board_lot\n# a comment\n\n09999.HK,0\n", 4, "board_lot must be a positive"),
        ("symbol,board_lot\n09999.HK,100\nXYZ,100\n", 3, "'XYZ' is not a symbol"),
        ("symbol,board_lot\n09999.HK\n", 2, "board_lot"),
        ("symbol,board_lot,listed\n09999.HK,100,yesterday\n", 2, "yesterday"),
    ],
)
def test_a_bad_file_names_file_and_line(
    registry: InstrumentRegistry, tmp_path: Path, body: str, line: int, fragment: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, "utf-8")
    with pytest.raises(InstrumentFileError) as info:
        registry.load_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert fragment in message


def test_a_file_without_the_lot_column_is_refused(
    registry: InstrumentRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "nolot.csv"
    path.write_text("symbol,name\n09999.HK,NetEase\n", "utf-8")
    with pytest.raises(InstrumentFileError, match=r"nolot\.csv: missing column\(s\) board_lot"):
        registry.load_file(path)


def test_a_missing_file_is_named(registry: InstrumentRegistry, tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"
    with pytest.raises(InstrumentFileError, match=r"absent\.csv: cannot read"):
        registry.load_file(path)
