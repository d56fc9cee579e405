"""Crash safety: a process trading flat out is SIGKILLed at random moments, again and again.

Each trial restarts ``tests/crash_worker.py`` on the same data directory (so every start is a
recovery), lets it trade for a random while and kills it. Then the database is read with the
standard library's sqlite3, not through the code under test, and must hold everything the worker
acknowledged, with positions, cash, fees and frozen amounts that follow exactly from the fills.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from deepalpha.engine.markets.calendar import calendar_for
from deepalpha.engine.markets.fees import FEE_ITEMS
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.money import round_half_up
from tests.crash_worker import DEPOSITS, TRADERS

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 22
EARLY = {5, 12, 19}  # trials killed at a random moment of start-up and recovery instead
OPEN = ("open", "partially_filled")
ZERO = Decimal(0)


@dataclass
class Trial:
    ready: dict[str, Any] | None = None
    acks: dict[str, tuple[str, int]] = field(default_factory=dict)
    cancels: set[str] = field(default_factory=set)
    fills: set[str] = field(default_factory=set)
    ready_seen: threading.Event = field(default_factory=threading.Event)

    def read(self, stream: Any) -> None:
        for line in stream:
            if not line.endswith("\n"):
                break  # cut off by the kill
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "READY":
                self.ready = json.loads(rest)
                self.ready_seen.set()
            elif kind == "ACK":
                oid, status, filled = rest.split()
                self.acks[oid] = (status, int(filled))
            elif kind == "CANCEL":
                self.cancels.add(rest)
            elif kind == "FILL":
                self.fills.add(rest)


def run_trial(data: Path, seed: int, early: bool, rng: random.Random, log: Path) -> Trial:
    trial = Trial()
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_worker", str(data), str(seed)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=os.environ.copy(),
        )
        assert proc.stdout is not None
        reader = threading.Thread(target=trial.read, args=(proc.stdout,), daemon=True)
        reader.start()
        if early:
            time.sleep(rng.uniform(0.05, 1.2))
        else:
            assert trial.ready_seen.wait(30), f"the worker never became ready; see {log}"
            time.sleep(rng.uniform(0.3, 1.5))
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        reader.join(10)
    assert alive, f"the worker died by itself (exit {proc.returncode}):\n{log.read_text()[-3000:]}"
    return trial


def money(text: str | None) -> Decimal:
    return Decimal(text) if text is not None else ZERO


def rows(conn: sqlite3.Connection, sql: str) -> list[sqlite3.Row]:
    return list(conn.execute(sql))


@dataclass
class Db:
    orders: dict[str, sqlite3.Row]
    fills: list[sqlite3.Row]
    positions: dict[tuple[str, str], sqlite3.Row]
    accounts: dict[tuple[str, str], sqlite3.Row]
    last_cn_day: str | None


def read_db(path: Path) -> Db:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        day = conn.execute("SELECT value FROM engine_state WHERE id = 'last_day:CN'").fetchone()
        return Db(
            {r["id"]: r for r in rows(conn, "SELECT * FROM orders")},
            rows(conn, "SELECT * FROM fills ORDER BY id"),
            {(r["trader_id"], r["symbol"]): r for r in rows(conn, "SELECT * FROM positions")},
            {(r["trader_id"], r["currency"]): r for r in rows(conn, "SELECT * FROM accounts")},
            day[0] if day else None,
        )
    finally:
        conn.close()


def currency_of(symbol: str) -> str:
    return "HKD" if symbol.endswith(".HK") else "CNY"


def check_consistent(db: Db) -> None:
    """Everything stored follows from the fills, to the fen."""
    by_order: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for f in db.fills:
        assert f["order_id"] in db.orders, f"fill {f['id']} has no order"
        by_order[f["order_id"]].append(f)
        fees = sum((money(f[item]) for item in FEE_ITEMS), ZERO)
        assert fees == money(f["fees_total"]), f"fill {f['id']}: fee items do not add up"
        assert money(f["price"]) * f["quantity"] == money(f["amount"]), f"fill {f['id']}"
        assert f["currency"] == currency_of(f["symbol"])

    for oid, o in db.orders.items():
        fs = by_order.get(oid, [])
        assert o["filled_quantity"] == sum(f["quantity"] for f in fs), f"order {oid} quantity"
        assert money(o["filled_amount"]) == sum((money(f["amount"]) for f in fs), ZERO)
        assert money(o["fees_total"]) == sum((money(f["fees_total"]) for f in fs), ZERO)
        if o["status"] == "filled":
            assert o["filled_quantity"] == o["quantity"], f"order {oid} filled short"
        if o["status"] not in OPEN:
            assert money(o["frozen_cash"]) == 0, f"final order {oid} still holds cash"

    # Positions and cash replayed from every fill in the order they happened (ids sort so).
    pos: dict[tuple[str, str], list[Any]] = {}
    bought_today: dict[tuple[str, str], int] = defaultdict(int)
    cash: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for f in db.fills:
        key = (f["trader_id"], f["symbol"])
        p = pos.setdefault(key, [0, ZERO, ZERO, ZERO])  # quantity, cost, realized, fees
        qty, amount, fees = f["quantity"], money(f["amount"]), money(f["fees_total"])
        acct = cash[(f["trader_id"], f["currency"])]  # cash change, fees, realized
        if f["side"] == "buy":
            p[0] += qty
            p[1] += amount + fees
            acct[0] -= amount + fees
            if f["trading_day"] == db.last_cn_day:
                bought_today[key] += qty
        else:
            assert qty <= p[0], f"fill {f['id']} sells more than held"
            removed = p[1] if qty == p[0] else round_half_up(p[1] * qty / p[0])
            realized = amount - fees - removed
            assert realized == money(f["realized_pnl"]), f"fill {f['id']} realized P&L"
            p[0] -= qty
            p[1] -= removed
            p[2] += realized
            acct[0] += amount - fees
            acct[2] += realized
        p[3] += fees
        acct[1] += fees
    assert set(pos) == set(db.positions), "positions stored without fills or fills without one"
    for key, (qty, cost, realized, fees) in pos.items():
        row = db.positions[key]
        stored = (
            row["quantity"],
            money(row["cost_basis"]),
            money(row["realized_pnl"]),
            money(row["fees_paid"]),
        )
        assert stored == (qty, cost, realized, fees), f"position {key}: {stored}"
        if key[1].endswith(".HK"):
            assert row["sellable"] == qty, f"{key}: HK shares are sellable at once (T+0)"
        else:
            assert row["sellable"] == qty - bought_today[key], f"{key}: T+1 sellable"

    open_buys: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    open_sells: dict[tuple[str, str], int] = defaultdict(int)
    for o in db.orders.values():
        if o["status"] in OPEN:
            assert o["filled_quantity"] < o["quantity"]
            if o["side"] == "buy":
                open_buys[(o["trader_id"], currency_of(o["symbol"]))] += money(o["frozen_cash"])
            else:
                open_sells[(o["trader_id"], o["symbol"])] += o["quantity"] - o["filled_quantity"]
    for key, want in open_sells.items():
        assert want <= db.positions[key]["sellable"], f"{key}: open sells exceed sellable"

    assert set(db.accounts) == {(t, c) for t in TRADERS for c in DEPOSITS}
    for key, a in db.accounts.items():
        delta, fees, realized = cash[key]
        assert money(a["deposits"]) == DEPOSITS[key[1]]
        assert money(a["cash"]) == DEPOSITS[key[1]] + delta, f"cash of {key} does not reconcile"
        assert money(a["fees_paid"]) == fees, f"fees of {key}"
        assert money(a["realized_pnl"]) == realized, f"realized P&L of {key}"
        assert money(a["frozen"]) == open_buys[key], f"frozen cash of {key}"


def check_restored(ready: dict[str, Any], db: Db) -> None:
    """What the restart rebuilt in memory equals what was stored when it started."""
    for key, a in db.accounts.items():
        cash, frozen = ready["accounts"]["/".join(key)]
        assert Decimal(cash) == money(a["cash"]) and Decimal(frozen) == money(a["frozen"]), key
    held = {k: p for k, p in db.positions.items() if p["quantity"]}
    assert set(ready["positions"]) == {"/".join(k) for k in held}
    for key, p in held.items():
        qty, sellable, cost, frozen = ready["positions"]["/".join(key)]
        want_frozen = sum(
            o["quantity"] - o["filled_quantity"]
            for o in db.orders.values()
            if o["status"] in OPEN and o["side"] == "sell" and (o["trader_id"], o["symbol"]) == key
        )
        assert (qty, sellable, Decimal(cost), frozen) == (
            p["quantity"],
            p["sellable"],
            money(p["cost_basis"]),
            want_frozen,
        ), key
    assert ready["open_orders"] == sorted(k for k, o in db.orders.items() if o["status"] in OPEN)


def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path: Path) -> None:
    for market in Market:
        calendar_for(market)  # fill the shared calendar cache so the workers start fast
    rng = random.Random(20250603)
    data = tmp_path / "data"
    log = tmp_path / "worker.log"
    acks: dict[str, tuple[str, int]] = {}
    cancels: set[str] = set()
    fills: set[str] = set()
    before: Db | None = None
    restored = 0
    for n in range(TRIALS):
        trial = run_trial(data, n, n in EARLY, rng, log)
        acks.update(trial.acks)
        cancels |= trial.cancels
        fills |= trial.fills
        if not (data / "deepalpha.db").exists():
            continue  # killed before the database was created
        if trial.ready is not None and before is not None:
            check_restored(trial.ready, before)
            restored += 1
        db = before = read_db(data / "deepalpha.db")

        missing = [oid for oid in acks if oid not in db.orders]
        assert not missing, f"trial {n}: {len(missing)} acknowledged orders lost, e.g. {missing[0]}"
        stored_fills = {f["id"] for f in db.fills}
        lost = fills - stored_fills
        assert not lost, f"trial {n}: {len(lost)} acknowledged fills lost"
        for oid, (status, filled) in acks.items():
            row = db.orders[oid]
            assert row["filled_quantity"] >= filled, f"order {oid} lost fills"
            if status not in OPEN:
                assert row["status"] == status, f"order {oid} was {status}, now {row['status']}"
        for oid in cancels:
            assert db.orders[oid]["status"] == "cancelled"
        check_consistent(db)

    assert before is not None and restored >= TRIALS - len(EARLY) - 2
    assert len(acks) > 2000 and len(fills) > 1000, (len(acks), len(fills))
    print(
        f"\ncrash test: {TRIALS} SIGKILLs, {len(acks)} orders and {len(fills)} fills "
        f"acknowledged, {len(cancels)} cancels; database holds {len(before.orders)} orders, "
        f"{len(before.fills)} fills; {restored} restores checked"
    )
