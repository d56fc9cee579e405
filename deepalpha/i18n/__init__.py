"""One message catalogue for every label, message and rejection reason, in English and Chinese.

The engine speaks English in logs, storage and the API, but what it says is a :class:`Msg`: a
``str`` that remembers its catalogue key and parameters, so a screen can say the same thing in
the user's language. Screens use :func:`t` for their own labels.
"""

from __future__ import annotations

import locale
import os
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from string import Formatter
from typing import Any

from deepalpha.i18n import (
    catalogue,
    text_admin,
    text_ai,
    text_ai_rules,
    text_app,
    text_bindings,
    text_market,
    text_orders,
    text_ticket,
)

# One catalogue, kept in a few files by area so each stays readable.
MESSAGES: dict[str, tuple[str, str]] = {}
for _part in (
    catalogue.MESSAGES,
    text_admin.TEXT,
    text_app.TEXT,
    text_bindings.TEXT,
    text_market.TEXT,
    text_orders.TEXT,
    text_ticket.TEXT,
    text_ai_rules.TEXT,
    text_ai.TEXT,
):
    _clash = MESSAGES.keys() & _part.keys()
    if _clash:
        raise RuntimeError(f"catalogue keys defined twice: {sorted(_clash)}")
    MESSAGES.update(_part)

LANGUAGES = ("en", "zh")
_language = "en"


class Msg(str):
    """An English message with its key and parameters."""

    key: str
    params: dict[str, Any]

    def __new__(cls, key: str, **params: Any) -> Msg:
        obj = super().__new__(cls, render(key, "en", params))
        obj.key = key
        obj.params = params
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.key, self.params))


def _rebuild(key: str, params: dict[str, Any]) -> Msg:
    return Msg(key, **params)


def render(key: str, lang: str, params: dict[str, Any]) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        raise KeyError(f"no message {key!r} in the catalogue")
    template = entry[1] if lang == "zh" else entry[0]
    if not params:
        return template
    if lang != "en":  # a Msg inside a message (a market, a phase) speaks the same language
        params = {k: say(v, lang) if isinstance(v, Msg) else v for k, v in params.items()}
    plain, specs = _compiled(template)
    if specs:
        params = {**params}
        for slot, name, spec in specs:
            params[slot] = _SPECS[spec](params[name], lang)
    return plain.format(**params)


# --- how numbers read in a message ------------------------------------------------------------
# A template names how each number reads: ``{need:money}`` (to the cent, with separators),
# ``{price:price}`` (the tick's decimals, at least two), ``{lot:qty}`` (a whole count with
# separators) or a counted noun, ``{quantity:shares}`` ("1 share", "1,000 shares"; see
# ``NOUNS``). The engine passes raw numbers; stored parameters come back as their text, which
# reads the same through these specs.

# English noun → (one, many, Chinese measure word and noun said after the number).
NOUNS: dict[str, tuple[str, str, str]] = {
    "shares": ("share", "shares", "股"),
    "lots": ("lot", "lots", "手"),
    "orders": ("order", "orders", "笔委托"),
    "open_orders": ("open order", "open orders", "笔挂单"),
    "positions": ("position", "positions", "只持仓"),
    "traders": ("trader", "traders", "位交易员"),
    "cycles": ("cycle", "cycles", "轮"),
    "records": ("record", "records", "条记录"),
    "decisions": ("decision", "decisions", "条决策"),
    "backups": ("backup", "backups", "个备份"),
    "problems": ("problem", "problems", "个问题"),
    "changes": ("change", "changes", "条变更"),
    "minutes": ("minute", "minutes", "分钟"),
    "buys": ("buy", "buys", "次买入"),
    "model_calls": ("model call", "model calls", "次模型调用"),
    "model_failures": ("model failure", "model failures", "次模型失败"),
    "fills": ("fill", "fills", "笔成交"),
}


def plural(n: int, noun: str, lang: str | None = None) -> str:
    """A count with its noun: "1 share", "2 shares", "1,000 orders"; in Chinese the number
    and its measure word ("100 股", "3 笔委托"): Chinese nouns have no plural."""
    one, many, zh = NOUNS[noun]
    if (lang or _language) == "zh":
        return f"{n:,} {zh}"
    return f"{n:,} {one if n == 1 else many}"


def _number(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, str):  # a stored parameter: the number's own text
        try:
            return Decimal(value.replace(",", ""))
        except InvalidOperation:
            return None
    return None


def amount_text(value: Decimal) -> str:
    """Money without its sign: 302,868.00 — separators, rounded half-up to the cent."""
    return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"


def price_text(value: Decimal) -> str:
    """A price with separators and the decimals it was given (at least two): 1,514.00,
    0.485, and an off-grid 36.205 as typed."""
    exponent = value.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:,.{places}f}"


def _spec_money(value: Any, lang: str) -> str:
    number = _number(value)
    return str(value) if number is None or not number.is_finite() else amount_text(number)


def _spec_price(value: Any, lang: str) -> str:
    number = _number(value)
    return str(value) if number is None or not number.is_finite() else price_text(number)


def _spec_qty(value: Any, lang: str) -> str:
    number = _number(value)
    if number is None or not number.is_finite() or number != number.to_integral_value():
        return str(value)
    return f"{int(number):,}"


def _spec_noun(noun: str) -> Any:
    def said(value: Any, lang: str) -> str:
        number = _number(value)
        if number is None or not number.is_finite() or number != number.to_integral_value():
            return f"{value} {NOUNS[noun][1 if lang != 'zh' else 2]}"
        return plural(int(number), noun, lang)

    return said


_SPECS: dict[str, Any] = {
    "money": _spec_money,
    "price": _spec_price,
    "qty": _spec_qty,
    **{noun: _spec_noun(noun) for noun in NOUNS},
}


@cache
def _compiled(template: str) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    """The template with our specs taken out (each such field becomes a slot the value is
    formatted into), and which fields they were: parsed once per template."""
    parts: list[str] = []
    specs: list[tuple[str, str, str]] = []
    for literal, name, spec, conversion in Formatter().parse(template):
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if spec in _SPECS and conversion is None:
            slot = f"_n{len(specs)}"
            specs.append((slot, name, spec))
            parts.append("{" + slot + "}")
        else:
            parts.append(
                "{"
                + name
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
    if not specs:
        return template, ()
    return "".join(parts), tuple(specs)


def t(key: str, lang: str | None = None, **params: Any) -> str:
    """The catalogue text for ``key`` in ``lang`` (default: the current language)."""
    return render(key, lang or _language, params)


def say(text: str, lang: str | None = None) -> str:
    """Any engine text in ``lang``: a :class:`Msg` is re-rendered, plain text kept as is."""
    if isinstance(text, Msg):
        return render(text.key, lang or _language, text.params)
    return text


def to_stored(msg: Msg) -> tuple[str, dict[str, Any]]:
    """A message as (key, JSON-safe params) for storage: numbers, dates and times become their
    text (a Decimal keeps its digits, so ``{need:money}`` or ``{price:price}`` reads the same
    from the text as from the number)."""
    return msg.key, {k: _stored_value(v) for k, v in msg.params.items()}


def _stored_value(value: Any) -> Any:
    if isinstance(value, Msg):
        key, params = to_stored(value)
        return {"$msg": key, "params": params}
    if value is None or isinstance(value, bool | int | float) or type(value) is str:
        return value
    return str(value)  # Decimal, date, datetime, str subclasses: their text


def from_stored(key: str | None, params: dict[str, Any] | None, text: str | None) -> str | None:
    """The message stored by :func:`to_stored`, or the plain ``text`` when the key is gone from
    the catalogue (or the parameters no longer fit its templates)."""
    if not key or key not in MESSAGES:
        return text
    try:
        msg = Msg(key, **{k: _loaded_value(v) for k, v in (params or {}).items()})
        render(key, "zh", msg.params)
    except (KeyError, IndexError, ValueError):
        return text
    return msg


def _loaded_value(value: Any) -> Any:
    if isinstance(value, dict) and "$msg" in value:
        loaded = from_stored(value["$msg"], value.get("params"), None)
        if loaded is None:
            raise KeyError(value["$msg"])
        return loaded
    return value


def set_language(lang: str) -> None:
    global _language
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    _language = lang


def language() -> str:
    return _language


def language_from_locale() -> str:
    """zh when the environment's locale is Chinese, else en."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    loc = locale.getlocale()[0] or ""
    return "zh" if loc.lower().startswith("zh") else "en"


CURRENCY_SIGN = {"CNY": "¥", "HKD": "HK$"}


def money(
    amount: Decimal,
    currency: str = "CNY",
    lang: str | None = None,
    *,
    places: int = 2,
    sign: bool = False,
    compact: bool = False,
) -> str:
    """¥1,234,567.89 / HK$1,234.50, to the cent wherever a balance or P&L is read in full;
    ``compact`` (narrow table columns only) reads large amounts in 万 and 亿 in Chinese
    (¥1.23亿)."""
    lang = lang or _language
    prefix = CURRENCY_SIGN.get(currency, currency + " ")
    neg = amount < 0
    value = -amount if neg else amount
    if compact and lang == "zh" and value >= 100_000_000:
        text = f"{value / 100_000_000:,.2f}亿"
    elif compact and lang == "zh" and value >= 10_000:
        text = f"{value / 10_000:,.2f}万"
    else:
        text = f"{value:,.{places}f}"
    head = "-" if neg else ("+" if sign and amount > 0 else "")
    return f"{head}{prefix}{text}"


def count(n: int, lang: str | None = None) -> str:
    """Share counts and volumes: 12,345 or, in Chinese, 1.23万 / 4.56亿."""
    lang = lang or _language
    if lang == "zh" and n >= 10_000:
        return f"{n / 100_000_000:.2f}亿" if n >= 100_000_000 else f"{n / 10_000:.2f}万"
    return f"{n:,}"


__all__ = [
    "LANGUAGES",
    "NOUNS",
    "Msg",
    "amount_text",
    "count",
    "from_stored",
    "language",
    "money",
    "plural",
    "price_text",
    "say",
    "set_language",
    "t",
    "to_stored",
]
