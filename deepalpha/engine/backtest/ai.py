"""An AI trader inside a backtest: the same decision cycle as live, on simulated time.

The runner calls :meth:`AiDriver.on_bar` for every bar once the broker has matched it, and
:meth:`AiDriver.at` once all bars of a moment are in. At each moment the driver

1. sets the session phase of each market (so the prompt says where the session is);
2. checks the stop-loss and take-profit levels against the moment's closes (continuous
   trading only);
3. runs a decision cycle when one is due: every ``interval`` minutes of simulated time while a
   market of the trader is in continuous trading.

The trader sees only bars that have ended by the moment (bars are labelled by their end time):
no look-ahead. Its orders wait in the broker's book and are matched from the symbol's next bar,
exactly like a strategy's — a decision at a bar's close cannot trade at that close.

A model that cannot be reached or refuses the key fails the same way on every cycle: after
``SAFE_MODE_AFTER`` such failures in a row the run stops with :class:`ModelUnavailable` rather
than grind through the rest of the data in safe mode. Timeouts, rate limits and server errors
may pass, and only put the trader in safe mode.

Decision cycles are coroutines (a model call is network I/O); the driver runs them on its own
event loop, so the runner stays a plain loop and a backtest can run in a worker thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from deepalpha.engine.ai.baseline import BaselineModel
from deepalpha.engine.ai.client import MILLION, ChatClient, ModelProfile
from deepalpha.engine.ai.context import DecisionContext
from deepalpha.engine.ai.cycle import MAX_PROMPT_TOKENS, SAFE_MODE_AFTER, AiTrader
from deepalpha.engine.ai.records import DecisionRecord
from deepalpha.engine.ai.reply_cache import CachingClient
from deepalpha.engine.ai.validation import ValidationSettings
from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.events import DecisionEvent, Event
from deepalpha.engine.ids import sequential
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.sessions import Phase, phase_at
from deepalpha.engine.markets.symbols import Market, market_of

# Bars kept per symbol for the indicators: EMA 50 on 15-minute bars needs 750 one-minute bars.
# A bounded window also keeps each cycle's cost flat over a long replay.
BARS_KEPT = 800

Model = BaselineModel | ChatClient
# Failures that say the endpoint itself is wrong (address, key, model name), not the moment.
LASTING_FAILURES = ("connection", "auth", "bad_request", "missing_key")


class ModelUnavailable(RuntimeError):
    """The model failed every cycle in a row in a way waiting will not fix."""


class ReplayBaseline(BaselineModel):
    """The baseline reading the last close as the ask.

    The baseline buys only from an ask, and a bar replay has no order book: the close of the
    latest bar is the best stand-in for where a buy would start. Only the baseline's view
    changes — an LLM's prompt still says "ask n/a", which is the truth of a replay.
    """

    def reply(self, ctx: DecisionContext) -> str:
        symbols = tuple(
            dataclasses.replace(s, ask=s.last) if s.ask is None else s for s in ctx.symbols
        )
        return BaselineModel.reply(self, dataclasses.replace(ctx, symbols=symbols))


def for_replay(model: Model) -> Model:
    if isinstance(model, BaselineModel) and not isinstance(model, ReplayBaseline):
        return ReplayBaseline(**{f.name: getattr(model, f.name) for f in dataclasses.fields(model)})
    return model


@dataclass(frozen=True, slots=True)
class AiSetup:
    """An AI trader for one backtest. ``symbols`` empty: every symbol of the data.

    The run closes a :class:`ChatClient` it is given: an httpx client must be closed on the
    event loop that used it, and that loop is the run's own.
    """

    model: Model
    profile: str = "baseline"  # the name the user chose, for the report
    interval_minutes: int = 5
    settings: ValidationSettings = field(default_factory=ValidationSettings)
    symbols: tuple[str, ...] = ()
    lang: str = "en"
    max_prompt_tokens: int = MAX_PROMPT_TOKENS


@dataclass(frozen=True, slots=True)
class AiSummary:
    """What the model did in one run. Tokens and cost count the replies fetched in this run;
    replies served from the cache cost nothing (their records keep their token counts)."""

    profile: str
    model: str
    base_url: str | None
    interval_minutes: int
    symbols: tuple[str, ...]
    cycles: int
    model_calls: int  # cycles that asked the model (failed calls included)
    cached_replies: int
    failed_cycles: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    currency: str
    cached_cycles: frozenset[int]


def estimate_cost(profile: ModelProfile, calls: int, prompt_tokens: int) -> Decimal:
    """At most what ``calls`` requests cost: their prompts, and ``max_tokens`` each back."""
    completion = calls * profile.max_tokens
    return (
        Decimal(prompt_tokens) * profile.price_in_per_mtok
        + Decimal(completion) * profile.price_out_per_mtok
    ) / MILLION


class AiDriver:
    def __init__(
        self,
        setup: AiSetup,
        broker: PaperBroker,
        clock: ManualClock,
        trader_id: str,
        data_symbols: Sequence[str],
    ) -> None:
        symbols = list(setup.symbols or dict.fromkeys(data_symbols))
        missing = [s for s in symbols if s not in data_symbols]
        if missing:
            raise ValueError(f"no bars for {', '.join(missing)} in the data")
        self.setup = setup
        self.broker = broker
        self.clock = clock
        self.symbols = symbols
        self.model = for_replay(setup.model)
        self.records: list[DecisionRecord] = []
        self.cached: set[int] = set()
        self._history: dict[str, list[Bar]] = {s: [] for s in symbols}
        self.trader = AiTrader(
            trader_id,
            broker,
            model=self.model,
            symbols=symbols,
            lang=setup.lang,
            interval_minutes=setup.interval_minutes,
            settings=setup.settings,
            mode="ai",
            bars_source=self._bars,
            publish=self._publish,
            clock=clock,
            max_prompt_tokens=setup.max_prompt_tokens,
            id_factory=sequential("D"),
        )
        self._loop = asyncio.Runner()

    def _bars(self, symbol: str) -> Sequence[Bar]:
        return self._history.get(symbol, [])[-BARS_KEPT:]

    def _publish(self, event: Event) -> None:
        if isinstance(event, DecisionEvent):
            self.records.append(event.record)

    def on_bar(self, bar: Bar) -> None:
        history = self._history.get(bar.symbol)
        if history is not None:
            history.append(bar)
            if len(history) > 2 * BARS_KEPT:  # trim now and then, not on every bar
                del history[:-BARS_KEPT]

    def at(self, moment: datetime, bars: Sequence[Bar], trading: Mapping[Market, object]) -> None:
        """All bars of ``moment`` are matched; ``trading``: the markets trading today."""
        self.clock.set(moment)
        phases = {m: phase_at(m, moment) if m in trading else Phase.CLOSED for m in Market}
        for m, phase in phases.items():
            self.broker.set_phase(m, phase)
        quotes = [
            Quote(b.symbol, b.time, b.close, None, None)
            for b in bars
            if phases[market_of(b.symbol)] is Phase.CONTINUOUS
        ]
        if quotes and self.trader.exits:
            self.trader.check_exits(quotes)
        if not self.trader.should_run(moment, phases):
            return
        record = self._loop.run(self.trader.tick(moment, phases))
        if record is None:
            return
        if isinstance(self.model, CachingClient) and self.model.last_cached:
            self.cached.add(record.cycle)
        kind = (record.error or "").split(":", 1)[0]
        if (
            not record.success
            and kind in LASTING_FAILURES
            and self.trader.failures >= SAFE_MODE_AFTER
        ):
            raise ModelUnavailable(
                f"the model failed {self.trader.failures} decision cycles in a row, the last at "
                f"{moment.isoformat(timespec='minutes')} ({record.error}); the backtest stopped"
            )

    def close(self) -> None:
        try:
            if isinstance(self.model, ChatClient):
                self._loop.run(self.model.aclose())
        finally:
            self._loop.close()

    def summary(self) -> AiSummary:
        asked = [r for r in self.records if r.cycle not in self.cached]
        model = self.model
        llm = isinstance(model, ChatClient)
        return AiSummary(
            profile=self.setup.profile,
            model=model.profile.model if isinstance(model, ChatClient) else model.name,
            base_url=model.profile.base_url if isinstance(model, ChatClient) else None,
            interval_minutes=self.setup.interval_minutes,
            symbols=tuple(self.symbols),
            cycles=len(self.records),
            model_calls=len(asked) if llm else 0,
            cached_replies=len(self.cached),
            failed_cycles=sum(1 for r in self.records if not r.success),
            prompt_tokens=sum(r.prompt_tokens for r in asked),
            completion_tokens=sum(r.completion_tokens for r in asked),
            cost=sum((r.cost for r in asked), Decimal(0)),
            currency=model.profile.currency if isinstance(model, ChatClient) else "CNY",
            cached_cycles=frozenset(self.cached),
        )
