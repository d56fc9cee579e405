"""One backtest from files and settings to the JSON report: the CLI and the TUI both run it.

A backtest trades with a strategy, scripted orders, or an AI trader. An AI trader's model is the
rule-based ``baseline`` (no network), a profile from settings, or an ad-hoc ``custom``
endpoint. Replies are cached under the cache directory, keyed by what was asked, so a re-run
with the same data and settings asks the model nothing.

Before a run that would call a paid model, :func:`estimate` replays the backtest offline —
cached replies where there are some, ``wait`` where there are none — to count the calls still
to make and price them; the caller decides whether to go ahead. When every reply was cached
that replay *is* the run, and :func:`execute` returns it instead of replaying again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from deepalpha.app.ai_models import BASELINE, model_profile, priced, validation_settings
from deepalpha.app.model_keys import resolve_key
from deepalpha.app.settings import Settings
from deepalpha.engine.ai.baseline import BaselineModel
from deepalpha.engine.ai.client import (
    ModelError,
    ModelProfile,
    custom_profile,
    missing_key_message,
)
from deepalpha.engine.ai.reply_cache import CachingClient, ReplyCache
from deepalpha.engine.ai.validation import ValidationSettings
from deepalpha.engine.backtest.ai import AiSetup, ModelUnavailable, estimate_cost
from deepalpha.engine.backtest.report import build_report
from deepalpha.engine.backtest.runner import BacktestConfig, BacktestResult, run_backtest
from deepalpha.engine.backtest.scripted import (
    OrdersFileError,
    ScriptedOrder,
    check_symbols,
    load_orders,
)
from deepalpha.engine.backtest.strategies import Strategy, StrategyError, build_strategy
from deepalpha.engine.feeds.csv_replay import BarFileError, BarSeries, VolumeUnit, load_bar_files
from deepalpha.engine.markets.calendar import cache_dir
from deepalpha.engine.markets.instruments import InstrumentFileError, InstrumentRegistry
from deepalpha.engine.markets.symbols import SymbolError, normalize

CUSTOM = "custom"
REPLY_CACHE = "ai-replies"

Progress = Callable[[int, int], None]


class BacktestInputError(ValueError):
    """Bad input to a backtest: one clear line for the person who gave it."""


@dataclass(frozen=True, slots=True)
class AiOptions:
    """What the person asked of an AI trader (``--trader ai`` and its options)."""

    model: str = BASELINE  # a profile name, "custom" or "baseline"
    base_url: str | None = None  # custom only
    model_name: str | None = None  # custom only
    interval_minutes: int | None = None  # default: the setting ai.interval_minutes
    symbols: tuple[str, ...] = ()  # default: every symbol of the data
    lang: str = "en"


@dataclass(frozen=True, slots=True)
class AiPlan:
    """An AI trader ready to open: its profile (``None``: the baseline), key and rules."""

    profile_name: str
    profile: ModelProfile | None
    key: str | None = field(repr=False)
    cache_dir: Path
    interval_minutes: int
    symbols: tuple[str, ...]
    lang: str
    settings: ValidationSettings
    max_prompt_tokens: int

    @property
    def paid(self) -> bool:
        """Whether a call may cost money: the endpoint wants a key, or the model has a price.
        A paid endpoint missing from the price table still counts — its cost is unknown,
        not zero."""
        p = self.profile
        return p is not None and (
            p.needs_key or p.price_in_per_mtok > 0 or p.price_out_per_mtok > 0
        )

    @property
    def priced(self) -> bool:
        p = self.profile
        return p is not None and (p.price_in_per_mtok > 0 or p.price_out_per_mtok > 0)

    def setup(self, *, offline: bool = False) -> AiSetup:
        """A fresh model for one run (the run closes it)."""
        model: BaselineModel | CachingClient
        if self.profile is None:
            model = BaselineModel()
        else:
            model = CachingClient(
                self.profile, self.key, ReplyCache(self.cache_dir), offline=offline
            )
        return AiSetup(
            model=model,
            profile=self.profile_name,
            interval_minutes=self.interval_minutes,
            settings=self.settings,
            symbols=self.symbols,
            lang=self.lang,
            max_prompt_tokens=self.max_prompt_tokens,
        )


@dataclass(frozen=True, slots=True)
class Prepared:
    series: list[BarSeries]
    config: BacktestConfig
    instruments: InstrumentRegistry
    strategy: Strategy | None
    scripted: Sequence[ScriptedOrder]
    ai: AiPlan | None = None


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """What a run would still pay the model: ``calls`` replies not in the cache, each with its
    estimated prompt and at most ``max_tokens`` back. ``result`` is the offline replay when it
    needed no call at all: then it is the run."""

    profile: str
    model: str
    cycles: int
    cached: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    currency: str
    priced: bool
    result: BacktestResult | None = None


def prepare(
    settings: Settings,
    data: list[Path],
    cash: Decimal,
    strategy: str | None,
    params: dict[str, str],
    orders_file: Path | None,
    *,
    start: date | None = None,
    end: date | None = None,
    instruments_file: Path | None = None,
    volume_unit: str = "auto",
    participation: Decimal | None = None,
    ai: AiOptions | None = None,
) -> Prepared:
    if not data:
        raise BacktestInputError("choose at least one bar file")
    if sum(x is not None for x in (strategy, orders_file, ai)) != 1:
        raise BacktestInputError(
            "choose a strategy, an orders file or an AI trader (one of the three)"
        )
    if params and not strategy:
        raise BacktestInputError("--param applies to --strategy only")
    if start and end and start > end:
        raise BacktestInputError(f"--start {start} is after --end {end}")
    instruments = InstrumentRegistry.default()
    try:
        if instruments_file:
            instruments.load_file(instruments_file)
        strat = build_strategy(strategy, params) if strategy else None
        scripted = load_orders(orders_file) if orders_file else ()
        series = load_bar_files(data, instruments, VolumeUnit(volume_unit))
        if orders_file:
            check_symbols(scripted, orders_file, instruments, [s.symbol for s in series])
        if strat is not None:
            strat.lot_notes(s.instrument for s in series)  # a size below a lot: say so now
    except (BarFileError, OrdersFileError, StrategyError, InstrumentFileError) as exc:
        raise BacktestInputError(str(exc)) from None
    config = BacktestConfig(
        cash=cash,
        start=start,
        end=end,
        fees=settings.fees.schedule(),
        limit_rules=settings.rules.limits(),
        participation=participation or settings.backtest.participation,
        slippage_bps=settings.backtest.slippage_bps,
        fx={"CNY": Decimal(1), "HKD": settings.market.hkd_cny},
    )
    plan = _plan_ai(settings, ai, series) if ai is not None else None
    return Prepared(series, config, instruments, strat, scripted, plan)


def _plan_ai(settings: Settings, options: AiOptions, series: list[BarSeries]) -> AiPlan:
    daily = [s.source.name for s in series if not s.intraday]
    if daily:
        raise BacktestInputError(
            f"--trader ai decides every few minutes of trading and needs intraday bars "
            f"('datetime' rows); daily: {', '.join(daily)}"
        )
    in_data = [s.symbol for s in series]
    symbols: list[str] = []
    for text in options.symbols:
        try:
            symbol = normalize(text)
        except SymbolError as exc:
            raise BacktestInputError(f"--symbols: {exc}") from None
        if symbol not in in_data:
            raise BacktestInputError(
                f"--symbols: no bars for {symbol} in the data (it has {', '.join(in_data)})"
            )
        symbols.append(symbol)
    ai = settings.ai
    interval = ai.interval_minutes if options.interval_minutes is None else options.interval_minutes
    if interval < 1:
        raise BacktestInputError(f"--interval must be at least 1 minute, got {interval}")
    profile = _profile(options, settings)
    key = resolve_key(profile) if profile is not None else None
    if profile is not None and profile.needs_key and not key:
        raise BacktestInputError(missing_key_message(profile))
    return AiPlan(
        profile_name=options.model,
        profile=profile,
        key=key,
        cache_dir=cache_dir() / REPLY_CACHE,
        interval_minutes=interval,
        symbols=tuple(dict.fromkeys(symbols)),
        lang=options.lang,
        settings=validation_settings(ai),
        max_prompt_tokens=ai.max_prompt_tokens,
    )


def _profile(options: AiOptions, settings: Settings) -> ModelProfile | None:
    custom_only = options.base_url is not None or options.model_name is not None
    if options.model == CUSTOM:
        if not options.base_url or not options.model_name:
            raise BacktestInputError(
                "--model custom needs --base-url URL and --model-name NAME "
                "(an OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 and llama3.1)"
            )
        if not options.base_url.startswith(("http://", "https://")):
            raise BacktestInputError(f"--base-url {options.base_url!r} is not an http(s) URL")
        # A key in DEEPALPHA_MODEL_CUSTOM_KEY (or keyring) is sent; none is needed.
        return priced(custom_profile(options.base_url, options.model_name), settings.ai)
    if custom_only:
        raise BacktestInputError("--base-url and --model-name go with --model custom")
    if options.model == BASELINE:
        return None
    try:
        return model_profile(options.model, settings.ai)
    except ModelError as exc:
        raise BacktestInputError(exc.message) from None


def estimate(prepared: Prepared, progress: Progress | None = None) -> CostEstimate | None:
    """The cost of the model calls the run would still make; ``None`` when it calls no paid
    model (the baseline, a local or free endpoint)."""
    plan = prepared.ai
    if plan is None or plan.profile is None or not plan.paid:
        return None
    setup = plan.setup(offline=True)
    client = setup.model
    assert isinstance(client, CachingClient)
    result = _run(prepared, setup, progress)
    calls = client.misses
    profile = plan.profile
    return CostEstimate(
        profile=plan.profile_name,
        model=profile.model,
        cycles=len(result.decisions),
        cached=client.hits,
        calls=calls,
        prompt_tokens=client.miss_prompt_tokens,
        completion_tokens=calls * profile.max_tokens,
        cost=estimate_cost(profile, calls, client.miss_prompt_tokens),
        currency=profile.currency,
        priced=plan.priced,
        result=result if calls == 0 else None,
    )


def execute(
    prepared: Prepared,
    progress: Progress | None = None,
    *,
    estimated: CostEstimate | None = None,
) -> BacktestResult:
    if estimated is not None and estimated.result is not None:
        return estimated.result
    setup = prepared.ai.setup() if prepared.ai is not None else None
    return _run(prepared, setup, progress)


def _run(prepared: Prepared, ai: AiSetup | None, progress: Progress | None) -> BacktestResult:
    try:
        result = run_backtest(
            prepared.series,
            prepared.config,
            prepared.instruments,
            strategy=prepared.strategy,
            scripted=prepared.scripted,
            ai=ai,
            progress=progress,
        )
    except ModelUnavailable as exc:
        raise BacktestInputError(str(exc)) from None
    if result.bars == 0:
        raise BacktestInputError("no bars between --start and --end")
    return result


def run_backtest_job(
    settings: Settings,
    data: list[Path],
    cash: Decimal,
    strategy: str | None,
    params: dict[str, str],
    orders_file: Path | None,
    progress: Progress | None = None,
    *,
    ai: AiOptions | None = None,
) -> dict[str, Any]:
    """A whole backtest to its report. No cost confirmation here: a caller that may run a
    paid model asks :func:`estimate` first."""
    prepared = prepare(settings, data, cash, strategy, params, orders_file, ai=ai)
    return build_report(execute(prepared, progress))
