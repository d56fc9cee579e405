"""The AI reply parser: tolerant of what models really write, never raising (SPEC §5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from deepalpha.engine.ai.protocol import Action, Decision, parse_reply
from deepalpha.engine.orders import OrderType
from deepalpha.i18n import Msg
from deepalpha.i18n.text_ai_rules import TEXT

D = Decimal

CLEAN = (
    "<reasoning>Moutai broke out on volume; Tencent is range-bound.</reasoning>"
    '<decision>[{"symbol": "600519.SH", "action": "buy", "quantity": 100, '
    '"order_type": "limit", "limit_price": 1500.50, "stop_loss": 1450, "take_profit": 1650, '
    '"confidence": 0.8, "reasoning": "breakout"}, '
    '{"symbol": "00700.HK", "action": "hold", "reasoning": "no edge"}]</decision>'
)


def test_a_clean_reply() -> None:
    reply = parse_reply(CLEAN)
    assert not reply.fallback and reply.problems == []
    assert reply.reasoning == "Moutai broke out on volume; Tencent is range-bound."
    assert reply.raw == CLEAN
    buy, hold = reply.decisions
    assert buy == Decision(
        "600519.SH",
        Action.BUY,
        100,
        OrderType.LIMIT,
        D("1500.50"),
        D("1450"),
        D("1650"),
        D("0.8"),
        "breakout",
    )
    assert isinstance(buy.limit_price, Decimal) and isinstance(buy.confidence, Decimal)
    assert hold.symbol == "00700.HK" and hold.action is Action.HOLD and hold.quantity == 0


def test_fenced_json_inside_the_decision_tag() -> None:
    reply = parse_reply(
        "<reasoning>ok</reasoning>\n<decision>\n```json\n"
        '[{"symbol": "sh600036", "action": "sell", "quantity": 200}]\n```\n</decision>'
    )
    assert not reply.fallback
    (sell,) = reply.decisions
    assert (sell.symbol, sell.action, sell.quantity) == ("600036.SH", Action.SELL, 200)
    assert sell.order_type is OrderType.MARKET


def test_a_fence_without_tags_in_chatter() -> None:
    reply = parse_reply(
        "Here is my decision:\n```json\n"
        '{"symbol": "700.HK", "action": "buy", "quantity": 100, "limit_price": "380.2"}\n'
        "```\nGood luck!"
    )
    (buy,) = reply.decisions
    assert buy.symbol == "00700.HK"
    assert buy.order_type is OrderType.LIMIT  # a price and no type: a limit order
    assert buy.limit_price == D("380.2")


def test_full_width_punctuation() -> None:
    reply = parse_reply(
        "＜reasoning＞放量突破，站上均线。＜/reasoning＞"
        "＜decision＞［｛“symbol”：“600519”，“action”：“买入”，“quantity”：１００，"
        '“confidence”：０.７５，“reasoning”：“放量突破，站上"20日均线"”｝］＜/decision＞'
    )
    assert not reply.fallback, reply.problems
    assert reply.reasoning == "放量突破，站上均线。"
    (buy,) = reply.decisions
    assert (buy.symbol, buy.action, buy.quantity) == ("600519.SH", Action.BUY, 100)
    assert buy.confidence == D("0.75")
    # Inside a string value the model's own punctuation is kept.
    assert buy.reasoning == '放量突破，站上"20日均线"'


def test_a_lone_object() -> None:
    reply = parse_reply('<decision>{"symbol": "HK.00700", "action": "sell", "quantity": 100}')
    (sell,) = reply.decisions
    assert (sell.symbol, sell.action) == ("00700.HK", Action.SELL)
    assert not reply.fallback


def test_a_wrapped_array() -> None:
    reply = parse_reply('<decision>{"decisions": [{"action": "wait"}]}</decision>')
    assert reply.decisions == [Decision("", Action.WAIT)]


@pytest.mark.parametrize(
    "text",
    [
        "I think the market is too volatile today, so I will stay out.",
        "",
        "<reasoning>Unclear.</reasoning><decision>no trade</decision>",
        '<decision>[{"symbol": "600519.SH", "action": "buy", "quan',
    ],
)
def test_what_cannot_be_read_is_a_recorded_wait_with_the_raw_reply(text: str) -> None:
    reply = parse_reply(text)
    assert reply.fallback
    assert reply.raw == text
    assert [d.action for d in reply.decisions] == [Action.WAIT]
    assert isinstance(reply.problems[-1], Msg)
    assert reply.problems[-1].key == "ai.reply.unreadable"


def test_prose_only_keeps_the_prose_as_the_reason() -> None:
    reply = parse_reply("Nothing looks good.")
    assert reply.decisions[0].reasoning == "Nothing looks good."


def test_chinese_actions() -> None:
    reply = parse_reply(
        "<decision>["
        '{"symbol": "600519", "action": "买入", "quantity": 100},'
        '{"symbol": "000001", "action": "卖出", "quantity": 100},'
        '{"symbol": "00700", "action": "持有"},'
        '{"action": "观望"}'
        "]</decision>"
    )
    assert [(d.symbol, d.action) for d in reply.decisions] == [
        ("600519.SH", Action.BUY),
        ("000001.SZ", Action.SELL),
        ("00700.HK", Action.HOLD),
        ("", Action.WAIT),
    ]


def test_numbers_as_strings() -> None:
    reply = parse_reply(
        '<decision>[{"symbol": "600519.SH", "action": "buy", "quantity": "1,000", '
        '"order_type": "限价", "limit_price": "1500.5", "stop_loss": "¥1,450.00", '
        '"take_profit": "1,650", "confidence": "85%"}]</decision>'
    )
    (buy,) = reply.decisions
    assert buy.quantity == 1000
    assert buy.order_type is OrderType.LIMIT
    assert (buy.limit_price, buy.stop_loss, buy.take_profit) == (
        D("1500.5"),
        D("1450.00"),
        D("1650"),
    )
    assert buy.confidence == D("0.85")


def test_confidence_as_a_percent() -> None:
    reply = parse_reply('<decision>{"action": "wait", "confidence": 70}</decision>')
    assert reply.decisions[0].confidence == D("0.7")


def test_trailing_commas() -> None:
    reply = parse_reply(
        '<decision>[{"symbol": "600036.SH", "action": "buy", "quantity": 100,},]</decision>'
    )
    assert [d.symbol for d in reply.decisions] == ["600036.SH"]
    assert not reply.fallback


def test_a_truncated_reply_keeps_the_complete_decisions() -> None:
    reply = parse_reply(
        "<reasoning>Two ideas.</reasoning><decision>["
        '{"symbol": "600519.SH", "action": "sell", "quantity": 100},'
        '{"symbol": "600036.SH", "action": "buy", "quan'
    )
    assert not reply.fallback
    assert [(d.symbol, d.action) for d in reply.decisions] == [("600519.SH", Action.SELL)]
    assert [p.key for p in reply.problems if isinstance(p, Msg)] == ["ai.reply.truncated"]


def test_missing_closing_tags() -> None:
    reply = parse_reply('<reasoning>Looks fine<decision>[{"action": "wait"}]')
    assert reply.reasoning == "Looks fine"
    assert reply.decisions == [Decision("", Action.WAIT)]


def test_an_unreadable_symbol_is_a_problem_of_that_decision_only() -> None:
    reply = parse_reply(
        "<decision>["
        '{"symbol": "MOUTAI", "action": "buy", "quantity": 100},'
        '{"symbol": "600036", "action": "buy", "quantity": 100}'
        "]</decision>"
    )
    assert [d.symbol for d in reply.decisions] == ["600036.SH"]
    (problem,) = reply.problems
    assert "decision 1" in problem and "MOUTAI" in problem
    assert not reply.fallback


@pytest.mark.parametrize(
    ("item", "key"),
    [
        ('{"symbol": "600519", "action": "short", "quantity": 100}', "ai.reply.bad_action"),
        ('{"symbol": "600519", "action": "buy", "quantity": 150.5}', "ai.reply.bad_quantity"),
        ('{"symbol": "600519", "action": "buy", "quantity": -100}', "ai.reply.bad_quantity"),
        ('{"action": "buy", "quantity": 100}', "ai.reply.no_symbol"),
        ('{"symbol": "600519", "action": "buy", "limit_price": "cheap"}', "ai.reply.bad_number"),
        ('{"symbol": "600519", "action": "buy", "type": "stop"}', "ai.reply.bad_order_type"),
        ('{"symbol": "600519", "action": "buy", "confidence": 150}', "ai.reply.bad_confidence"),
        ('"buy 600519"', "ai.reply.not_object"),
    ],
)
def test_unreadable_fields_are_said(item: str, key: str) -> None:
    reply = parse_reply(f'<decision>[{item}, {{"action": "wait"}}]</decision>')
    assert reply.decisions == [Decision("", Action.WAIT)]
    assert [p.key for p in reply.problems if isinstance(p, Msg)] == [key]


def test_money_is_never_a_float() -> None:
    reply = parse_reply(CLEAN)
    for d in reply.decisions:
        for value in (d.limit_price, d.stop_loss, d.take_profit, d.confidence):
            assert value is None or isinstance(value, Decimal)


def test_the_catalogue_entries_say_the_same_in_both_languages() -> None:
    import string

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key, (en, zh) in TEXT.items():
        assert fields(en) == fields(zh), key


def test_the_baseline_models_replies_parse_cleanly() -> None:
    """The baseline speaks the protocol the parser reads: JSON numbers, nulls, order types."""
    text = (
        "<reasoning>EMA20 above EMA50; MACD rising.</reasoning><decision>"
        '[{"symbol": "600519.SH", "action": "buy", "quantity": 100, "order_type": "limit", '
        '"limit_price": 1450.5, "stop_loss": 1420.0, "take_profit": 1496.0, '
        '"confidence": 0.7, "reasoning": "trend up"}, '
        '{"symbol": "00700.HK", "action": "hold", "quantity": 0, "order_type": null, '
        '"limit_price": null, "stop_loss": null, "take_profit": null, "confidence": 0.5, '
        '"reasoning": "no signal"}]</decision>'
    )
    parsed = parse_reply(text)
    assert not parsed.fallback and not parsed.problems
    buy, hold = parsed.decisions
    assert buy.limit_price == Decimal("1450.5") and buy.quantity == 100
    assert hold.action.value == "hold" and hold.limit_price is None
