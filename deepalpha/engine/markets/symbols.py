"""Canonical symbols and the aliases traders type.

Canonical forms: ``600519.SH``, ``000001.SZ``, ``830799.BJ``, ``00700.HK``. Aliases accepted on
input: ``sh600519``, ``600519``, ``SH.600519``, ``600519.SS``, ``700.HK``, ``0700.HK``,
``HK.00700``, ``hk00700``.
"""

from __future__ import annotations

import re
from enum import StrEnum

from deepalpha.i18n import Msg


class Market(StrEnum):
    CN = "CN"  # A-shares: SSE, SZSE, BSE
    HK = "HK"


class Exchange(StrEnum):
    SH = "SH"
    SZ = "SZ"
    BJ = "BJ"
    HK = "HK"


EXCHANGE_MARKET = {
    Exchange.SH: Market.CN,
    Exchange.SZ: Market.CN,
    Exchange.BJ: Market.CN,
    Exchange.HK: Market.HK,
}
CURRENCY = {Market.CN: "CNY", Market.HK: "HKD"}


class SymbolError(ValueError):
    """A symbol that cannot be read; the message says what was not understood."""


_SUFFIX = re.compile(r"^(?P<code>\d{1,6})\.(?P<ex>SH|SS|SZ|BJ|HK)$", re.IGNORECASE)
_PREFIX = re.compile(r"^(?P<ex>SH|SZ|BJ|HK)[.:]?(?P<code>\d{1,6})$", re.IGNORECASE)
_BARE = re.compile(r"^\d{1,6}$")


def infer_a_exchange(code: str) -> Exchange:
    """The exchange of a six-digit A-share code, from its leading digits."""
    # BSE's 920xxx codes (new listings and migrated codes, 2024) must be read before SSE's 9xx.
    if code[0] in "48" or code.startswith("92"):
        return Exchange.BJ
    if code[0] in "569":  # 60/68 stocks, 5x funds, 900 B shares on SSE
        return Exchange.SH
    if code[0] in "0123":  # 00/30 stocks, 1x funds, 20 B shares on SZSE
        return Exchange.SZ
    raise SymbolError(Msg("symbol.unknown_exchange", code=repr(code)))


def normalize(text: str) -> str:
    """Return the canonical symbol for ``text`` or raise :class:`SymbolError` saying why."""
    raw = text.strip()
    if not raw:
        raise SymbolError(Msg("symbol.empty"))
    m = _SUFFIX.match(raw) or _PREFIX.match(raw)
    if m:
        code, ex = m.group("code"), m.group("ex").upper()
        if ex == "SS":  # Yahoo's suffix for Shanghai
            ex = "SH"
        if ex == "HK":
            if len(code) > 5:
                raise SymbolError(Msg("symbol.hk_digits", text=repr(text)))
            return f"{code.zfill(5)}.HK"
        if len(code) != 6:
            raise SymbolError(Msg("symbol.a_digits", text=repr(text)))
        return f"{code}.{ex}"
    if _BARE.match(raw):
        if len(raw) == 6:
            return f"{raw}.{infer_a_exchange(raw)}"
        return f"{raw.zfill(5)}.HK"
    raise SymbolError(Msg("symbol.unreadable", text=repr(text)))


def split(symbol: str) -> tuple[str, Exchange]:
    code, _, ex = symbol.partition(".")
    return code, Exchange(ex)


def market_of(symbol: str) -> Market:
    return Market.HK if symbol.endswith(".HK") else Market.CN
