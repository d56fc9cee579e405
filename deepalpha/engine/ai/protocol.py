"""The reply protocol of the AI traders (SPEC §5).

A model answers ``<reasoning>…</reasoning><decision>[json array]</decision>``. Models are
sloppy: they fence the JSON, write full-width punctuation, send a lone object, chat around the
tags, stop mid-reply, leave trailing commas and quote their numbers. :func:`parse_reply` reads
all of that and never raises: a reply it cannot read becomes one recorded ``wait`` with the raw
text kept (``fallback=True``). What it had to skip is said in ``problems``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from deepalpha.engine.markets.symbols import SymbolError, normalize
from deepalpha.engine.orders import OrderType
from deepalpha.i18n import Msg


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision of a reply. ``symbol`` is canonical (``600519.SH``); it may be empty for a
    ``hold`` or ``wait`` about nothing in particular. Quantities are shares, not lots."""

    symbol: str
    action: Action
    quantity: int = 0
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    confidence: Decimal | None = None  # 0..1
    reasoning: str = ""

    @property
    def trades(self) -> bool:
        return self.action in (Action.BUY, Action.SELL)


@dataclass(frozen=True, slots=True)
class ParsedReply:
    reasoning: str
    decisions: list[Decision]
    problems: list[str] = field(default_factory=list)  # Msg entries
    raw: str = ""
    fallback: bool = False


# --- words the models use -----------------------------------------------------------------

_ACTIONS: dict[str, Action] = {
    "buy": Action.BUY,
    "long": Action.BUY,
    "open": Action.BUY,
    "add": Action.BUY,
    "买": Action.BUY,
    "买入": Action.BUY,
    "加仓": Action.BUY,
    "建仓": Action.BUY,
    "sell": Action.SELL,
    "close": Action.SELL,
    "exit": Action.SELL,
    "reduce": Action.SELL,
    "卖": Action.SELL,
    "卖出": Action.SELL,
    "减仓": Action.SELL,
    "清仓": Action.SELL,
    "平仓": Action.SELL,
    "hold": Action.HOLD,
    "keep": Action.HOLD,
    "持有": Action.HOLD,
    "继续持有": Action.HOLD,
    "wait": Action.WAIT,
    "none": Action.WAIT,
    "skip": Action.WAIT,
    "no_action": Action.WAIT,
    "pass": Action.WAIT,
    "观望": Action.WAIT,
    "等待": Action.WAIT,
    "不操作": Action.WAIT,
}
_ORDER_TYPES: dict[str, OrderType] = {
    "market": OrderType.MARKET,
    "mkt": OrderType.MARKET,
    "市价": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "lmt": OrderType.LIMIT,
    "限价": OrderType.LIMIT,
}
# Field names, and the other names models give them.
_FIELDS: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "code", "ticker", "stock", "代码", "股票代码"),
    "action": ("action", "side", "decision", "操作", "动作", "方向"),
    "quantity": ("quantity", "qty", "shares", "size", "数量", "股数"),
    "order_type": ("order_type", "type", "ordertype", "委托类型"),
    "limit_price": ("limit_price", "price", "limit", "entry_price", "委托价", "价格"),
    "stop_loss": ("stop_loss", "stop", "sl", "stoploss", "止损", "止损价"),
    "take_profit": ("take_profit", "target", "tp", "takeprofit", "止盈", "止盈价"),
    "confidence": ("confidence", "conf", "置信度", "信心"),
    "reasoning": ("reasoning", "reason", "rationale", "理由", "原因"),
}

_REASONING = re.compile(r"<reasoning>(.*?)(?:</reasoning>|<decision>|$)", re.S | re.I)
_DECISION = re.compile(r"<decision>(.*?)(?:</decision>|$)", re.S | re.I)
_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)(?:```|$)", re.S)
_TAG = re.compile(r"</?(?:reasoning|decision)>", re.I)
_NUMBER_NOISE = re.compile(r"[,_\s¥$￥]|HK\$|CNY|HKD|RMB|元|股|shares?", re.I)


class _Unreadable(Exception):
    """A field that cannot be read; carries the problem to record."""

    def __init__(self, problem: Msg) -> None:
        super().__init__(problem)
        self.problem = problem


def parse_reply(text: str) -> ParsedReply:
    """Read a model's reply. Never raises."""
    raw = text if isinstance(text, str) else ""
    try:
        return _parse(raw)
    except Exception:  # a parser bug must not stop a trader: record a wait with the raw reply
        return _fallback(raw, _reasoning_of(raw), [])


def _parse(raw: str) -> ParsedReply:
    text = _angle_brackets(raw)
    reasoning = _reasoning_of(text)
    m = _DECISION.search(text)
    region = m.group(1) if m else _REASONING.sub("", text)
    fence = _FENCE.search(region)
    if fence and any(c in fence.group(1) for c in "{[｛［"):
        region = fence.group(1)
    items, problems = _read_json(_normalise_json(region))
    if items is None:
        return _fallback(raw, reasoning, problems)
    decisions: list[Decision] = []
    for index, item in enumerate(items, 1):
        try:
            decisions.append(_decision(index, item))
        except _Unreadable as exc:
            problems.append(exc.problem)
    if items and not decisions:
        return _fallback(raw, reasoning, problems)
    return ParsedReply(reasoning, decisions, problems, raw, False)


def _fallback(raw: str, reasoning: str, problems: list[str]) -> ParsedReply:
    why = reasoning or _TAG.sub("", raw).strip()
    return ParsedReply(
        reasoning,
        [Decision("", Action.WAIT, reasoning=why)],
        [*problems, Msg("ai.reply.unreadable")],
        raw,
        True,
    )


def _angle_brackets(text: str) -> str:
    return text.replace("＜", "<").replace("＞", ">").replace("／", "/")


def _reasoning_of(text: str) -> str:
    m = _REASONING.search(_angle_brackets(text))
    return m.group(1).strip() if m else ""


# --- the JSON region ----------------------------------------------------------------------

_CLOSERS = {"“": "”", "”": "”", "‘": "’", "'": "'"}


def _normalise_json(text: str) -> str:
    """Make the JSON region strict JSON where the model wrote it loosely.

    Outside string values, full-width punctuation (，：［］｛｝ and full-width digits) becomes
    ASCII (NFKC) and a trailing comma before ``]`` or ``}`` is dropped. Strings quoted with
    “…” or '…' become "…". Inside string values nothing changes, so a reason written in Chinese
    keeps its own punctuation.
    """
    out: list[str] = []
    closer: str | None = None  # the quote that ends the string we are in
    escaped = False
    for ch in text:
        if closer is not None:
            if escaped:
                out.append(ch)
                escaped = False
            elif ch == "\\":
                out.append(ch)
                escaped = True
            elif ch == closer:
                out.append('"')
                closer = None
            elif ch == '"':
                out.append('\\"')  # an ASCII quote inside a “…” or '…' string
            elif ch in "\n\r\t":
                out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
            else:
                out.append(ch)
            continue
        if ch == '"':
            closer = '"'
            out.append('"')
        elif ch in _CLOSERS:
            closer = _CLOSERS[ch]
            out.append('"')
        else:
            norm = unicodedata.normalize("NFKC", ch)
            if norm in ("]", "}"):
                _drop_trailing_comma(out)
            out.append(norm)
    return "".join(out)


def _drop_trailing_comma(out: list[str]) -> None:
    i = len(out) - 1
    while i >= 0 and out[i].isspace():
        i -= 1
    if i >= 0 and out[i] == ",":
        del out[i]


def _read_json(text: str) -> tuple[list[Any] | None, list[str]]:
    """The decisions as JSON values: an array, a lone object, or objects one after another.
    A reply cut off mid-array keeps the objects that were complete."""
    decoder = json.JSONDecoder(parse_float=Decimal)
    starts = [i for i in (text.find("["), text.find("{")) if i >= 0]
    if not starts:
        return None, []
    start = min(starts)
    try:
        value, _ = decoder.raw_decode(text, start)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, list):
        return value, []
    if isinstance(value, dict):
        value = _unwrap(value)
        return (value if isinstance(value, list) else [value]), []
    # Truncated, or objects without an array around them: read whole objects one by one.
    items: list[Any] = []
    pos = start
    while True:
        pos = text.find("{", pos)
        if pos < 0:
            return (items or None), []
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            problems: list[str] = [Msg("ai.reply.truncated", count=len(items))] if items else []
            return (items or None), problems
        items.append(obj)


def _unwrap(obj: dict[str, Any]) -> Any:
    """``{"decisions": [...]}`` → the list inside."""
    if len(obj) == 1:
        (inner,) = obj.values()
        if isinstance(inner, list):
            return inner
    return obj


# --- one decision -------------------------------------------------------------------------


def _decision(index: int, item: Any) -> Decision:
    if not isinstance(item, dict):
        raise _Unreadable(Msg("ai.reply.not_object", index=index, text=_show(item)))
    values = _fields(item)
    action = _action(index, values.get("action"))
    symbol = _symbol(index, values.get("symbol"), action)
    quantity = _quantity(index, values.get("quantity"))
    limit_price = _price(index, "limit_price", values.get("limit_price"))
    order_type = _order_type(index, values.get("order_type"), limit_price)
    confidence = _confidence(index, values.get("confidence"))
    reasoning = values.get("reasoning")
    return Decision(
        symbol,
        action,
        quantity,
        order_type,
        limit_price,
        _price(index, "stop_loss", values.get("stop_loss")),
        _price(index, "take_profit", values.get("take_profit")),
        confidence,
        str(reasoning).strip() if reasoning is not None else "",
    )


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    keyed = {str(k).strip().lower().replace("-", "_").replace(" ", "_"): v for k, v in item.items()}
    out: dict[str, Any] = {}
    for name, aliases in _FIELDS.items():
        for alias in aliases:
            if alias in keyed:
                out[name] = keyed[alias]
                break
    return out


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return repr(text[:60])


def _action(index: int, value: Any) -> Action:
    word = str(value).strip().lower() if value is not None else ""
    action = _ACTIONS.get(word)
    if action is None:
        raise _Unreadable(Msg("ai.reply.bad_action", index=index, text=_show(value)))
    return action


def _symbol(index: int, value: Any, action: Action) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if action in (Action.BUY, Action.SELL):
            raise _Unreadable(Msg("ai.reply.no_symbol", index=index, action=action.value))
        return ""
    text = str(value).strip()
    try:
        return normalize(text)
    except SymbolError as exc:
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise _Unreadable(Msg("ai.reply.bad_symbol", index=index, reason=reason)) from None


def _number(value: Any) -> Decimal | None:
    """A number as the model wrote it: 100, 1500.5, "1,000", "¥1500", "100股"; ``None`` for
    null or empty. Raises ``ValueError`` for anything else."""
    if isinstance(value, bool):
        raise ValueError(value)
    if value is None:
        return None
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):  # not produced by our decoder; kept for safety
        number = Decimal(str(value))
    else:
        text = _NUMBER_NOISE.sub("", unicodedata.normalize("NFKC", str(value)))
        if text.lower() in ("", "null", "none", "n/a", "na", "-"):
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(value) from None
    if not number.is_finite():
        raise ValueError(value)
    return number


def _price(index: int, name: str, value: Any) -> Decimal | None:
    try:
        number = _number(value)
    except ValueError:
        raise _Unreadable(
            Msg("ai.reply.bad_number", index=index, field=name, text=_show(value))
        ) from None
    return number


def _quantity(index: int, value: Any) -> int:
    try:
        number = _number(value)
    except ValueError:
        number = Decimal(-1)
    if number is None:
        return 0
    if number < 0 or number != number.to_integral_value():
        raise _Unreadable(Msg("ai.reply.bad_quantity", index=index, text=_show(value)))
    return int(number)


def _order_type(index: int, value: Any, limit_price: Decimal | None) -> OrderType:
    if value is None or (isinstance(value, str) and not value.strip()):
        return OrderType.LIMIT if limit_price is not None else OrderType.MARKET
    kind = _ORDER_TYPES.get(str(value).strip().lower())
    if kind is None:
        raise _Unreadable(Msg("ai.reply.bad_order_type", index=index, text=_show(value)))
    return kind


def _confidence(index: int, value: Any) -> Decimal | None:
    """0..1; 0..100 reads as a percent ("85", "85%")."""
    text = value.strip() if isinstance(value, str) else None
    percent = bool(text and text.endswith(("%", "％")))
    try:
        number = _number(text.rstrip("%％") if text and percent else value)
    except ValueError:
        number = Decimal(-1)
    if number is None:
        return None
    if percent or number > 1:
        number = number / 100
    if not Decimal(0) <= number <= Decimal(1):
        raise _Unreadable(Msg("ai.reply.bad_confidence", index=index, text=_show(value)))
    return number
