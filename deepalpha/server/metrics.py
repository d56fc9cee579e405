"""The engine's Prometheus metrics (``/metrics``), in a registry of its own.

Never the process-wide default registry: several engines may live in one process (the tests
run many), and each must count only its own orders. The engine is watched through ordinary
bus handlers, which run inline on its path: they only count, and never raise into it.

Feed lag is the real seconds the feed has been silent while a market trades continuously
(see ``feed_watch``); 0 while no market trades. Bus queue depth is the deepest async
consumer's backlog. Both are read when Prometheus scrapes, from the callables given.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import DecisionEvent, FillEvent, OrderEvent
from deepalpha.engine.markets.symbols import Market, market_of
from deepalpha.engine.orders import OrderStatus, RejectCode

log = logging.getLogger("deepalpha.metrics")

# A model's reply takes from tens of milliseconds (the baseline) to a minute (a slow LLM).
DECISION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A method label outside these would let any client mint a time series per request.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Events seen again (a decision record republished when its proposal is answered, an order
# restated) count once: the ids remembered to tell are bounded, and a record or an order is
# restated within minutes, after far fewer newer ones than this.
REMEMBERED = 10_000


def _remember(seen: OrderedDict[str, None], key: str) -> None:
    seen[key] = None
    if len(seen) > REMEMBERED:
        seen.popitem(last=False)


def _safe(value: Callable[[], float]) -> Callable[[], float]:
    """A scrape-time reading that never breaks the scrape (NaN: could not be read)."""

    def read() -> float:
        try:
            return float(value())
        except Exception:
            log.exception("a metric could not be read")
            return math.nan

    return read


class EngineMetrics:
    def __init__(
        self,
        *,
        bus_depth: Callable[[], float] = lambda: 0,
        feed_lag: Callable[[], float] = lambda: 0.0,
        process: bool = True,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        if process:
            ProcessCollector(registry=reg)  # CPU, memory, open files of this process
        self.orders_total = Counter(
            "deepalpha_orders",
            "Orders that reached a status (each order counted once per status).",
            ["status"],
            registry=reg,
        )
        self.fills_total = Counter("deepalpha_fills", "Fills, by market.", ["market"], registry=reg)
        self.rejections_total = Counter(
            "deepalpha_order_rejections",
            "Orders rejected, by reject code.",
            ["code"],
            registry=reg,
        )
        self.decision_latency = Histogram(
            "deepalpha_decision_latency_seconds",
            "How long an AI trader's model took to answer a decision cycle (failures too).",
            buckets=DECISION_BUCKETS,
            registry=reg,
        )
        self.model_errors_total = Counter(
            "deepalpha_model_errors",
            "Decision cycles whose model call failed, by trader.",
            ["trader"],
            registry=reg,
        )
        self.feed_lag_seconds = Gauge(
            "deepalpha_feed_lag_seconds",
            "Real seconds the market feed has been silent while a market trades (0 when none).",
            registry=reg,
        )
        self.feed_lag_seconds.set_function(_safe(feed_lag))
        self.bus_queue_depth = Gauge(
            "deepalpha_event_bus_queue_depth",
            "Events waiting in the deepest subscriber queue of the event bus.",
            registry=reg,
        )
        self.bus_queue_depth.set_function(_safe(bus_depth))
        self.http_latency = Histogram(
            "deepalpha_http_request_duration_seconds",
            "HTTP request latency, by method, route template and status.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=reg,
        )
        self.ws_clients = Gauge(
            "deepalpha_websocket_clients", "WebSocket clients connected.", registry=reg
        )
        self.ws_dropped_total = Counter(
            "deepalpha_websocket_messages_dropped",
            "WebSocket messages not delivered, by reason.",
            ["reason"],
            registry=reg,
        )
        # Every series a dashboard plots exists from the start, at zero.
        for status in OrderStatus:
            self.orders_total.labels(status=status.value)
        for code in RejectCode:
            self.rejections_total.labels(code=code.value)
        for market in Market:
            self.fills_total.labels(market=market.value)
        self._live: dict[str, OrderStatus] = {}  # orders not final yet: their last status
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._decisions: OrderedDict[str, None] = OrderedDict()

    # --- the engine ---------------------------------------------------------------------
    def attach(self, bus: EventBus) -> None:
        """Count the engine's orders, fills and decisions from now on."""
        bus.on(OrderEvent, self._on_order)
        bus.on(FillEvent, self._on_fill)
        bus.on(DecisionEvent, self._on_decision)

    def _on_order(self, event: OrderEvent) -> None:
        try:
            order = event.order
            if order.id in self._finished or self._live.get(order.id) is order.status:
                return  # another change within the same status (a second partial fill)
            if order.status.is_final:
                self._live.pop(order.id, None)
                _remember(self._finished, order.id)
            else:
                self._live[order.id] = order.status
            self.orders_total.labels(status=order.status.value).inc()
            if order.status is OrderStatus.REJECTED:
                code = order.reject_code.value if order.reject_code else "UNKNOWN"
                self.rejections_total.labels(code=code).inc()
        except Exception:
            log.exception("an order could not be counted")

    def _on_fill(self, event: FillEvent) -> None:
        try:
            self.fills_total.labels(market=market_of(event.fill.symbol).value).inc()
        except Exception:
            log.exception("a fill could not be counted")

    def _on_decision(self, event: DecisionEvent) -> None:
        try:
            record = event.record
            if record.id in self._decisions:
                return  # the same cycle again, a proposal in it answered
            _remember(self._decisions, record.id)
            if not record.user_prompt:
                return  # no market open: the model was not asked
            self.decision_latency.observe(record.latency_ms / 1000)
            if not record.success:
                self.model_errors_total.labels(trader=record.trader_id).inc()
        except Exception:
            log.exception("a decision could not be counted")

    # --- the API ------------------------------------------------------------------------
    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request; ``route`` is the route's template, never the path requested."""
        label = method.upper() if method.upper() in HTTP_METHODS else "OTHER"
        self.http_latency.labels(method=label, route=route, status=str(status)).observe(seconds)

    def ws_connected(self) -> None:
        self.ws_clients.inc()

    def ws_disconnected(self) -> None:
        self.ws_clients.dec()

    def ws_dropped(self, reason: str, n: int = 1) -> None:
        self.ws_dropped_total.labels(reason=reason).inc(n)

    def render(self) -> tuple[bytes, str]:
        """The scrape's body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
