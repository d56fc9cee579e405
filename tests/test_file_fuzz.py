"""Malformed bar and orders files, generated: each is refused with one line naming the file
and the line (exit status 2), or read — never a traceback, and quickly.

Each example starts from a few real rows (shared/data/real) and breaks them the ways files
break: a cell replaced by anything (nan, inf, 1e999999, '²', a date with trailing text, text),
bytes in another encoding, a row cut short, NUL bytes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepalpha.app.cli import main
from deepalpha.engine.backtest.scripted import OrdersFileError, load_orders
from deepalpha.engine.feeds.csv_replay import BarFileError, load_bar_file
from deepalpha.engine.markets.instruments import InstrumentRegistry

ROWS = 6
NASTY = st.sampled_from(
    ["nan", "NaN", "inf", "-inf", "1e999999", "1e30", "-1", "0", "²", "１２", "", " ", "x",
     "2023-08-16xyz", "2023-13-40", "1,5", "0x10", "1_000", "\u00a0", "１０:３０", "9" * 40]
)  # fmt: skip
CELL = st.one_of(NASTY, st.text(max_size=12))
ENCODED = st.sampled_from(["gbk", "utf-16", "latin-1"])
LINE_MESSAGE = re.compile(r"^(?P<path>.+?):(?P<line>\d+): \S")


def _rows(path: Path, n: int) -> list[str]:
    return path.read_text("utf-8").splitlines()[: n + 1]


@st.composite
def broken(draw: st.DrawFn, lines: list[str]) -> bytes:
    rows = [line.split(",") for line in lines]
    how = draw(st.sampled_from(["cell", "cells", "encoding", "short", "nul", "extra"]))
    r = draw(st.integers(1, len(rows) - 1))
    if how in ("cell", "cells"):
        for _ in range(1 if how == "cell" else draw(st.integers(2, 5))):
            row = rows[draw(st.integers(1, len(rows) - 1))]
            row[draw(st.integers(0, len(row) - 1))] = draw(CELL).replace(",", ";")
    elif how == "short":
        rows[r] = rows[r][: draw(st.integers(0, len(rows[r]) - 1))]
    elif how == "extra":
        rows[r] = [*rows[r], draw(CELL).replace(",", ";")]
    text = "\n".join(",".join(row) for row in rows) + "\n"
    if how == "encoding":
        head, _, tail = text.partition("\n")
        return (head + "\n").encode() + ("名称 " + tail).encode(draw(ENCODED), errors="replace")
    if how == "nul":
        return text.encode().replace(b"\n", b"\n\0", 1)
    return text.encode()


FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=1),  # a broken file is answered at once, not after minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("name", ["a_600519_daily_2023-08.csv", "a_600519_5min_2026.csv"])
def test_a_broken_bar_file_is_one_line_naming_file_and_line(
    name: str, real_data: Path, tmp_path: Path
) -> None:
    lines = _rows(real_data / name, ROWS)
    path = tmp_path / name

    @FUZZ
    @given(broken(lines))
    def check(data: bytes) -> None:
        path.write_bytes(data)
        try:
            load_bar_file(path, InstrumentRegistry.default())
        except BarFileError as exc:
            message = str(exc)
            assert "\n" not in message, message
            found = LINE_MESSAGE.match(message)
            assert found and found["path"] == str(path), message
            assert 1 <= int(found["line"]) <= ROWS + 2, message

    check()


ORDERS = [
    "date,symbol,side,quantity,type,limit_price",
    "2023-08-14,600519,buy,100,market,",
    "2023-08-15,600519,sell,100,limit,1800.00",
    "2023-08-16,600519,buy,200,limit,1790.5",
    "2023-08-17,600519,sell,100,market,",
]


def test_a_broken_orders_file_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"

    @FUZZ
    @given(broken(ORDERS))
    def check(data: bytes) -> None:
        path.write_bytes(data)
        try:
            load_orders(path)
        except OrdersFileError as exc:
            message = str(exc)
            assert "\n" not in message, message
            found = LINE_MESSAGE.match(message)
            assert found and found["path"] == str(path), message

    check()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"date,code,open,high,low,close,volume\n2023-08-14,600519,1,1,1,1,nan\n", "volume"),
        (b"date,code,open,high,low,close,volume\n2023-08-14x,600519,1,1,1,1,5\n", "date"),
        (b"date,code,open,high,low,close,volume\n2023-08-14,600519,1,1,1,1,1e999999\n", "range"),
        ("date,code,open,high,low,close,volume\n2023-08-14,600519,名称,1,1,1,5\n".encode("gbk"),
         "UTF-8"),
    ],
)  # fmt: skip
def test_the_command_exits_2_with_the_line(
    body: bytes, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(body)
    argv = ["backtest", "--data", str(path), "--cash", "100000", "--strategy", "sma_cross"]
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"deepalpha: error: {path}:2: ") and says in err, err
    assert len(err.splitlines()) == 1
