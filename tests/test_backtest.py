"""`deepalpha backtest`: sma_cross on every real file, the report, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from deepalpha.app.cli import cli, main
from deepalpha.engine.backtest.report import build_report
from deepalpha.engine.backtest.runner import BacktestConfig, run_backtest
from deepalpha.engine.backtest.strategies import SmaCross
from deepalpha.engine.feeds.csv_replay import load_bar_files
from deepalpha.engine.markets.fees import FEE_ITEMS
from deepalpha.engine.markets.instruments import InstrumentRegistry

REAL_FILES = sorted(
    p.name for p in (Path(__file__).resolve().parents[2] / "shared" / "data" / "real").glob("*.csv")
)


def _backtest(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "report.json"
    code = main(["backtest", "--quiet", "--cash", "10000000", *args, "--json", str(out)])
    assert code == 0
    return json.loads(out.read_text("utf-8"))


@pytest.mark.parametrize("name", REAL_FILES)
def test_sma_cross_runs_on_every_real_file(tmp_path: Path, real_data: Path, name: str) -> None:
    report = _backtest(
        tmp_path,
        "--data",
        str(real_data / name),
        "--strategy",
        "sma_cross",
        "--param",
        "fast=5",
        "--param",
        "slow=20",
        "--param",
        "qty=1000",
    )
    s = report["summary"]
    assert s["bars"] > 0 and s["symbols"] == 1
    fills, equity = report["fills"], report["equity"]
    # The report reconciles: fees total = Σ fill fees = Σ of the seven items.
    total = sum((Decimal(f["fees_total"]) for f in fills), Decimal(0))
    assert Decimal(s["fees_total"]) == total
    for f in fills:
        assert set(f["fees"]) == set(FEE_ITEMS)
        assert sum(Decimal(v) for v in f["fees"].values()) == Decimal(f["fees_total"])
        assert Decimal(f["amount"]) == Decimal(f["price"]) * f["quantity"]
    # Final equity = the last equity point; each point is cash + market value.
    assert equity[-1]["equity"] == s["final_equity"]
    for point in equity:
        assert Decimal(point["cash"]) + Decimal(point["market_value"]) == Decimal(point["equity"])
    assert s["trades"] == len(fills)
    # Cash reconciles with fills: initial − Σ buys − fees + Σ sells = final cash.
    cash = Decimal(s["initial_cash"])
    for f in fills:
        sign = -1 if f["side"] == "buy" else 1
        cash += sign * Decimal(f["amount"]) - Decimal(f["fees_total"])
    assert cash.quantize(Decimal("0.01")) == Decimal(equity[-1]["cash"])
    for o in report["orders"]:
        assert o["status"] in {"filled", "rejected", "expired"}
        assert (o["reject_code"] is None) == (o["status"] == "filled")


def test_moutai_sma_cross_figures(tmp_path: Path, real_data: Path) -> None:
    """Pinned figures for 600519 (2001–2022): a change here is a change in the rules."""
    s = _backtest(
        tmp_path,
        "--data",
        str(real_data / "a_600519_daily.csv"),
        "--strategy",
        "sma_cross",
        "--param",
        "fast=5",
        "--param",
        "slow=20",
        "--param",
        "qty=1000",
    )["summary"]
    assert (s["start"], s["end"], s["bars"]) == ("2001-08-27", "2022-01-14", 4874)
    assert s["final_equity"] == "11548691.45"
    assert s["trades"] == 286
    assert s["fees_total"] == "91278.55"


def _bars(tmp_path: Path, closes: list[str], opens: list[str] | None = None) -> Path:
    path = tmp_path / "bars.csv"
    lines = ["date,code,open,high,low,close,volume"]
    days = [
        f"2024-03-{d:02d}"
        for d in (4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 18, 19, 20, 21, 22, 25, 26, 27, 28, 29)
    ]
    for i, c in enumerate(closes):
        o = opens[i] if opens else c
        hi, lo = max(Decimal(o), Decimal(c)), min(Decimal(o), Decimal(c))
        lines.append(f"{days[i]},600000,{o},{hi},{lo},{c},1000000")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_sma_cross_signals_at_close_and_trades_next_open(tmp_path: Path) -> None:
    # fast=2, slow=3. Closes fall, then rise: SMA2 crosses above SMA3 at the close of bar 5
    # (index 4) and the buy fills at bar 6's open; then they cross below at bar 9's close and
    # the sell fills at bar 10's open.
    closes = [
        "10.00",
        "9.90",
        "9.80",
        "9.70",
        "10.20",
        "10.60",
        "10.80",
        "10.40",
        "9.60",
        "9.50",
        "9.40",
    ]
    opens = [
        "10.00",
        "9.95",
        "9.85",
        "9.75",
        "9.90",
        "10.30",
        "10.70",
        "10.70",
        "10.30",
        "9.55",
        "9.45",
    ]
    registry = InstrumentRegistry.default()
    series = load_bar_files([_bars(tmp_path, closes, opens)], registry)
    result = run_backtest(
        series,
        BacktestConfig(cash=Decimal(1_000_000)),
        registry,
        strategy=SmaCross(fast=2, slow=3, qty=1050),
    )
    buy, sell = result.fills
    assert (buy.side, buy.trading_day.isoformat(), buy.price, buy.quantity) == (
        "buy",
        "2024-03-11",
        Decimal("10.30"),
        1000,
    )  # 1050 rounded down to the lot
    assert (sell.side, sell.trading_day.isoformat(), sell.price, sell.quantity) == (
        "sell",
        "2024-03-15",
        Decimal("9.55"),
        1000,
    )
    report = build_report(result)
    assert report["summary"]["round_trips"] == 1
    assert report["summary"]["win_rate"] == "0.000000"
    assert report["summary"]["profit_factor"] == "0.000000"  # one trip, a loss
    # Realized P&L net of fees = what the cash lost.
    assert result.final_equity - result.initial_cash == sell.realized_pnl


def test_ties_count_as_not_above(tmp_path: Path) -> None:
    # Constant closes make SMA(fast) == SMA(slow): a difference of exactly 0 is "≤ 0", so the
    # first rise above it is a cross (previous ≤ 0 < current) and buys.
    closes = ["10.00"] * 6 + ["10.50", "10.60"]
    registry = InstrumentRegistry.default()
    series = load_bar_files([_bars(tmp_path, closes)], registry)
    result = run_backtest(
        series,
        BacktestConfig(cash=Decimal(1_000_000)),
        registry,
        strategy=SmaCross(fast=2, slow=3, qty=100),
    )
    assert [f.trading_day.isoformat() for f in result.fills] == ["2024-03-13"]


def test_start_and_end_limit_the_run(tmp_path: Path, real_data: Path) -> None:
    s = _backtest(
        tmp_path,
        "--data",
        str(real_data / "a_600519_daily.csv"),
        "--start",
        "2020-01-01",
        "--end",
        "2020-12-31",
        "--strategy",
        "sma_cross",
    )["summary"]
    assert s["start"] == "2020-01-02" and s["end"] == "2020-12-31"
    assert s["bars"] == 243


def test_mixed_markets_report_in_cny(tmp_path: Path, real_data: Path) -> None:
    report = _backtest(
        tmp_path,
        "--data",
        str(real_data / "a_600519_daily.csv"),
        str(real_data / "hk_00700_daily.csv"),
        "--start",
        "2019-01-01",
        "--strategy",
        "sma_cross",
        "--param",
        "qty=100",
    )
    s = report["summary"]
    assert s["currency"] == "CNY" and s["symbols"] == 2
    # 10,000,000 CNY + 10,000,000 HKD at the default 0.92 CNY per HKD.
    assert s["initial_cash"] == "19200000.00"
    assert {f["currency"] for f in report["fills"]} == {"CNY", "HKD"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "/nonexistent.csv", "--strategy", "sma_cross"], "cannot open"),
        (
            ["--data", "{real}/a_600519_daily.csv", "--strategy", "macd"],
            "unknown strategy 'macd'; available: sma_cross",
        ),
        (
            [
                "--data",
                "{real}/a_600519_daily.csv",
                "--strategy",
                "sma_cross",
                "--param",
                "fast=30",
            ],
            "sma_cross needs 0 < fast < slow, got fast=30 slow=20",
        ),
        (
            [
                "--data",
                "{real}/a_600519_daily.csv",
                "--strategy",
                "sma_cross",
                "--param",
                "speed=3",
            ],
            "sma_cross has no parameter 'speed'",
        ),
        (
            [
                "--data",
                "{real}/a_600519_daily.csv",
                "--strategy",
                "sma_cross",
                "--start",
                "2030-01-01",
            ],
            "no bars between --start and --end",
        ),
        (
            [
                "--data",
                "{real}/a_600519_daily.csv",
                "--strategy",
                "sma_cross",
                "--end",
                "2020-13-01",
            ],
            "'2020-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            ["--data", "{real}/a_600519_daily.csv", "--strategy", "sma_cross", "--cash", "lots"],
            "'lots' is not a number",
        ),
        (
            ["--data", "{real}/a_600519_daily.csv", "--strategy", "sma_cross", "--cash", "-5"],
            "'-5' must be a positive number",
        ),
        (
            ["--data", "{real}/a_600519_daily.csv", "--strategy", "sma_cross", "--param", "fast"],
            "'fast': write parameters as name=value",
        ),
        (
            ["--data", "{real}/a_600519_daily.csv", "--strategy", "sma_cross", "--orders", "o.csv"],
            "--orders is not allowed with --strategy",
        ),
        (
            ["--data", "{real}/a_600519_daily.csv"],
            "one of --strategy, --orders or --trader is required",
        ),
        (
            ["--data", "{real}/a_600519_daily.csv", "--orders", "/nonexistent/orders.csv"],
            "/nonexistent/orders.csv: cannot open",
        ),
    ],
)
def test_bad_input_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], real_data: Path, args: list[str], message: str
) -> None:
    args = [a.replace("{real}", str(real_data)) for a in args]
    code = main(["backtest", "--quiet", "--cash", "1000000", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_console_script_prints_summary(tmp_path: Path, real_data: Path) -> None:
    exe = Path(sys.executable).with_name("deepalpha")
    proc = subprocess.run(
        [
            str(exe),
            "backtest",
            "--data",
            str(real_data / "a_600519_daily_2023-08.csv"),
            "--cash",
            "1000000",
            "--strategy",
            "sma_cross",
            "--param",
            "fast=2",
            "--param",
            "slow=5",
            "--param",
            "qty=100",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Final equity" in proc.stdout and "Sharpe" in proc.stdout


# --- orders of one bar, in sequence -------------------------------------------------------------


def _scripted(tmp_path: Path, bar_file: Path, orders_csv: str) -> list:
    from deepalpha.engine.backtest.scripted import load_orders

    registry = InstrumentRegistry.default()
    orders = tmp_path / "orders.csv"
    orders.write_text(orders_csv, "utf-8")
    result = run_backtest(
        load_bar_files([bar_file], registry),
        BacktestConfig(cash=Decimal(10_000_000)),
        registry,
        scripted=load_orders(orders),
    )
    return sorted(result.orders, key=lambda o: int(o.id))


def test_a_share_same_bar_round_trip_is_t_plus_one(tmp_path: Path, real_data: Path) -> None:
    # 600519 on 2021-03-01 opened at 2179: the buy fills there first, so the sell that follows
    # on the same daily bar finds 100 shares held, none sellable until the next trading day.
    buy, sell = _scripted(
        tmp_path,
        real_data / "a_600519_daily.csv",
        "date,symbol,side,quantity\n2021-03-01,600519,buy,100\n2021-03-01,600519,sell,100\n",
    )
    assert (buy.status, buy.avg_price) == ("filled", Decimal("2179"))
    assert (sell.status, sell.reject_code) == ("rejected", "T_PLUS_ONE")
    assert sell.reject_reason == (
        "sell 100 600519.SH: only 0 sellable today; what was bought today (100 shares) becomes "
        "sellable on the next trading day (T+1)"
    )


def test_hk_same_bar_round_trip_fills_both_legs(tmp_path: Path, real_data: Path) -> None:
    # 00700 on 2020-06-02 opened at 436; Hong Kong settles T+2 but trades T+0.
    buy, sell = _scripted(
        tmp_path,
        real_data / "hk_00700_daily.csv",
        "date,symbol,side,quantity\n2020-06-02,00700.HK,buy,100\n2020-06-02,00700.HK,sell,100\n",
    )
    assert (buy.status, buy.avg_price) == ("filled", Decimal("436"))
    assert (sell.status, sell.avg_price) == ("filled", Decimal("436"))


def test_resting_orders_match_before_the_bars_new_orders(tmp_path: Path, real_data: Path) -> None:
    # A limit buy at 596 placed on the 09:30 bar (low 599) rests; the 09:31 bar reaches 596.
    # It was there first, so it fills before the 09:31 market sell is checked, which then
    # finds the 100 shares and sells them at that bar's open, 598.
    buy, sell = _scripted(
        tmp_path,
        real_data / "hk_00700_1min_2020-11-23_2020-12-23.csv",
        "datetime,symbol,side,quantity,type,limit_price\n"
        "2020-11-23 09:30:00,00700.HK,buy,100,limit,596\n"
        "2020-11-23 09:31:00,00700.HK,sell,100,market,\n",
    )
    assert (buy.status, buy.avg_price) == ("filled", Decimal("596"))
    assert (sell.status, sell.avg_price) == ("filled", Decimal("598"))


def test_sizes_the_board_lot_rounds_are_noted_and_below_a_lot_refused(
    tmp_path: Path, real_data: Path
) -> None:
    from deepalpha.engine.backtest.strategies import StrategyError

    registry = InstrumentRegistry.default()
    series = load_bar_files([real_data / "a_600519_daily_2023-08.csv"], registry)
    config = BacktestConfig(cash=Decimal(10_000_000))
    result = run_backtest(series, config, registry, strategy=SmaCross(fast=2, slow=5, qty=150))
    assert result.notes == [
        "sma_cross: qty=150 buys 100 shares of 600519.SH (rounded down to its board lot of 100)"
    ]
    assert build_report(result)["summary"]["notes"] == result.notes
    assert run_backtest(series, config, registry, strategy=SmaCross(qty=200)).notes == []
    with pytest.raises(StrategyError, match=r"qty=99 is less than one board lot of 600519\.SH"):
        run_backtest(series, config, registry, strategy=SmaCross(qty=99))


# --- through the command: same-bar sequences, rounded sizes, unknown codes ----------------------


def _command(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["backtest", "--quiet", *(str(a) for a in args)])


def _orders(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(text, "utf-8")
    return path


def test_a_share_same_bar_sell_is_t_plus_one_in_the_report(tmp_path: Path, real_data: Path) -> None:
    orders = _orders(
        tmp_path,
        "date,symbol,side,quantity,type\n"
        "2023-08-14,600519,buy,100,market\n"
        "2023-08-14,600519,sell,100,market\n",
    )
    out = tmp_path / "report.json"
    result = _command(
        "--data", real_data / "a_600519_daily_2023-08.csv", "--cash", "1000000",
        "--orders", orders, "--json", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text("utf-8"))
    buy, sell = report["orders"]
    assert (buy["status"], buy["filled_quantity"]) == ("filled", 100)
    assert (sell["status"], sell["reject_code"]) == ("rejected", "T_PLUS_ONE")
    assert (
        "what was bought today (100 shares) becomes sellable on the next trading day"
        in sell["reject_reason"]
    )
    assert [f["side"] for f in report["fills"]] == ["buy"]
    assert "T_PLUS_ONE 1" in result.stdout


def test_hk_same_bar_round_trip_fills_twice_in_the_report(tmp_path: Path, real_data: Path) -> None:
    orders = _orders(
        tmp_path,
        "date,symbol,side,quantity\n2020-06-02,00700.HK,buy,100\n2020-06-02,00700.HK,sell,100\n",
    )
    out = tmp_path / "report.json"
    result = _command(
        "--data", real_data / "hk_00700_daily.csv", "--cash", "1000000",
        "--orders", orders, "--json", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text("utf-8"))
    assert [o["status"] for o in report["orders"]] == ["filled", "filled"]
    fills = report["fills"]
    assert [(f["side"], f["quantity"], f["price"]) for f in fills] == [
        ("buy", 100, "436"),
        ("sell", 100, "436"),
    ]
    assert report["summary"]["round_trips"] == 1


def test_a_quantity_the_board_lot_rounds_is_reported(tmp_path: Path, real_data: Path) -> None:
    out = tmp_path / "report.json"
    result = _command(
        "--data", real_data / "hk_00005_daily.csv", "--cash", "1000000", "--start", "2020-01-01",
        "--strategy", "sma_cross", "--param", "qty=1000", "--json", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    note = "sma_cross: qty=1000 buys 800 shares of 00005.HK (rounded down to its board lot of 400)"
    assert f"note: {note}" in " ".join(result.stdout.split())
    report = json.loads(out.read_text("utf-8"))
    assert report["summary"]["notes"] == [note]
    buys = [f["quantity"] for f in report["fills"] if f["side"] == "buy"]
    assert buys and set(buys) == {800}


def test_a_quantity_below_one_lot_names_the_lot(real_data: Path) -> None:
    result = _command(
        "--data", real_data / "hk_00005_daily.csv", "--cash", "1000000",
        "--strategy", "sma_cross", "--param", "qty=300",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "deepalpha: error: sma_cross: qty=300 is less than one board lot of 00005.HK "
        "(400 shares); give qty=400 or more"
    )


def test_an_unknown_code_in_a_bar_file_names_file_line_and_code(tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    bars.write_text(
        "date,code,open,high,low,close,volume\n"
        "2024-01-02,00700,300,310,290,305,1000\n"
        "2024-01-02,01234,10,11,9,10.5,1000\n"
        "2024-01-03,01234,10,11,9,10.5,1000\n",
        "utf-8",
    )
    result = _command("--data", bars, "--cash", "1000000", "--strategy", "sma_cross")
    assert result.exit_code == 2
    err = " ".join(result.stderr.split())
    assert err.startswith(f"deepalpha: error: {bars}:3: code '01234': the board lot of 01234.HK")
    assert "--instruments FILE" in err
    extra = tmp_path / "instruments.csv"
    extra.write_text("symbol,name,name_en,board_lot\n01234.HK,Test,Test,2000\n", "utf-8")
    result = _command(
        "--data", bars, "--cash", "1000000", "--strategy", "sma_cross", "--param", "qty=2000",
        "--instruments", extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "2021-03-01,01234.HK,buy,100",
            "symbol 01234.HK is not in the instrument data and has no bars in --data (it has "
            "600519.SH): add its bar file to --data and a line "
            "'01234.HK,<name>,<name_en>,<board_lot>' to a CSV given with --instruments FILE",
        ),
        (
            "2021-03-01,000001,buy,100",
            "symbol 000001.SZ has no bars in --data (it has 600519.SH); add its bar file to --data",
        ),
    ],
)
def test_orders_for_a_symbol_without_bars_name_file_and_line(
    tmp_path: Path, real_data: Path, line: str, message: str
) -> None:
    orders = _orders(tmp_path, f"date,symbol,side,quantity\n2021-03-01,600519,buy,100\n{line}\n")
    result = _command(
        "--data", real_data / "a_600519_daily.csv", "--cash", "1000000", "--orders", orders
    )
    assert result.exit_code == 2
    assert " ".join(result.stderr.split()) == f"deepalpha: error: {orders}:3: {message}"


@pytest.mark.parametrize("where", ["before", "after"])
def test_data_dir_chooses_the_settings_a_backtest_reads(
    tmp_path: Path, real_data: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.delenv("DEEPALPHA_CONFIG")  # the tests' guard against the developer's own
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.toml").write_text("[fees]\ncn_commission_min = 50\n", "utf-8")
    orders = _orders(tmp_path, "date,symbol,side,quantity\n2023-08-14,600519,buy,100\n")
    out = tmp_path / "report.json"
    args = [
        "backtest", "--quiet", "--data", str(real_data / "a_600519_daily_2023-08.csv"),
        "--cash", "1000000", "--orders", str(orders), "--json", str(out),
    ]  # fmt: skip
    given = ["--data-dir", str(data)]
    result = CliRunner().invoke(cli, [*given, *args] if where == "before" else [*args, *given])
    assert result.exit_code == 0, result.output
    [fill] = json.loads(out.read_text("utf-8"))["fills"]
    # 0.025 % of the 181,000 bought is 45.25: the ¥50 minimum of this settings file applies.
    assert Decimal(fill["amount"]) == 181000
    assert Decimal(fill["fees"]["commission"]) == 50


def test_data_files_given_after_one_flag_or_repeated(tmp_path: Path, real_data: Path) -> None:
    a, hk = real_data / "a_600519_daily_2023-08.csv", real_data / "hk_00700_daily.csv"
    orders = _orders(tmp_path, "date,symbol,side,quantity\n2023-08-14,600519,buy,100\n")
    for data in (["--data", a, hk], ["--data", a, "--data", hk]):
        out = tmp_path / "report.json"
        result = _command(*data, "--cash", "100", "--orders", orders, "--json", out)
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text("utf-8"))["summary"]["symbols"] == 2
