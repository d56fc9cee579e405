"""The AI trader's decision cycle on a real paper broker: the baseline and a scripted model server,
rejections and safe mode recorded, hybrid proposals, the engine's stop-loss, and the decision
records through SQLite (SPEC §5)."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from deepalpha.engine.ai.baseline import BaselineModel
from deepalpha.engine.ai.client import ChatClient, custom_profile
from deepalpha.engine.ai.cycle import AiTrader, Mode
from deepalpha.engine.ai.records import DecisionRecord
from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.events import AccountState, DecisionEvent, Event
from deepalpha.engine.ids import sequential
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import OrderStatus, Side
from deepalpha.engine.persistence import EventWriter
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.storage.connect import open_store
from tests.fake_openai import FakeOpenAI, Scripted, chat_body, fake_openai

D = Decimal
CN = Market.CN
DAY1, DAY2 = date(2024, 3, 1), date(2024, 3, 4)
NOW = datetime.combine(DAY1, time(11, 0), SHANGHAI)
MOUTAI = "600519.SH"  # reference 1,700.00: band 1,530.00–1,870.00
CONTINUOUS = {CN: Phase.CONTINUOUS, Market.HK: Phase.CLOSED}


def make_bars(n: int = 120) -> list[Bar]:
    """1-minute bars up to NOW with a gentle up-drift: the baseline's buy signal."""
    bars = []
    start = NOW - timedelta(minutes=n)
    prev = D("1700.00")
    for i in range(n):
        close = D(f"{1700.0 * (1 + 0.0001 * i + 0.004 * math.sin(i / 5 + 1.2)):.2f}")
        high, low = max(prev, close) + D("0.02"), min(prev, close) - D("0.01")
        bars.append(
            Bar(MOUTAI, start + timedelta(minutes=i + 1), DAY1, prev, high, low, close, 1000)
        )
        prev = close
    return bars


def buy_reply(quantity: int = 100, stop: str = "1650.00", take: str = "1800.00") -> str:
    return (
        "<reasoning>breakout above the range</reasoning>"
        f'<decision>[{{"symbol": "600519", "action": "buy", "quantity": {quantity}, '
        f'"stop_loss": {stop}, "take_profit": {take}, "confidence": 0.8}}]</decision>'
    )


class Desk:
    def __init__(self) -> None:
        self.clock = ManualClock(NOW)
        self.bus = EventBus()
        self.broker = PaperBroker(
            InstrumentRegistry.default(),
            self.clock,
            self.bus,
            id_factory=sequential("o"),
            fill_id_factory=sequential("f"),
        )
        self.broker.add_trader("ai1", {"CNY": D("5000000")})
        self.broker.start_day(CN, DAY1)
        self.broker.set_phase(CN, Phase.CONTINUOUS)
        self.broker.set_reference(MOUTAI, DAY1, D("1700.00"))
        self.bars = make_bars()
        self.quote("1700.00")
        self.events: list[Event] = []
        self.bus.on(DecisionEvent, self.events.append)

    def quote(self, price: str) -> Quote:
        p = D(price)
        q = Quote(MOUTAI, self.clock.now(), p, p - D("0.01"), p, 100_000, 100_000)
        self.broker.on_quote(q)
        return q

    def trader(
        self, model: BaselineModel | ChatClient, mode: Mode = "ai", **options: Any
    ) -> AiTrader:
        return AiTrader(
            "ai1",
            self.broker,
            model=model,
            symbols=options.pop("symbols", [MOUTAI]),
            mode=mode,
            bars_source=lambda s: self.bars if s == MOUTAI else [],
            publish=self.bus.publish,
            clock=self.clock,
            id_factory=sequential("r"),
            **options,
        )

    @property
    def records(self) -> list[DecisionRecord]:
        return [e.record for e in self.events if isinstance(e, DecisionEvent)]

    def next_day(self) -> None:
        self.broker.end_day(CN, DAY1)
        self.clock.set(datetime.combine(DAY2, time(10, 0), SHANGHAI))
        self.broker.start_day(CN, DAY2)
        self.broker.set_phase(CN, Phase.CONTINUOUS)
        self.broker.set_reference(MOUTAI, DAY2, D("1700.00"))


@pytest.fixture
def desk() -> Desk:
    return Desk()


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with fake_openai() as s:
        yield s


def client(server: FakeOpenAI) -> ChatClient:
    profile = dataclasses.replace(custom_profile(server.url, "fake-model"), retries=0, timeout=5)
    return ChatClient(profile, None)


def ok(text: str) -> Scripted:
    return Scripted(200, chat_body(text, prompt_tokens=1200, completion_tokens=80))


def fail() -> Scripted:
    return Scripted(500, {"error": {"message": "upstream exploded"}})


def only(record: DecisionRecord) -> dict[str, Any]:
    (result,) = record.results
    return result


def test_baseline_places_an_order_and_records_it(desk: Desk) -> None:
    trader = desk.trader(BaselineModel())
    record = asyncio.run(trader.run_cycle(NOW))
    assert desk.records == [record]
    assert record.success and record.error is None and record.cycle == 1
    assert record.model == "baseline (no LLM)" and "<decision>" in record.raw_reply
    assert record.system_prompt and MOUTAI in record.user_prompt
    (decision,) = record.decisions
    assert decision["action"] == "buy" and isinstance(decision["stop_loss"], str)
    result = only(record)
    assert result["accepted"] is True and result["status"] == "placed"
    order = desk.broker.orders[result["order_id"]]
    assert order.source == "ai" and order.side is Side.BUY
    assert order.status is OrderStatus.FILLED and order.quantity == result["quantity"]
    assert MOUTAI in trader.exits and trader.history.buys == [NOW]


def test_a_clean_model_reply_places_an_order(desk: Desk, server: FakeOpenAI) -> None:
    server.push(ok(buy_reply()))

    async def go() -> DecisionRecord:
        async with client(server) as model:
            return await desk.trader(model).run_cycle(NOW)

    record = asyncio.run(go())
    assert record.success and record.model == "fake-model"
    assert (record.prompt_tokens, record.completion_tokens) == (1200, 80)
    assert record.cost == 0 and record.latency_ms >= 0
    assert record.reasoning == "breakout above the range"
    result = only(record)
    assert result["accepted"] and result["quantity"] == 100
    assert desk.broker.orders[result["order_id"]].status is OrderStatus.FILLED
    sent = server.requests[0].body["messages"]
    assert sent[0]["content"] == record.system_prompt and sent[1]["content"] == record.user_prompt


def test_prose_only_is_a_recorded_wait_with_the_raw_reply(desk: Desk, server: FakeOpenAI) -> None:
    prose = "The market looks uncertain today, I would rather not trade."
    server.push(ok(prose))

    async def go() -> DecisionRecord:
        async with client(server) as model:
            return await desk.trader(model).run_cycle(NOW)

    record = asyncio.run(go())
    assert record.success and record.raw_reply == prose
    assert record.error == "the reply holds no readable decision; recorded as wait"
    assert [d["action"] for d in record.decisions] == ["wait"]
    assert only(record)["status"] == "wait" and only(record)["order_id"] is None
    assert not desk.broker.orders


def test_a_reply_breaking_lots_is_rejected_with_lot_size(desk: Desk, server: FakeOpenAI) -> None:
    server.push(ok(buy_reply(quantity=150)))

    async def go() -> DecisionRecord:
        async with client(server) as model:
            return await desk.trader(model).run_cycle(NOW)

    result = only(asyncio.run(go()))
    assert result["accepted"] is False and result["reject_code"] == "LOT_SIZE"
    assert result["reject_reason"] and "100" in result["reject_reason"]
    assert result["order_id"] is None and not desk.broker.orders


BUY_JSON = (
    '{"symbol": "600519", "action": "buy", "quantity": 100, "stop_loss": 1650.00, '
    '"take_profit": 1800.00, "confidence": 0.8}'
)


@pytest.mark.parametrize(
    "reply",
    [
        f"<reasoning>fenced</reasoning><decision>```json\n[{BUY_JSON}]\n```</decision>",
        "<reasoning>全角</reasoning><decision>［｛“symbol”：“600519”，“action”：“buy”，"
        "“quantity”：100，“stop_loss”：1650.00，“take_profit”：1800.00，"
        "“confidence”：0.8｝］</decision>",
        f"<reasoning>one object</reasoning><decision>{BUY_JSON}</decision>",
        f"Sure! Here is my answer.\n<reasoning>chatter</reasoning>\n<decision>[{BUY_JSON}]"
        "</decision>\nHope this helps.",
    ],
    ids=["fenced", "full-width", "lone-object", "chatter"],
)
def test_untidy_replies_from_the_server_still_trade(
    desk: Desk, server: FakeOpenAI, reply: str
) -> None:
    server.push(ok(reply))

    async def go() -> DecisionRecord:
        async with client(server) as model:
            return await desk.trader(model).run_cycle(NOW)

    record = asyncio.run(go())
    assert record.raw_reply == reply and record.success
    result = only(record)
    assert (result["action"], result["quantity"], result["status"]) == ("buy", 100, "placed")
    assert desk.broker.orders[result["order_id"]].status is OrderStatus.FILLED


@pytest.mark.parametrize(
    ("decision", "code", "words"),
    [
        (
            '{"symbol": "600519", "action": "buy", "quantity": 100, "order_type": "limit", '
            '"limit_price": 1900.00, "stop_loss": 1650, "take_profit": 2100, "confidence": 0.8}',
            "PRICE_LIMIT",
            "1,530.00–1,870.00",
        ),
        (
            '{"symbol": "600519", "action": "buy", "quantity": 100, "stop_loss": 1690.00, '
            '"take_profit": 1705.00, "confidence": 0.8}',
            "REWARD_RISK",
            "reward:risk",
        ),
        (
            '{"symbol": "600519", "action": "buy", "quantity": 100, "stop_loss": 1650, '
            '"take_profit": 1800, "confidence": 0.3}',
            "LOW_CONFIDENCE",
            "0.3",
        ),
    ],
    ids=["band", "reward-risk", "confidence"],
)
def test_a_reply_breaking_a_rule_is_rejected_with_the_reason_recorded(
    desk: Desk, server: FakeOpenAI, decision: str, code: str, words: str
) -> None:
    server.push(ok(f"<reasoning>try it</reasoning><decision>[{decision}]</decision>"))

    async def go() -> DecisionRecord:
        async with client(server) as model:
            return await desk.trader(model).run_cycle(NOW)

    result = only(asyncio.run(go()))
    assert (result["accepted"], result["status"], result["reject_code"]) == (
        False,
        "rejected",
        code,
    )
    assert words in result["reject_reason"], result["reject_reason"]
    assert result["reject_key"] and result["order_id"] is None and not desk.broker.orders


def test_selling_todays_buy_is_rejected_t_plus_one(desk: Desk, server: FakeOpenAI) -> None:
    sell = (
        '<reasoning>take it back</reasoning><decision>[{"symbol": "600519", '
        '"action": "sell", "quantity": 100, "confidence": 0.9}]</decision>'
    )
    server.push(ok(buy_reply()), ok(sell))

    async def go() -> DecisionRecord:
        async with client(server) as model:
            trader = desk.trader(model)
            trader.settings = dataclasses.replace(trader.settings, min_holding_minutes=0)
            await trader.run_cycle(NOW)
            return await trader.run_cycle(NOW + timedelta(minutes=5))

    result = only(asyncio.run(go()))
    assert (result["status"], result["reject_code"]) == ("rejected", "T_PLUS_ONE")
    assert "T+1" in result["reject_reason"], result["reject_reason"]
    assert len(desk.broker.orders) == 1  # the buy only


def test_three_failures_enter_safe_mode_until_the_model_answers(
    desk: Desk, server: FakeOpenAI
) -> None:
    server.push(fail(), fail(), fail(), ok(buy_reply()), ok(buy_reply()))

    async def go() -> tuple[AiTrader, list[DecisionRecord]]:
        async with client(server) as model:
            trader = desk.trader(model)
            out = []
            for i in range(3):
                out.append(await trader.run_cycle(NOW + timedelta(minutes=5 * i)))
                assert trader.safe_mode is (i == 2)
            out.append(await trader.run_cycle(NOW + timedelta(minutes=15)))
            assert trader.safe_mode is False  # the model answered again
            out.append(await trader.run_cycle(NOW + timedelta(minutes=20)))
            return trader, out

    trader, records = asyncio.run(go())
    for r in records[:3]:
        assert not r.success and r.error and "500" in r.error and r.results == []
    dropped = only(records[3])
    assert dropped["accepted"] is False and dropped["reject_code"] == "SAFE_MODE"
    assert "safe mode" in dropped["reject_reason"]
    placed = only(records[4])
    assert placed["accepted"] and placed["order_id"] is not None
    assert len(desk.broker.orders) == 1 and trader.failures == 0
    assert [r.cycle for r in desk.records] == [1, 2, 3, 4, 5]


def test_safe_mode_still_lets_sells_through(desk: Desk, server: FakeOpenAI) -> None:
    server.push(ok(buy_reply()), fail(), fail(), fail())
    sell = (
        '<decision>[{"symbol": "600519.SH", "action": "sell", "quantity": 100,'
        ' "confidence": 0.9}]</decision>'
    )

    async def go() -> DecisionRecord:
        async with client(server) as model:
            trader = desk.trader(model)
            await trader.run_cycle(NOW)
            for i in range(3):
                await trader.run_cycle(NOW + timedelta(minutes=5 + i))
            assert trader.safe_mode
            desk.next_day()
            desk.quote("1700.00")
            server.push(ok(sell))
            return await trader.run_cycle(desk.clock.now())

    result = only(asyncio.run(go()))
    assert result["accepted"] and result["status"] == "placed"
    assert desk.broker.orders[result["order_id"]].side is Side.SELL


def test_hybrid_proposals_approve_reject_expire(desk: Desk, server: FakeOpenAI) -> None:
    server.push(ok(buy_reply()), ok(buy_reply()), ok(buy_reply()))

    async def go() -> AiTrader:
        async with client(server) as model:
            trader = desk.trader(model, mode="hybrid")
            first = await trader.run_cycle(NOW)
            assert only(first)["status"] == "proposed" and not desk.broker.orders
            (p,) = trader.proposals
            assert p.expires_at == NOW + timedelta(minutes=5) and p.record_id == first.id
            order = trader.approve(p.id, quantity=200)
            assert order.status is OrderStatus.FILLED and order.quantity == 200
            assert trader.proposals == []

            await trader.run_cycle(NOW + timedelta(minutes=5))
            (p,) = trader.proposals
            trader.reject(p.id)

            third = await trader.run_cycle(NOW + timedelta(minutes=10))
            (p,) = trader.proposals
            assert trader.expire(NOW + timedelta(minutes=14)) == []
            assert [x.id for x in trader.expire(NOW + timedelta(minutes=15))] == [p.id]
            assert trader.proposals == [] and third.id == p.record_id
            with pytest.raises(KeyError):
                trader.approve(p.id)
            return trader

    asyncio.run(go())
    assert len(desk.broker.orders) == 1
    latest = {r.id: r for r in desk.records}  # the last publication of each record wins
    approved, rejected, expired = (only(r) for r in latest.values())
    assert approved["status"] == "approved" and approved["accepted"] is True
    assert approved["quantity"] == 200 and approved["order_id"] in desk.broker.orders
    assert rejected["status"] == "user_rejected" and rejected["reject_code"] == "USER_REJECTED"
    assert expired["status"] == "expired" and expired["reject_code"] == "EXPIRED"
    assert "expired" in expired["reject_reason"]


def test_a_proposal_waits_the_real_minimum_however_fast_the_market(
    desk: Desk, server: FakeOpenAI
) -> None:
    """At 60× a 5-minute proposal would be gone in 5 real seconds: it stays answerable for
    the real minimum (2 minutes), and expires only once both are over."""
    server.push(ok(buy_reply()))
    real = [1000.0]

    async def go() -> None:
        async with client(server) as model:
            trader = desk.trader(
                model, mode="hybrid", answer_seconds=120.0, real_time=lambda: real[0]
            )
            await trader.run_cycle(NOW)
            (p,) = trader.proposals
            real[0] += 5  # 5 real seconds: 5 simulated minutes at 60×
            assert trader.expire(NOW + timedelta(minutes=5)) == []
            real[0] += 110  # still inside the person's two minutes
            assert trader.expire(NOW + timedelta(minutes=120)) == []
            # A restart keeps the real time the person still has (5 s here), not a clock.
            again = desk.trader(model, mode="hybrid", real_time=lambda: real[0] + 7000)
            again.restore(trader.snapshot(), trader.open_records())
            (kept,) = again.proposals
            assert kept.answer_by == real[0] + 7000 + 5
            real[0] += 5
            assert [x.id for x in trader.expire(NOW + timedelta(minutes=120))] == [p.id]

    asyncio.run(go())


def test_only_symbols_of_a_trading_market_are_considered(desk: Desk) -> None:
    """15:30 in Shanghai: the A-shares are closed, Hong Kong trades. A trader of both markets
    looks at the Hong Kong symbols only; with none of its markets open, the model is not
    asked at all."""
    desk.broker.set_phase(CN, Phase.CLOSED)
    desk.broker.set_phase(Market.HK, Phase.CONTINUOUS)
    both = desk.trader(BaselineModel(), symbols=[MOUTAI, "00700.HK"])
    assert both.tradable() == ["00700.HK"]
    record = asyncio.run(both.run_cycle(NOW))
    assert "00700.HK" in record.user_prompt and MOUTAI not in record.user_prompt
    assert all(r["symbol"] != MOUTAI for r in record.results)

    cn_only = desk.trader(BaselineModel())
    idle = asyncio.run(cn_only.run_cycle(NOW))
    assert idle.success and idle.user_prompt == "" and idle.results == []
    assert "CN" in idle.reasoning and "not asked" in idle.reasoning


def test_a_newer_proposal_replaces_the_one_still_waiting(desk: Desk, server: FakeOpenAI) -> None:
    server.push(ok(buy_reply()), ok(buy_reply(quantity=200)))

    async def go() -> tuple[DecisionRecord, DecisionRecord]:
        async with client(server) as model:
            trader = desk.trader(model, mode="hybrid")
            first = await trader.run_cycle(NOW)
            second = await trader.run_cycle(NOW + timedelta(minutes=1))
            (p,) = trader.proposals  # one open proposal, not two
            assert p.record_id == second.id and p.request.quantity == 200
            return first, second

    first, second = asyncio.run(go())
    latest = {r.id: r for r in desk.records}
    old = only(latest[first.id])
    assert old["status"] == "superseded" and old["reject_code"] == "SUPERSEDED"
    assert "cycle 2" in old["reject_reason"]
    assert only(latest[second.id])["status"] == "proposed"
    assert not desk.broker.orders


def test_stop_loss_sells_the_sellable_position(desk: Desk, server: FakeOpenAI) -> None:
    server.push(ok(buy_reply(quantity=300)))

    async def go() -> AiTrader:
        async with client(server) as model:
            trader = desk.trader(model)
            await trader.run_cycle(NOW)
            return trader

    trader = asyncio.run(go())
    # Bought today: T+1 keeps the shares until tomorrow, whatever the price does.
    assert trader.check_exits([desk.quote("1640.00")]) == []
    desk.next_day()
    assert trader.check_exits([desk.quote("1660.00")]) == []  # above the stop
    (order,) = trader.check_exits([desk.quote("1649.00")])
    assert order.side is Side.SELL and order.quantity == 300 and order.source == "ai"
    assert order.status is OrderStatus.FILLED
    assert MOUTAI not in trader.exits
    assert desk.broker.portfolio("ai1").positions[MOUTAI].quantity == 0
    assert trader.check_exits([desk.quote("1600.00")]) == []


def test_take_profit_sells_too(desk: Desk) -> None:
    trader = desk.trader(BaselineModel())
    asyncio.run(trader.run_cycle(NOW))
    exits = trader.exits[MOUTAI]
    assert exits.take_profit is not None
    desk.next_day()
    (order,) = trader.check_exits([desk.quote(str(exits.take_profit))])
    assert order.side is Side.SELL and order.status is OrderStatus.FILLED


def test_schedule_and_no_overlap(desk: Desk, server: FakeOpenAI) -> None:
    server.push(Scripted(200, chat_body(buy_reply()), delay=0.3))

    async def go() -> AiTrader:
        async with client(server) as model:
            trader = desk.trader(model)
            assert trader.should_run(NOW, CONTINUOUS)
            assert not trader.should_run(NOW, {CN: Phase.LUNCH_BREAK})
            running = asyncio.create_task(trader.tick(NOW, CONTINUOUS))
            await asyncio.sleep(0.05)
            assert trader.running
            later = NOW + timedelta(minutes=5)
            assert await trader.tick(later, CONTINUOUS) is None  # still running: skipped
            assert trader.skipped == 1
            assert await trader.tick(later, CONTINUOUS) is None  # the same slot counts once
            assert trader.skipped == 1
            assert await running is not None
            # The skipped slot moved the schedule on: the next cycle is due an interval later.
            assert not trader.should_run(later + timedelta(minutes=4), CONTINUOUS)
            assert trader.should_run(later + timedelta(minutes=5), CONTINUOUS)
            return trader

    trader = asyncio.run(go())
    assert trader.cycle == 1 and len(server.requests) == 1


def test_decision_records_persist_and_read_back(desk: Desk, tmp_path: Path) -> None:
    async def go() -> list[DecisionRecord]:
        store = await open_store(None, tmp_path)
        try:
            await store.create_traders(
                [TraderConfig("ai1", "Robo", TraderKind.AI)],
                [AccountState("ai1", "CNY", D("5000000"), D(0), D("5000000"), D(0), D(0))],
            )
            writer = EventWriter(desk.bus, store)
            writer.start()
            trader = desk.trader(BaselineModel())
            first = await trader.run_cycle(NOW)
            await trader.run_cycle(NOW + timedelta(minutes=5))
            await writer.flush()
            await writer.stop()
            stored = await store.decisions("ai1")
            assert await store.decisions("nobody") == []
            assert len(await store.decisions(limit=1)) == 1
            (row,) = [r for r in stored if r.id == first.id]
            assert row == dataclasses.replace(first, time=row.time)
            assert row.time == first.time
            return stored
        finally:
            await store.close()

    stored = asyncio.run(go())
    assert [r.cycle for r in stored] == [2, 1]  # newest first
    assert stored[1].results[0]["order_id"] in desk.broker.orders
