"""Finding an instrument by what a person types: a code, an alias, a Chinese or English name.

The same search for every backend: ``LocalBackend`` over the engine's instruments,
``RemoteBackend`` over the list the server sent once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from deepalpha.engine.markets.instruments import Instrument
from deepalpha.engine.markets.symbols import SymbolError, normalize


class InstrumentSearch:
    def __init__(
        self,
        instruments: Iterable[Instrument],
        find: Callable[[str], Instrument | None] | None = None,
    ) -> None:
        """``find``: the exact match by another registry (the engine's, which also knows the
        A-shares it built since); by default the instruments given."""
        self._find = find
        self._by_symbol: dict[str, Instrument] = {}
        self._index: list[tuple[Instrument, tuple[str, ...]]] = []
        for inst in instruments:
            self._by_symbol[inst.symbol] = inst
            code, ex = inst.code, inst.exchange.value.lower()
            keys = [
                inst.symbol.lower(),
                code,
                inst.name.lower(),
                inst.name_en.lower(),
                f"{ex}{code}",
                f"{ex}.{code}",
            ]
            if inst.symbol.endswith(".HK"):
                keys += [code.lstrip("0"), f"hk.{code}"]
            self._index.append((inst, tuple(keys)))

    def find(self, text: str) -> Instrument | None:
        """The instrument ``text`` names exactly (``600519``, ``700.HK``), if there is one."""
        if self._find is not None:
            return self._find(text)
        try:
            return self._by_symbol.get(normalize(text))
        except SymbolError:
            return None

    def search(self, text: str, limit: int = 10) -> list[Instrument]:
        """The exact match first, then codes and aliases that start with ``text``, then names
        that contain it."""
        needle = text.strip().lower()
        if not needle:
            return []
        exact = self.find(text)
        starts: list[Instrument] = []
        contains: list[Instrument] = []
        for inst, keys in self._index:
            if inst is exact:
                continue
            if any(k.startswith(needle) for k in keys):
                starts.append(inst)
            elif any(needle in k for k in keys[2:4]):
                contains.append(inst)
        found = ([exact] if exact else []) + starts + contains
        return found[:limit]
