"""The event bus (inline handlers, async subscribers that never lose an order) and clocks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import ManualClock, SimulatedClock, WallClock
from deepalpha.engine.events import Event, FillEvent, NotificationEvent, QuoteEvent
from deepalpha.engine.marketdata import Quote

T0 = datetime(2024, 3, 4, 1, 30, tzinfo=UTC)


def _quote(i: int) -> QuoteEvent:
    p = Decimal("10.00") + Decimal(i) / 100
    return QuoteEvent(Quote("600000.SH", T0, p, p, p))


def test_inline_handlers_get_their_type_and_subclasses_in_order() -> None:
    bus = EventBus()
    seen: list[Event] = []
    every: list[Event] = []
    bus.on(QuoteEvent, seen.append)
    bus.on(Event, every.append)
    note = NotificationEvent("information", "hello")
    bus.publish(_quote(1))
    bus.publish(note)
    bus.publish(_quote(2))
    assert [e.quote.last for e in seen] == [Decimal("10.01"), Decimal("10.02")]  # type: ignore[attr-defined]
    assert every[1] is note and len(every) == 3
    assert bus.wants(QuoteEvent) and bus.wants(FillEvent)  # Event handler takes everything
    bus.off(Event, every.append)
    assert not bus.wants(FillEvent)


def test_slow_subscriber_drops_old_quotes_but_never_other_events() -> None:
    async def scenario() -> tuple[list[Event], int]:
        bus = EventBus()
        sub = bus.subscribe(QuoteEvent, NotificationEvent, maxsize=3)
        for i in range(10):
            bus.publish(_quote(i))
        for i in range(5):
            bus.publish(NotificationEvent("information", str(i)))
        got = [await sub.get() for _ in range(len(sub))]
        sub.close()
        bus.publish(_quote(99))
        assert len(sub) == 0  # closed: nothing more arrives
        return got, sub.dropped

    got, dropped = asyncio.run(scenario())
    quotes = [e for e in got if isinstance(e, QuoteEvent)]
    notes = [e for e in got if isinstance(e, NotificationEvent)]
    assert len(quotes) == 3 and dropped == 7
    # The newest quotes are kept: each one supersedes the quotes before it.
    assert [q.quote.last for q in quotes] == [Decimal("10.07"), Decimal("10.08"), Decimal("10.09")]
    assert [n.message for n in notes] == ["0", "1", "2", "3", "4"]


def test_manual_clock_moves_only_when_told_and_refuses_naive_times() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    clock.advance(timedelta(minutes=5))
    assert clock.now() == T0 + timedelta(minutes=5)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2024, 3, 4, 9, 30))  # noqa: DTZ001 - the point of the test


@pytest.mark.wall_clock
def test_simulated_clock_runs_faster_and_jumps() -> None:
    clock = SimulatedClock(T0, speed=3600)
    first = clock.now()
    later = clock.now()
    assert first >= T0 and later >= first
    clock.jump(T0 + timedelta(days=1))
    assert clock.now() - (T0 + timedelta(days=1)) < timedelta(hours=1)
    assert WallClock().now().tzinfo is not None
