"""One AI trader's decision cycle (SPEC §5): context → prompts → model → parse → validate →
execute (``ai``) or propose (``hybrid``) → record.

Every cycle is recorded, whether it traded, waited or failed, and published as a
:class:`DecisionEvent` (storage upserts it by id; a hybrid proposal answered later publishes the
same record again with its result updated).

Safety that never depends on the model:

- after ``SAFE_MODE_AFTER`` model failures in a row the trader enters safe mode: buys are
  dropped (code ``SAFE_MODE``), sells still go through. The reply that brings the model back is
  still judged in safe mode — one answer after an outage is not yet trust — and the cycle after
  it trades normally;
- the stop-loss and take-profit of an accepted buy are kept by the trader and enforced by
  :meth:`AiTrader.check_exits` on quotes, with a market sell of the sellable shares;
- cycles of one trader never overlap: a cycle due while the last one still runs is skipped and
  counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Literal

from deepalpha.engine.ai.baseline import BaselineModel
from deepalpha.engine.ai.client import ChatClient, ModelError
from deepalpha.engine.ai.context import build_context
from deepalpha.engine.ai.prompts import fit_to_budget, render_prompts
from deepalpha.engine.ai.protocol import Action, Decision, parse_reply
from deepalpha.engine.ai.records import DecisionRecord, decision_json
from deepalpha.engine.ai.validation import TradeHistory, ValidationSettings, Verdict, validate
from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.clock import Clock
from deepalpha.engine.events import AiStateEvent, DecisionEvent, Event
from deepalpha.engine.ids import new_id
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market, market_of
from deepalpha.engine.orders import Order, OrderRequest, OrderStatus, OrderType, Side
from deepalpha.i18n import Msg, t, to_stored

SAFE_MODE = "SAFE_MODE"
USER_REJECTED = "USER_REJECTED"
EXPIRED = "EXPIRED"
SUPERSEDED = "SUPERSEDED"
SAFE_MODE_AFTER = 3  # consecutive model failures
MAX_PROMPT_TOKENS = 6000

Mode = Literal["ai", "hybrid"]


@dataclass(frozen=True, slots=True)
class Proposal:
    """An accepted decision of a hybrid trader, waiting for a person to approve it."""

    id: str
    request: OrderRequest
    created: datetime
    expires_at: datetime  # on the market clock
    record_id: str
    index: int  # the decision's place in the record's results
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    # A person's own time: the proposal stays open at least until this moment of the real
    # (monotonic) clock, however fast the simulated market runs.
    answer_by: float = 0.0


@dataclass(frozen=True, slots=True)
class Exits:
    """The stop-loss and take-profit an accepted buy came with."""

    stop_loss: Decimal | None
    take_profit: Decimal | None

    def crossed(self, price: Decimal) -> bool:
        return (self.stop_loss is not None and price <= self.stop_loss) or (
            self.take_profit is not None and price >= self.take_profit
        )


@dataclass(frozen=True, slots=True)
class _Answer:
    text: str
    model: str
    latency_ms: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)


def _result(
    decision: Decision,
    *,
    accepted: bool,
    status: str,
    code: str | None = None,
    reason: str | None = None,
    order: Order | None = None,
    quantity: int | None = None,
) -> dict[str, Any]:
    key, params = to_stored(reason) if isinstance(reason, Msg) else (None, None)
    return {
        "symbol": decision.symbol,
        "action": decision.action.value,
        "quantity": decision.quantity if quantity is None else quantity,
        "accepted": accepted,
        "status": status,
        "reject_code": str(code) if code is not None else None,
        "reject_reason": str(reason) if reason is not None else None,
        "reject_key": key,
        "reject_params": params,
        "order_id": order.id if order is not None else None,
    }


class AiTrader:
    """An AI trader on a paper broker. Drive it with :meth:`tick` (or :meth:`run_cycle`) on a
    timer and :meth:`check_exits` on quotes."""

    def __init__(
        self,
        trader_id: str,
        broker: PaperBroker,
        *,
        model: BaselineModel | ChatClient,
        symbols: Sequence[str],
        lang: str = "en",
        interval_minutes: int = 5,
        settings: ValidationSettings | None = None,
        mode: Mode = "ai",
        bars_source: Callable[[str], Sequence[Bar]],
        publish: Callable[[Event], None],
        clock: Clock,
        proposal_minutes: int | None = None,
        answer_seconds: float = 0.0,
        real_time: Callable[[], float] = time.monotonic,
        max_prompt_tokens: int = MAX_PROMPT_TOKENS,
        id_factory: Callable[[], str] = new_id,
    ) -> None:
        if mode not in ("ai", "hybrid"):
            raise ValueError(f"mode must be 'ai' or 'hybrid', got {mode!r}")
        self.trader_id = trader_id
        self.broker = broker
        self.model = model
        self.symbols = list(symbols)
        self.lang = lang
        self.interval = timedelta(minutes=interval_minutes)
        self.settings = settings or ValidationSettings()
        self.mode: Mode = mode
        self.bars_source = bars_source
        self.publish = publish
        self.clock = clock
        self.proposal_ttl = timedelta(minutes=proposal_minutes or interval_minutes)
        self.answer_seconds = answer_seconds  # real seconds a proposal waits at least
        self.real_time = real_time
        self.max_prompt_tokens = max_prompt_tokens
        self._new_id = id_factory
        self.history = TradeHistory()
        self.exits: dict[str, Exits] = {}
        self.cycle = 0
        self.last_cycle: datetime | None = None
        self.next_due: datetime | None = None  # None: due at the next continuous moment
        self.skipped = 0  # cycles that came due while the last one still ran
        self.failures = 0  # consecutive model failures
        self.safe_mode = False
        self._proposals: dict[str, Proposal] = {}
        self._records: dict[str, DecisionRecord] = {}  # records with proposals still open
        self._lock = asyncio.Lock()

    # --- scheduling -----------------------------------------------------------------------

    @property
    def markets(self) -> set[Market]:
        return {market_of(s) for s in self.symbols}

    @property
    def running(self) -> bool:
        return self._lock.locked()

    def should_run(self, now: datetime, phases: Mapping[Market, Phase]) -> bool:
        """In continuous trading of one of the trader's markets, ``interval`` after the last
        cycle was due."""
        if not any(phases.get(m) is Phase.CONTINUOUS for m in self.markets):
            return False
        return self.next_due is None or now >= self.next_due

    def tradable(self) -> list[str]:
        """The trader's symbols whose market is in continuous trading now: the only ones a
        cycle considers (a market at lunch or closed cannot take its orders)."""
        phase = self.broker.phase
        return [s for s in self.symbols if phase[market_of(s)] is Phase.CONTINUOUS]

    async def tick(self, now: datetime, phases: Mapping[Market, Phase]) -> DecisionRecord | None:
        """Run a cycle when one is due; skip (and count) it while the last one still runs —
        the schedule moves on, so a slow model is asked less often rather than queued up."""
        self.expire(now)
        if not self.should_run(now, phases):
            return None
        if self._lock.locked():
            self.skipped += 1
            self.next_due = now + self.interval
            return None
        return await self.run_cycle(now)

    # --- one cycle ------------------------------------------------------------------------

    async def run_cycle(self, now: datetime | None = None) -> DecisionRecord:
        async with self._lock:
            now = now or self.clock.now()
            self.cycle += 1
            self.last_cycle = now
            self.next_due = now + self.interval
            cycle = self.cycle
            symbols = self.tradable()
            if not symbols:
                return self._nothing_open(cycle, now)
            bars = {s: self.bars_source(s) for s in symbols}
            ctx = build_context(self.broker, self.trader_id, symbols, bars, now, lang=self.lang)
            ctx = fit_to_budget(ctx, self.max_prompt_tokens)
            system, user = render_prompts(
                ctx, trader_name=self.trader_id, min_reward_risk=self.settings.min_reward_risk
            )
            record = DecisionRecord(
                id=self._new_id(),
                trader_id=self.trader_id,
                cycle=cycle,
                time=now,
                model=self._model_name,
                system_prompt=system,
                user_prompt=user,
                raw_reply="",
                reasoning="",
            )
            try:
                if isinstance(self.model, BaselineModel):
                    started = time.monotonic()
                    text = self.model.reply(ctx)
                    answer = _Answer(
                        text, self.model.name, round((time.monotonic() - started) * 1000)
                    )
                else:
                    started = time.monotonic()
                    reply = await self.model.complete(system, user)
                    answer = _Answer(
                        reply.text,
                        reply.model,
                        reply.latency_ms,
                        reply.prompt_tokens,
                        reply.completion_tokens,
                        reply.cost,
                    )
            except ModelError as exc:
                self.failures += 1
                if self.failures >= SAFE_MODE_AFTER:
                    self.safe_mode = True
                record = dataclasses.replace(
                    record,
                    latency_ms=round((time.monotonic() - started) * 1000),
                    success=False,
                    error=f"{exc.kind}: {exc.message}",
                )
                self.publish(DecisionEvent(record))
                self._changed()
                return record
            parsed = parse_reply(answer.text)
            record = dataclasses.replace(
                record,
                model=answer.model,
                raw_reply=answer.text,
                reasoning=parsed.reasoning,
                decisions=[decision_json(d) for d in parsed.decisions],
                latency_ms=answer.latency_ms,
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                cost=answer.cost,
                error="; ".join(parsed.problems) or None,
            )
            results = self._act(record, parsed.decisions, now)
            record = dataclasses.replace(record, results=results)
            if any(r["status"] == "proposed" for r in results):
                self._records[record.id] = record
            # The model answered: trading resumes from the next cycle.
            self.failures = 0
            self.safe_mode = False
            self.publish(DecisionEvent(record))
            self._changed()
            return record

    def _nothing_open(self, cycle: int, now: datetime) -> DecisionRecord:
        """A cycle asked for while none of the trader's markets trades: recorded, and the
        model is not asked (nothing it says could be placed)."""
        markets = sorted(m.value for m in self.markets)
        reason = t("ai.no_market_open", self.lang, markets=", ".join(markets))
        record = DecisionRecord(
            id=self._new_id(),
            trader_id=self.trader_id,
            cycle=cycle,
            time=now,
            model=self._model_name,
            system_prompt="",
            user_prompt="",
            raw_reply="",
            reasoning=reason,
        )
        self.publish(DecisionEvent(record))
        self._changed()
        return record

    @property
    def _model_name(self) -> str:
        if isinstance(self.model, BaselineModel):
            return self.model.name
        return self.model.profile.model

    def _act(
        self, record: DecisionRecord, decisions: list[Decision], now: datetime
    ) -> list[dict[str, Any]]:
        """Judge the decisions, then place (ai) or propose (hybrid) the accepted ones."""
        blocked = [self.safe_mode and d.action is Action.BUY for d in decisions]
        judged = iter(
            validate(
                [d for d, b in zip(decisions, blocked, strict=True) if not b],
                broker=self.broker,
                trader_id=self.trader_id,
                now=now,
                history=self.history,
                settings=self.settings,
            )
        )
        results: list[dict[str, Any]] = []
        for index, (decision, is_blocked) in enumerate(zip(decisions, blocked, strict=True)):
            if is_blocked:
                reason = Msg("ai.rule.safe_mode", symbol=decision.symbol, failures=self.failures)
                results.append(
                    _result(
                        decision, accepted=False, status="rejected", code=SAFE_MODE, reason=reason
                    )
                )
                continue
            verdict = next(judged)
            results.append(self._outcome(record, index, verdict, now))
        return results

    def _outcome(
        self, record: DecisionRecord, index: int, verdict: Verdict, now: datetime
    ) -> dict[str, Any]:
        decision = verdict.decision
        if verdict.request is None:  # hold or wait
            return _result(decision, accepted=verdict.accepted, status=decision.action.value)
        if not verdict.accepted:
            return _result(
                decision,
                accepted=False,
                status="rejected",
                code=verdict.code,
                reason=verdict.reason,
            )
        if self.mode == "hybrid":
            # A newer view of the same trade replaces the one still waiting, so proposals do
            # not pile up while nobody answers.
            for old in self.proposals:
                same = (old.request.symbol, old.request.side) == (
                    verdict.request.symbol,
                    verdict.request.side,
                )
                if same:
                    del self._proposals[old.id]
                    reason = Msg("ai.proposal.superseded", cycle=record.cycle)
                    self._answer(
                        old,
                        partial(
                            _result,
                            accepted=False,
                            status="superseded",
                            code=SUPERSEDED,
                            reason=reason,
                        ),
                    )
            proposal = Proposal(
                self._new_id(),
                verdict.request,
                now,
                now + self.proposal_ttl,
                record.id,
                index,
                decision.stop_loss,
                decision.take_profit,
                answer_by=self.real_time() + self.answer_seconds,
            )
            self._proposals[proposal.id] = proposal
            return _result(decision, accepted=True, status="proposed")
        order = self._place(verdict.request, decision.stop_loss, decision.take_profit, now)
        return self._placed(decision, order)

    def _placed(self, decision: Decision, order: Order, status: str = "placed") -> dict[str, Any]:
        if order.status is OrderStatus.REJECTED:
            code = order.reject_code.value if order.reject_code is not None else None
            return _result(
                decision,
                accepted=False,
                status="rejected",
                code=code,
                reason=order.reject_reason,
                order=order,
                quantity=order.quantity,
            )
        return _result(decision, accepted=True, status=status, order=order, quantity=order.quantity)

    def _place(
        self,
        request: OrderRequest,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        now: datetime,
    ) -> Order:
        """Submit and remember what the trade means for the throttles and the exits."""
        pf = self.broker.portfolio(self.trader_id)
        held = pf.positions.get(request.symbol)
        before = held.quantity if held is not None else 0
        order = self.broker.submit(request)
        if order.status is OrderStatus.REJECTED:
            return order
        if request.side is Side.BUY:
            self.history.record_buy(request.symbol, now)
            if stop_loss is not None or take_profit is not None:
                self.exits[request.symbol] = Exits(stop_loss, take_profit)
        else:
            closed = request.quantity >= before
            self.history.record_sell(request.symbol, now, closed=closed)
            if closed:
                self.exits.pop(request.symbol, None)
        return order

    # --- hybrid proposals -----------------------------------------------------------------

    @property
    def proposals(self) -> list[Proposal]:
        """Proposals waiting for an answer, oldest first."""
        return sorted(self._proposals.values(), key=lambda p: p.created)

    def reconcile(self, records: Iterable[DecisionRecord]) -> int:
        """Mark as expired the stored results still saying "proposed" whose proposal is not
        open any more (lost in an unclean stop): the record must not promise an approval
        that can no longer happen. Returns how many were corrected."""
        open_slots = {(p.record_id, p.index) for p in self._proposals.values()}
        fixed = 0
        for record in records:
            if record.trader_id != self.trader_id:
                continue
            results = list(record.results)
            stale = [
                i
                for i, r in enumerate(results)
                if r.get("status") == "proposed" and (record.id, i) not in open_slots
            ]
            if not stale:
                continue
            for i in stale:
                r = results[i]
                decision = Decision(r["symbol"], Action(r["action"]), r["quantity"])
                results[i] = _result(
                    decision,
                    accepted=False,
                    status="expired",
                    code=EXPIRED,
                    reason=Msg("ai.proposal.lost"),
                )
            fixed += len(stale)
            self.publish(DecisionEvent(dataclasses.replace(record, results=results)))
        return fixed

    def open_records(self) -> list[DecisionRecord]:
        """The records whose proposals still wait for an answer."""
        return list(self._records.values())

    def approve(self, proposal_id: str, quantity: int | None = None) -> Order:
        """Place a proposal (with another quantity if given); raises ``KeyError`` if it is not
        open any more."""
        proposal = self._proposals.pop(proposal_id)
        request = proposal.request
        if quantity is not None:
            request = dataclasses.replace(request, quantity=quantity)
        now = self.clock.now()
        order = self._place(request, proposal.stop_loss, proposal.take_profit, now)
        self._answer(proposal, lambda d: self._placed(d, order, status="approved"))
        return order

    def reject(self, proposal_id: str) -> None:
        proposal = self._proposals.pop(proposal_id)
        self._answer(
            proposal,
            lambda d: _result(
                d,
                accepted=False,
                status="user_rejected",
                code=USER_REJECTED,
                reason=Msg("ai.proposal.rejected"),
            ),
        )

    def expire(self, now: datetime) -> list[Proposal]:
        """Drop the proposals nobody answered in time — their time on the market clock and a
        person's real minimum both over; returns them."""
        real = self.real_time()
        gone = [p for p in self._proposals.values() if p.expires_at <= now and p.answer_by <= real]
        for proposal in gone:
            del self._proposals[proposal.id]
            reason = Msg("ai.proposal.expired", time=proposal.expires_at.isoformat("T", "minutes"))
            self._answer(
                proposal,
                partial(_result, accepted=False, status="expired", code=EXPIRED, reason=reason),
            )
        return gone

    def _answer(self, proposal: Proposal, outcome: Callable[[Decision], dict[str, Any]]) -> None:
        """Update the proposal's result in its record and publish the record again."""
        record = self._records.get(proposal.record_id)
        if record is None:
            self._changed()
            return
        results = list(record.results)
        d = results[proposal.index]
        decision = Decision(d["symbol"], Action(d["action"]), d["quantity"])
        results[proposal.index] = outcome(decision)
        record = dataclasses.replace(record, results=results)
        if any(p.record_id == record.id for p in self._proposals.values()):
            self._records[record.id] = record
        else:
            self._records.pop(record.id, None)
        self.publish(DecisionEvent(record))
        self._changed()

    # --- stop-loss and take-profit --------------------------------------------------------

    def check_exits(self, quotes: Iterable[Quote]) -> list[Order]:
        """Sell (market) the sellable shares of each position whose last price crossed the
        stop-loss or take-profit of its buy. Shares locked by T+1 are sold on a later quote."""
        orders: list[Order] = []
        pf = self.broker.portfolio(self.trader_id)
        for q in quotes:
            exits = self.exits.get(q.symbol)
            if exits is None or not exits.crossed(q.last):
                continue
            pos = pf.positions.get(q.symbol)
            if pos is None or pos.quantity <= 0:
                self.exits.pop(q.symbol, None)
                continue
            if pos.available <= 0:
                continue
            request = OrderRequest(
                self.trader_id, q.symbol, Side.SELL, pos.available, OrderType.MARKET, None, "ai"
            )
            orders.append(self._place(request, None, None, self.clock.now()))
        if orders:
            self._changed()
        return orders

    # --- what survives a restart ----------------------------------------------------------

    def _changed(self) -> None:
        self.publish(AiStateEvent(self.trader_id, self.snapshot()))

    def snapshot(self) -> dict[str, Any]:
        """The trader's memory as JSON-safe data (Decimals and times as exact strings)."""
        h = self.history
        return {
            "version": 1,
            "cycle": self.cycle,
            "last_cycle": _iso(self.last_cycle),
            "next_due": _iso(self.next_due),
            "failures": self.failures,
            "safe_mode": self.safe_mode,
            "skipped": self.skipped,
            "exits": {s: [_text(e.stop_loss), _text(e.take_profit)] for s, e in self.exits.items()},
            "history": {
                "buys": [t.isoformat() for t in h.buys],
                "last_sell": {s: t.isoformat() for s, t in h.last_sell.items()},
                "opened": {s: t.isoformat() for s, t in h.opened.items()},
            },
            "proposals": [_proposal_json(p, self.real_time()) for p in self.proposals],
        }

    def restore(self, state: Mapping[str, Any], records: Iterable[DecisionRecord] = ()) -> None:
        """Carry on from :meth:`snapshot`; ``records`` are the stored records the open
        proposals belong to (their results are updated when a proposal is answered)."""
        self.cycle = int(state.get("cycle", 0))
        self.last_cycle = _time(state.get("last_cycle"))
        self.next_due = _time(state.get("next_due"))
        self.failures = int(state.get("failures", 0))
        self.safe_mode = bool(state.get("safe_mode", False))
        self.skipped = int(state.get("skipped", 0))
        self.exits = {
            s: Exits(_dec(sl), _dec(tp)) for s, (sl, tp) in state.get("exits", {}).items()
        }
        h = state.get("history", {})
        self.history = TradeHistory(
            buys=[datetime.fromisoformat(t) for t in h.get("buys", [])],
            last_sell={s: datetime.fromisoformat(t) for s, t in h.get("last_sell", {}).items()},
            opened={s: datetime.fromisoformat(t) for s, t in h.get("opened", {}).items()},
        )
        by_id = {r.id: r for r in records}
        self._proposals, self._records = {}, {}
        for data in state.get("proposals", []):
            proposal = _proposal_from(data, self.real_time())
            self._proposals[proposal.id] = proposal
            record = by_id.get(proposal.record_id)
            if record is not None:
                self._records[record.id] = record


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def _text(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _proposal_json(p: Proposal, real_now: float) -> dict[str, Any]:
    r = p.request
    return {
        "id": p.id,
        "trader_id": r.trader_id,
        "symbol": r.symbol,
        "side": r.side.value,
        "quantity": r.quantity,
        "type": r.type.value,
        "limit_price": _text(r.limit_price),
        "source": r.source,
        "created": p.created.isoformat(),
        "expires_at": p.expires_at.isoformat(),
        "record_id": p.record_id,
        "index": p.index,
        "stop_loss": _text(p.stop_loss),
        "take_profit": _text(p.take_profit),
        # The real time a person still has (a monotonic clock means nothing to the next run).
        "answer_seconds_left": max(0.0, p.answer_by - real_now),
    }


def _proposal_from(d: Mapping[str, Any], real_now: float) -> Proposal:
    request = OrderRequest(
        d["trader_id"],
        d["symbol"],
        Side(d["side"]),
        int(d["quantity"]),
        OrderType(d["type"]),
        _dec(d.get("limit_price")),
        d.get("source", "ai"),
    )
    return Proposal(
        d["id"],
        request,
        datetime.fromisoformat(d["created"]),
        datetime.fromisoformat(d["expires_at"]),
        d["record_id"],
        int(d["index"]),
        _dec(d.get("stop_loss")),
        _dec(d.get("take_profit")),
        real_now + float(d.get("answer_seconds_left", 0.0)),
    )
