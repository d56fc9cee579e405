"""What a headless engine (``deepalpha serve``, run by deepalpha.server.run) logs of its work,
as JSON lines, and the exit status of a stop with changes left unsaved."""

from __future__ import annotations

import logging

from deepalpha.app.runtime import Runtime
from deepalpha.engine.events import (
    DecisionEvent,
    FillEvent,
    NotificationEvent,
    OrderEvent,
    SessionEvent,
    TraderHaltedEvent,
)

UNSAVED_EXIT = 3  # stopped, but changes could not be written (2 is a person's mistake)


def log_activity(runtime: Runtime) -> None:
    log = logging.getLogger("deepalpha.activity")

    def order(e: OrderEvent) -> None:
        o = e.order
        log.info(
            "order %s %s",
            o.id,
            o.status.value,
            extra={
                "fields": {
                    "trader": o.trader_id,
                    "symbol": o.symbol,
                    "side": o.side.value,
                    "quantity": o.quantity,
                    "status": o.status.value,
                    "reject_code": o.reject_code.value if o.reject_code else None,
                }
            },
        )

    def fill(e: FillEvent) -> None:
        f = e.fill
        log.info(
            "fill %s %s %d @ %s",
            f.symbol,
            f.side.value,
            f.quantity,
            f.price,
            extra={
                "fields": {
                    "trader": f.trader_id,
                    "order": f.order_id,
                    "amount": str(f.amount),
                    "fees": str(f.fees.total),
                }
            },
        )

    def session(e: SessionEvent) -> None:
        log.info(
            "%s market %s%s",
            e.market.value,
            e.phase.value,
            " (simulated)" if e.simulated else "",
            extra={"fields": {"market_time": e.time.isoformat()}},
        )

    def halted(e: TraderHaltedEvent) -> None:
        log.warning("trader %s halted: %s", e.trader_id, e.reason)

    def note(e: NotificationEvent) -> None:
        log.log(logging.ERROR if e.severity == "error" else logging.INFO, e.message)

    def decision(e: DecisionEvent) -> None:
        r = e.record
        actions = [
            f"{a['action']} {a['symbol']} {a['quantity']} {a['status']}"
            for a in r.results
            if a["action"] in ("buy", "sell")
        ]
        log.log(
            logging.INFO if r.success else logging.WARNING,
            "decision %s cycle %d: %s",
            r.trader_id,
            r.cycle,
            "; ".join(actions) or ("no trade" if r.success else f"model failed: {r.error}"),
            extra={
                "fields": {
                    "trader": r.trader_id,
                    "record": r.id,
                    "model": r.model,
                    "latency_ms": r.latency_ms,
                    "tokens": r.prompt_tokens + r.completion_tokens,
                    "cost": str(r.cost),
                }
            },
        )

    bus = runtime.bus
    bus.on(DecisionEvent, decision)
    bus.on(OrderEvent, order)
    bus.on(FillEvent, fill)
    bus.on(SessionEvent, session)
    bus.on(TraderHaltedEvent, halted)
    bus.on(NotificationEvent, note)
