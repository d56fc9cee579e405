"""Canonical symbols, the aliases traders type, and board inference (SPEC §3, Markets)."""

from __future__ import annotations

import pytest

from deepalpha.engine.markets.instruments import Board, Kind, a_share, board_of, kind_of
from deepalpha.engine.markets.symbols import (
    Exchange,
    Market,
    SymbolError,
    infer_a_exchange,
    market_of,
    normalize,
    split,
)


# SPEC §3: canonical 600519.SH, 000001.SZ, 300750.SZ, 688981.SH, 00700.HK; accept sh600519,
# 600519, SH.600519, 700.HK, 0700.HK, HK.00700.
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("600519.SH", "600519.SH"),
        ("sh600519", "600519.SH"),
        ("SH600519", "600519.SH"),
        ("600519", "600519.SH"),
        ("SH.600519", "600519.SH"),
        ("sh.600519", "600519.SH"),
        ("600519.SS", "600519.SH"),  # Yahoo's suffix for Shanghai
        ("600519.sh", "600519.SH"),
        ("  600519.SH  ", "600519.SH"),
        ("000001", "000001.SZ"),
        ("sz000001", "000001.SZ"),
        ("SZ.000001", "000001.SZ"),
        ("300750", "300750.SZ"),
        ("688981", "688981.SH"),
        ("510300", "510300.SH"),
        ("159915", "159915.SZ"),
        ("830799", "830799.BJ"),
        ("430047", "430047.BJ"),
        ("bj830799", "830799.BJ"),
        ("00700.HK", "00700.HK"),
        ("700.HK", "00700.HK"),
        ("0700.HK", "00700.HK"),
        ("HK.00700", "00700.HK"),
        ("hk00700", "00700.HK"),
        ("700", "00700.HK"),
        ("9988.hk", "09988.HK"),
    ],
)
def test_aliases_normalize_to_the_canonical_symbol(text: str, canonical: str) -> None:
    assert normalize(text) == canonical


def test_beijing_92_codes_are_bse_not_sse() -> None:
    """BSE moved new listings to 920xxx codes (BSE notice, 2024-10); SPEC §3 lists 92xxxx under
    Beijing, while SSE's 900xxx B shares stay in Shanghai."""
    assert normalize("920002") == "920002.BJ"
    assert infer_a_exchange("920002") is Exchange.BJ
    assert normalize("900901") == "900901.SH"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty symbol"),
        ("   ", "empty symbol"),
        ("AAPL", "'AAPL' is not a symbol"),
        ("600519.XX", "'600519.XX' is not a symbol"),
        ("6005199", "'6005199' is not a symbol"),
        ("123456.HK", "a Hong Kong code has at most 5 digits"),
        ("60051.SH", "an A-share code has 6 digits"),
        ("HK.123456", "'HK.123456': a Hong Kong code has at most 5 digits"),
        ("700000", "cannot tell the exchange of A-share code '700000'"),
    ],
)
def test_bad_input_says_what_was_not_understood(text: str, fragment: str) -> None:
    with pytest.raises(SymbolError) as info:
        normalize(text)
    assert fragment in str(info.value)


def test_symbol_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a symbol"):
        normalize("tencent")


def test_split_and_market_of() -> None:
    assert split("600519.SH") == ("600519", Exchange.SH)
    assert split("00700.HK") == ("00700", Exchange.HK)
    assert market_of("00700.HK") is Market.HK
    assert market_of("600519.SH") is Market.CN
    assert market_of("830799.BJ") is Market.CN


# SPEC §3 boards by code: main (60xxxx, 00xxxx), ChiNext (300xxx, 301xxx), STAR (688xxx,
# 689xxx), Beijing (8xxxxx, 4xxxxx, 92xxxx).
@pytest.mark.parametrize(
    ("symbol", "board"),
    [
        ("600519.SH", Board.MAIN),
        ("601318.SH", Board.MAIN),
        ("603288.SH", Board.MAIN),
        ("605499.SH", Board.MAIN),
        ("000001.SZ", Board.MAIN),
        ("002594.SZ", Board.MAIN),  # the former SME board merged into the main board 2021-04-06
        ("300750.SZ", Board.CHINEXT),
        ("301269.SZ", Board.CHINEXT),
        ("688981.SH", Board.STAR),
        ("689009.SH", Board.STAR),
        ("830799.BJ", Board.BEIJING),
        ("430047.BJ", Board.BEIJING),
        ("920002.BJ", Board.BEIJING),
        ("00700.HK", Board.HK_MAIN),
    ],
)
def test_board_inference(symbol: str, board: Board) -> None:
    code, exchange = split(symbol)
    assert board_of(code, exchange) is board


def test_a_share_built_from_code_has_the_board_rules() -> None:
    star = a_share(normalize("688981"))
    assert (star.board, star.board_lot, star.currency) == (Board.STAR, 200, "CNY")
    main = a_share(normalize("600519"))
    assert (main.board, main.board_lot, main.market) == (Board.MAIN, 100, Market.CN)
    with pytest.raises(ValueError, match="not an A-share"):
        a_share("00700.HK")


def test_funds_are_recognised_from_the_code() -> None:
    """SSE funds 5xxxxx, SZSE funds 15xxxx/16xxxx/18xxxx quote in ¥0.001."""
    assert kind_of("510300", Exchange.SH) is Kind.FUND
    assert kind_of("159915", Exchange.SZ) is Kind.FUND
    assert kind_of("600519", Exchange.SH) is Kind.STOCK
    assert kind_of("000001", Exchange.SZ) is Kind.STOCK
