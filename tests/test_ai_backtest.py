"""`deepalpha backtest --trader ai`: an AI trader replayed over real 5-minute bars of 600519
against a scripted model server on loopback (tests/fake_openai.py) — decision records, the
orders and fills they made, the report's `decisions`, the reply cache, the cost estimate and
its confirmation, keys — and the baseline model over the whole file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from deepalpha.app.cli import main
from deepalpha.engine.markets.sessions import Phase, phase_at
from deepalpha.engine.markets.symbols import Market
from tests.fake_openai import FakeOpenAI, Scripted, chat_body, closed_port, fake_openai

FILE = "a_600519_5min_2026.csv"
KEY = "sk-test-backtest-0123456789"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with an empty reply cache and no model keys from the environment."""
    monkeypatch.setenv("DEEPALPHA_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("DEEPSEEK_API_KEY", "DEEPALPHA_MODEL_DEEPSEEK_KEY", "DEEPALPHA_MODEL_CUSTOM_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def reply(reasoning: str, *decisions: dict[str, Any]) -> Scripted:
    text = f"<reasoning>{reasoning}</reasoning><decision>{json.dumps(list(decisions))}</decision>"
    return Scripted(200, chat_body(text, prompt_tokens=1200, completion_tokens=80))


def decision(action: str, quantity: int = 0, **more: Any) -> dict[str, Any]:
    return {"symbol": "600519", "action": action, "quantity": quantity, "confidence": 0.8, **more}


STOPS = {"stop_loss": 1400, "take_profit": 1800}  # 1.78 reward:risk at 1,544; never touched

# Two days at one decision an hour: 09:35, 10:35, 13:05 (the first continuous moment after
# the lunch break), 14:05.
SCRIPT = [
    reply("breakout", decision("buy", 100, **STOPS)),
    reply("add an odd lot", decision("buy", 150, **STOPS)),
    reply("take profit already", decision("sell", 100)),
    Scripted(200, chat_body("Markets are choppy; I would rather not trade.")),
    reply("exit", decision("sell", 100)),
    reply("nothing to do", decision("hold")),
    reply(
        "buy the dip",
        decision(
            "buy", 100, order_type="limit", limit_price=1500, stop_loss=1450, take_profit=1600
        ),
    ),
    reply("done for the day", {"action": "wait"}),
]
TIMES = [
    "2026-02-05T09:35:00+08:00",
    "2026-02-05T10:35:00+08:00",
    "2026-02-05T13:05:00+08:00",
    "2026-02-05T14:05:00+08:00",
    "2026-02-06T09:35:00+08:00",
    "2026-02-06T10:35:00+08:00",
    "2026-02-06T13:05:00+08:00",
    "2026-02-06T14:05:00+08:00",
]


def backtest(real: Path, out: Path | None, *args: str, cash: str = "1000000") -> int:
    argv = ["backtest", "--quiet", "--data", str(real / FILE), "--cash", cash, *args]
    return main([*argv, "--json", str(out)] if out is not None else argv)


def custom(server: FakeOpenAI, *more: str) -> list[str]:
    return [
        "--trader",
        "ai",
        "--model",
        "custom",
        "--base-url",
        server.url,
        "--model-name",
        "fake-model",
        "--start",
        "2026-02-05",
        "--end",
        "2026-02-06",
        "--interval",
        "60",
        *more,
    ]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with fake_openai(SCRIPT) as s:
        yield s


def test_replay_with_a_scripted_model(tmp_path: Path, real_data: Path, server: FakeOpenAI) -> None:
    out = tmp_path / "report.json"
    assert backtest(real_data, out, *custom(server)) == 0
    report = json.loads(out.read_text("utf-8"))

    # One request per cycle; a local endpoint with no key in the environment gets none.
    assert len(server.requests) == 8
    assert not any(r.has_authorization for r in server.requests)
    assert {r.body["model"] for r in server.requests} == {"fake-model"}
    # No look-ahead: the first prompt knows the 09:35 close (1,544) and nothing later — the
    # next bar closed at 1,536.5.
    first = server.requests[0].body["messages"][1]["content"]
    assert "Time: 2026-02-05T09:35+08:00" in first and "last 1544 " in first
    assert "1536.5" not in first

    decisions = report["decisions"]
    assert [d["cycle"] for d in decisions] == list(range(1, 9))
    assert [d["time"] for d in decisions] == TIMES
    for d in decisions:
        moment = datetime.fromisoformat(d["time"])
        assert phase_at(Market.CN, moment) is Phase.CONTINUOUS
        assert d["trader"] == "backtest" and d["model"] == "fake-model"
        # The prose reply (cycle 4) is chat_body's default usage.
        usage = (10, 5) if d["cycle"] == 4 else (1200, 80)
        assert d["tokens"] == {"prompt": usage[0], "completion": usage[1]}
        assert d["cached"] is False and d["latency_ms"] >= 0

    def act(cycle: int) -> dict[str, Any]:
        (only,) = decisions[cycle - 1]["actions"]
        return only

    # 1. A buy of 100 is placed and fills at the open of the next bar (09:40, 1,542.01).
    assert act(1) | {"reject_reason": None} == {
        "symbol": "600519.SH",
        "action": "buy",
        "quantity": 100,
        "accepted": True,
        "status": "placed",
        "reject_code": None,
        "reject_reason": None,
        "order_id": "1",
    }
    # 2. 150 shares is not a whole lot: rejected before it became an order.
    assert (act(2)["accepted"], act(2)["reject_code"], act(2)["order_id"]) == (
        False,
        "LOT_SIZE",
        None,
    )
    assert "150" in act(2)["reject_reason"] and "100" in act(2)["reject_reason"]
    # 3. Shares bought today cannot be sold today.
    assert (act(3)["accepted"], act(3)["reject_code"]) == (False, "T_PLUS_ONE")
    assert "sellable" in act(3)["reject_reason"]
    # 4. Prose only: a recorded wait, with the raw reply kept.
    assert act(4)["action"] == "wait" and act(4)["order_id"] is None
    assert decisions[3]["raw_reply"] == "Markets are choppy; I would rather not trade."
    assert decisions[3]["error"] == "the reply holds no readable decision; recorded as wait"
    # 5. The next day the shares are sellable: sold at the 09:40 open.
    assert (act(5)["status"], act(5)["order_id"]) == ("placed", "2")
    assert act(6)["action"] == "hold"
    # 7. A limit buy at 1,500 rests; the day never trades that low, so it expires at the close.
    assert (act(7)["status"], act(7)["order_id"]) == ("placed", "3")
    assert act(8)["action"] == "wait"
    assert all(d["error"] is None for d in decisions if d["cycle"] != 4)

    orders = {o["id"]: o for o in report["orders"]}
    assert [
        (o["id"], o["side"], o["type"], o["quantity"], o["status"]) for o in orders.values()
    ] == [
        ("1", "buy", "market", 100, "filled"),
        ("2", "sell", "market", 100, "filled"),
        ("3", "buy", "limit", 100, "expired"),
    ]
    assert orders["1"]["time"] == TIMES[0] and orders["2"]["time"] == TIMES[4]
    assert orders["3"]["limit_price"] == "1500" and orders["3"]["reject_code"] == "DAY_END"
    fills = report["fills"]
    assert [(f["time"], f["side"], f["quantity"], f["price"]) for f in fills] == [
        ("2026-02-05T09:40:00+08:00", "buy", 100, "1542.01"),
        ("2026-02-06T09:40:00+08:00", "sell", 100, "1537.98"),
    ]
    s = report["summary"]
    assert s["strategy"] == "ai" and s["trades"] == 2 and s["round_trips"] == 1
    assert s["ai"] == {
        "profile": "custom",
        "model": "fake-model",
        "base_url": server.url,
        "interval_minutes": 60,
        "symbols": ["600519.SH"],
        "cycles": 8,
        "model_calls": 8,
        "cached_replies": 0,
        "failed_cycles": 0,
        "tokens": {"prompt": 7 * 1200 + 10, "completion": 7 * 80 + 5},
        "cost": "0.000000",  # fake-model is in no price table
        "currency": "CNY",
    }
    # Cash = initial − buy − fees + sell: the sell lost 4.03 a share and both legs paid fees.
    fees = sum(Decimal(f["fees_total"]) for f in fills)
    assert Decimal(s["final_equity"]) == Decimal("1000000") - 403 - fees

    # The same run again: every reply from the cache, not one request, the same trading.
    again_out = tmp_path / "again.json"
    assert backtest(real_data, again_out, *custom(server)) == 0
    assert len(server.requests) == 8
    again = json.loads(again_out.read_text("utf-8"))
    for key in ("orders", "fills", "equity"):
        assert again[key] == report[key]
    assert [d["cached"] for d in again["decisions"]] == [True] * 8
    assert all(d["latency_ms"] == 0 and d["cost"] == "0.000000" for d in again["decisions"])
    strip = ("cached", "latency_ms")
    assert [{k: v for k, v in d.items() if k not in strip} for d in again["decisions"]] == [
        {k: v for k, v in d.items() if k not in strip} for d in decisions
    ]
    assert again["summary"]["ai"] | {"model_calls": 8, "cached_replies": 0, "tokens": None} == (
        s["ai"] | {"tokens": None}
    )
    assert again["summary"]["ai"]["tokens"] == {"prompt": 0, "completion": 0}
    assert {k: v for k, v in again["summary"].items() if k != "ai"} == {
        k: v for k, v in s.items() if k != "ai"
    }


def test_a_custom_key_is_sent_when_set(real_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPALPHA_MODEL_CUSTOM_KEY", KEY)
    with fake_openai([reply("wait", {"action": "wait"})] * 2, expected_key=KEY) as srv:
        args = custom(srv)
        args[args.index("2026-02-06")] = "2026-02-05"
        args[args.index("60")] = "120"
        assert backtest(real_data, None, *args) == 0
        assert [r.key_matches for r in srv.requests] == [True, True]


def test_a_failed_call_is_recorded_and_asked_again_next_run(
    tmp_path: Path, real_data: Path
) -> None:
    script = [
        Scripted(400, {"error": {"message": "no such model"}}),
        reply("wait", {"action": "wait"}),
        reply("now a reply", {"action": "wait"}),
    ]
    with fake_openai(script) as srv:
        args = custom(srv)
        args[args.index("2026-02-06")] = "2026-02-05"
        args[args.index("60")] = "120"
        out = tmp_path / "r.json"
        assert backtest(real_data, out, *args) == 0
        first = json.loads(out.read_text("utf-8"))
        assert [d["time"][11:16] for d in first["decisions"]] == ["09:35", "13:05"]
        failed = first["decisions"][0]
        assert failed["actions"] == [] and failed["raw_reply"] == ""
        assert failed["error"].startswith("bad_request: ") and "HTTP 400" in failed["error"]
        assert first["summary"]["ai"]["failed_cycles"] == 1
        # A failure is not cached: the next run asks for that cycle again, and only that one.
        assert backtest(real_data, out, *args) == 0
        assert len(srv.requests) == 3
        second = json.loads(out.read_text("utf-8"))
        assert [d["cached"] for d in second["decisions"]] == [False, True]
        assert second["decisions"][0]["error"] is None


def test_an_unreachable_model_stops_the_run(
    tmp_path: Path,
    real_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three refused connections in a row: the run stops instead of replaying a month of
    failures in safe mode, and writes nothing."""
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[ai.profiles.local]\nbase_url = "http://127.0.0.1:{closed_port()}/v1"\n'
        'model = "llama3.1"\nretries = 0\n',
        "utf-8",
    )
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(config))
    out = tmp_path / "never.json"
    assert backtest(real_data, out, "--trader", "ai", "--model", "local") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "the model failed 3 decision cycles in a row, the last at 2026-02-05T09:45+08:00" in err
    assert "connection: cannot reach" in err and "the backtest stopped" in err
    assert not out.exists()


# --- a paid model: the cost estimate, --yes and the key --------------------------------------


def deepseek_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The deepseek preset pointed at the fake server, through the settings file."""
    config = tmp_path / "settings.toml"
    config.write_text(f'[ai.profiles.deepseek]\nbase_url = "{url}"\nretries = 0\n', "utf-8")
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(config))


PAID = ["--trader", "ai", "--model", "deepseek", "--start", "2026-02-05", "--end", "2026-02-05"]
PAID += ["--interval", "120"]  # 09:35 and 13:05


def test_a_paid_model_needs_yes_then_costs_and_reruns_for_free(
    tmp_path: Path,
    real_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", KEY)
    out = tmp_path / "paid.json"
    with fake_openai([reply("wait", {"action": "wait"})] * 2, expected_key=KEY) as srv:
        deepseek_at(tmp_path, monkeypatch, srv.url)

        # Without --yes (and stdin not a terminal): the estimate, a refusal, nothing run.
        assert backtest(real_data, out, *PAID) == 2
        captured = capsys.readouterr()
        said = " ".join(captured.out.split())
        assert "Model deepseek (deepseek-chat): 2 decision cycles, 0 replies from the cache, " in (
            said
        )
        err = " ".join(captured.err.split())
        assert "this run would call the paid model deepseek 2 times" in err
        assert "run again with --yes to go ahead" in err
        # 2 calls × (their prompts at 2 CNY/Mtok + at most 1,500 tokens back at 8 CNY/Mtok).
        found = re.search(r"at most ([\d.]+) CNY", err)
        assert found is not None and Decimal("0.024") < Decimal(found[1]) < Decimal("0.05")
        assert srv.requests == [] and not out.exists()
        assert KEY not in captured.out + captured.err

        # With --yes: two calls with the key, priced from the table in CNY.
        assert backtest(real_data, out, *PAID, "--yes") == 0
        assert [r.key_matches for r in srv.requests] == [True, True]
        report = json.loads(out.read_text("utf-8"))
        # 1,200 prompt tokens × 2 CNY + 80 completion tokens × 8 CNY per million = 0.00304.
        assert [d["cost"] for d in report["decisions"]] == ["0.003040", "0.003040"]
        ai = report["summary"]["ai"]
        assert (ai["model"], ai["model_calls"], ai["cost"], ai["currency"]) == (
            "deepseek-chat",
            2,
            "0.006080",
            "CNY",
        )

        # Again, without --yes: every reply is cached, so nothing to pay and nothing to ask.
        capsys.readouterr()
        assert backtest(real_data, out, *PAID) == 0
        said = " ".join(capsys.readouterr().out.split())
        assert "all 2 replies are in the reply cache; no model calls, no cost" in said
        assert len(srv.requests) == 2
        again = json.loads(out.read_text("utf-8"))
        assert again["summary"]["ai"]["cost"] == "0.000000"
        assert again["summary"]["ai"]["cached_replies"] == 2
        assert again["fills"] == report["fills"] and again["equity"] == report["equity"]


def test_a_missing_key_names_the_profile_and_the_variable(
    tmp_path: Path, real_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.json"
    assert backtest(real_data, out, *PAID, "--yes") == 2
    err = capsys.readouterr().err
    assert "no API key for profile 'deepseek': set DEEPSEEK_API_KEY" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trader", "ai", "--model", "nosuch"], "unknown model profile 'nosuch'"),
        (["--trader", "ai", "--model", "custom"], "--model custom needs --base-url URL"),
        (["--trader", "ai", "--base-url", "http://x/v1"], "go with --model custom"),
        (["--strategy", "sma_cross", "--model", "qwen"], "--model applies to --trader ai only"),
        (["--trader", "ai", "--symbols", "00700"], "no bars for 00700.HK in the data"),
        (["--trader", "ai", "--interval", "0"], "--interval must be at least 1 minute"),
    ],
)
def test_bad_ai_input_is_one_clear_line(
    real_data: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert backtest(real_data, None, *args) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err


def test_daily_bars_are_refused(real_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "backtest",
            "--quiet",
            "--data",
            str(real_data / "a_600519_daily_2023-08.csv"),
            "--cash",
            "1000000",
            "--trader",
            "ai",
        ]
    )
    assert code == 2
    assert "needs intraday bars" in capsys.readouterr().err


# --- the baseline model ------------------------------------------------------------------------


def test_baseline_over_the_whole_file(tmp_path: Path, real_data: Path) -> None:
    """Pinned figures for the rule-based model over 31 days of 5-minute bars: a change here is
    a change in the baseline's rules, the validation or the replay."""
    out = tmp_path / "baseline.json"
    assert backtest(real_data, out, "--trader", "ai", cash="10000000") == 0
    report = json.loads(out.read_text("utf-8"))
    s = report["summary"]
    # 46 decisions a day (every 5-minute close from 09:35 to 14:55 but 11:30) × 31 days.
    assert s["ai"]["cycles"] == 1426 == len(report["decisions"])
    assert (s["ai"]["model"], s["ai"]["model_calls"], s["ai"]["cost"]) == (
        "baseline (no LLM)",
        0,
        "0.000000",
    )
    assert (s["trades"], s["round_trips"]) == (21, 10)
    assert s["final_equity"] == "9975502.66"
    assert s["fees_total"] == "9744.34"
    # Every order is a decision's, or a market sell of the engine's stop-loss / take-profit.
    placed = {a["order_id"] for d in report["decisions"] for a in d["actions"] if a["order_id"]}
    exits = [o for o in report["orders"] if o["id"] not in placed]
    assert placed <= {o["id"] for o in report["orders"]}
    assert all((o["side"], o["type"]) == ("sell", "market") for o in exits)
    assert (len(placed), len(exits)) == (16, 5)
    buys = [f for f in report["fills"] if f["side"] == "buy"]
    assert all(f["quantity"] % 100 == 0 for f in buys)
