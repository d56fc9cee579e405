"""One message catalogue for every label, message and rejection reason, in English and Chinese.

The engine speaks English in logs, storage and the API, but what it says is a :class:`Msg`: a
``str`` that remembers its catalogue key and parameters, so a screen can say the same thing in
the user's language. Screens use :func:`t` for their own labels.
"""

from __future__ import annotations

import locale
import os
from decimal import Decimal
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
    return template.format(**params)


def t(key: str, lang: str | None = None, **params: Any) -> str:
    """The catalogue text for ``key`` in ``lang`` (default: the current language)."""
    return render(key, lang or _language, params)


def say(text: str, lang: str | None = None) -> str:
    """Any engine text in ``lang``: a :class:`Msg` is re-rendered, plain text kept as is."""
    if isinstance(text, Msg):
        return render(text.key, lang or _language, text.params)
    return text


def to_stored(msg: Msg) -> tuple[str, dict[str, Any]]:
    """A message as (key, JSON-safe params) for storage: numbers, dates and times become the
    text they render as (templates carry no format specs, so the text reads the same)."""
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
) -> str:
    """¥1,234.50 / HK$1,234.50; in Chinese large amounts read in 万 and 亿 (¥1.23亿)."""
    lang = lang or _language
    prefix = CURRENCY_SIGN.get(currency, currency + " ")
    neg = amount < 0
    value = -amount if neg else amount
    if lang == "zh" and value >= 100_000_000:
        text = f"{value / 100_000_000:,.2f}亿"
    elif lang == "zh" and value >= 10_000:
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
    "Msg",
    "count",
    "from_stored",
    "language",
    "money",
    "say",
    "set_language",
    "t",
    "to_stored",
]
