"""``/metrics``: a real engine's orders, fills, rejections and decisions counted in its own
registry; bus depth and feed lag read at scrape time; the HTTP middleware's latency labelled by
route template, its request ids, and an access log with no credential in it."""

from __future__ import annotations

import asyncio
import json
import logging
import time as clock
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import ROUND_UP, Decimal
from pathlib import Path

import httpx
import prometheus_client
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from deepalpha.app.json_log import JsonFormatter, RequestIdFilter
from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import (
    DecisionEvent,
    NotificationEvent,
    OrderEvent,
    QuoteEvent,
    SessionEvent,
)
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import OrderRequest, OrderStatus, OrderType, RejectCode, Side
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.server.feed_watch import FeedWatch
from deepalpha.server.http_metrics import HttpMetricsMiddleware
from deepalpha.server.metrics import EngineMetrics
from tests.fake_openai import FakeOpenAI, Scripted, chat_body, fake_openai

D = Decimal
CMB, MOUTAI = "600036.SH", "600519.SH"
DESK, BOT = "desk", "bot"
CASH = {"CNY": D(2_000_000)}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: EngineMetrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain") and "version=" in content_type
    out: Samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = clock.monotonic() + timeout
    while not condition():
        if clock.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {condition}")
        await asyncio.sleep(0.02)


async def cn_trading(rt: Runtime) -> None:
    await until(lambda: rt.broker.phase[Market.CN] is Phase.CONTINUOUS and rt.broker.state(CMB).ask)


def engine(data: Path) -> tuple[Runtime, EngineMetrics]:
    """A runtime with no demo traders (so every order is the test's), metered from the start."""
    rt = Runtime(RuntimeOptions(data, speed=60, tick_interval=0.05, auto_backup=False, demo=False))
    metrics = EngineMetrics(bus_depth=lambda: rt.bus.deepest_queue())  # noqa: PLW0108 - no bus yet
    rt.on_bus.append(metrics.attach)
    return rt, metrics


def ai_trader(trader_id: str, profile: str) -> TraderConfig:
    # Not running: it decides only when the test asks it to.
    return TraderConfig(
        trader_id,
        trader_id.title(),
        TraderKind.AI,
        model_profile=profile,
        settings={"symbols": [MOUTAI], "interval_minutes": 240},
        running=False,
    )


def test_a_real_engines_orders_fills_rejections_and_decisions_are_counted(tmp_path: Path) -> None:
    async def go() -> tuple[Samples, Samples]:
        rt, metrics = engine(tmp_path / "data")
        await rt.start()
        try:
            await rt.save_trader(TraderConfig(DESK, "Desk", TraderKind.DISCRETIONARY), CASH)
            await rt.save_trader(ai_trader(BOT, "baseline"), CASH)
            await cn_trading(rt)
            filled = await rt.place_order(OrderRequest(DESK, CMB, Side.BUY, 100))
            assert filled.status is OrderStatus.FILLED, filled.reject_reason
            odd_lot = await rt.place_order(OrderRequest(DESK, CMB, Side.BUY, 150))
            assert odd_lot.reject_code is RejectCode.LOT_SIZE
            bid = rt.broker.state(CMB).bid
            assert bid is not None
            low = (bid * D("0.97")).quantize(D("0.01"), ROUND_UP)
            resting = await rt.place_order(
                OrderRequest(DESK, CMB, Side.BUY, 100, OrderType.LIMIT, low)
            )
            assert resting.status is OrderStatus.OPEN, resting.reject_reason
            await rt.cancel_order(resting.id)
            # An order restated on the bus (the same status again) counts once.
            rt.bus.publish(OrderEvent(rt.broker.orders[filled.id].snapshot()))
            orders = scrape(metrics)
            record = await rt.run_ai_cycle(BOT)
            assert record.success and record.user_prompt  # the model was asked
            rt.bus.publish(DecisionEvent(record))  # republished (a proposal answered): once
            return orders, scrape(metrics)
        finally:
            await rt.stop()

    orders, after = asyncio.run(go())
    counted = {
        s.value: value(orders, "deepalpha_orders_total", status=s.value) for s in OrderStatus
    }
    # The market order: open, filled; the odd lot: rejected; the limit: open, cancelled.
    assert counted == {
        "pending": 0,
        "open": 2,
        "partially_filled": 0,
        "filled": 1,
        "cancelled": 1,
        "rejected": 1,
        "expired": 0,
    }
    rejections = {
        c.value: value(orders, "deepalpha_order_rejections_total", code=c.value) for c in RejectCode
    }
    assert rejections.pop("LOT_SIZE") == 1
    assert set(rejections.values()) == {0}
    assert value(orders, "deepalpha_fills_total", market="CN") == 1
    assert value(orders, "deepalpha_fills_total", market="HK") == 0
    assert value(after, "deepalpha_decision_latency_seconds_count") == 1
    # The baseline (no LLM) answers in milliseconds.
    assert value(after, "deepalpha_decision_latency_seconds_bucket", le="1.0") == 1
    assert not [k for k in after if k[0] == "deepalpha_model_errors_total"]
    # Its own registry: nothing reached the process-wide one, and another engine's is empty.
    assert prometheus_client.REGISTRY.get_sample_value("deepalpha_orders_total") is None
    other = scrape(EngineMetrics(process=False))
    assert value(other, "deepalpha_orders_total", status="filled") == 0


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with fake_openai() as s:
        yield s


@pytest.fixture
def fake_profile(server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[ai.profiles.fake]\nbase_url = "{server.url}"\nmodel = "fake-model"\n'
        "retries = 0\ntimeout = 5\n",
        "utf-8",
    )
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(config))
    return "fake"


def test_model_errors_by_trader_and_slow_answers_in_the_latency_histogram(
    tmp_path: Path, server: FakeOpenAI, fake_profile: str
) -> None:
    async def go() -> Samples:
        rt, metrics = engine(tmp_path / "data")
        await rt.start()
        try:
            await rt.save_trader(ai_trader("llm", fake_profile), CASH)
            await rt.save_trader(ai_trader("quiet", "baseline"), CASH)
            await cn_trading(rt)
            server.push(Scripted(500, {"error": {"message": "overloaded"}}))
            failed = await rt.run_ai_cycle("llm")
            assert not failed.success and failed.user_prompt
            server.push(
                Scripted(
                    200, chat_body("<reasoning>wait</reasoning><decision>[]</decision>"), delay=1.5
                )
            )
            slow = await rt.run_ai_cycle("llm")
            assert slow.success, slow.error
            return scrape(metrics)
        finally:
            await rt.stop()

    s = asyncio.run(go())
    assert value(s, "deepalpha_model_errors_total", trader="llm") == 1
    assert value(s, "deepalpha_model_errors_total", trader="quiet") is None
    assert value(s, "deepalpha_decision_latency_seconds_count") == 2
    # The failure came back at once; the answer took 1.5 s.
    assert value(s, "deepalpha_decision_latency_seconds_bucket", le="1.0") == 1
    assert value(s, "deepalpha_decision_latency_seconds_bucket", le="2.5") == 2


def test_bus_depth_and_feed_lag_are_read_when_scraped(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        now = [100.0]
        bus = EventBus()
        watch = FeedWatch(clock=lambda: now[0])
        watch.attach(bus)
        metrics = EngineMetrics(bus_depth=bus.deepest_queue, feed_lag=watch.lag, process=False)

        def read() -> tuple[float | None, float | None]:
            s = scrape(metrics)
            return (
                value(s, "deepalpha_event_bus_queue_depth"),
                value(s, "deepalpha_feed_lag_seconds"),
            )

        assert read() == (0, 0)
        behind = bus.subscribe(NotificationEvent)
        bus.subscribe(NotificationEvent).close()  # gone: not counted
        for _ in range(3):
            bus.publish(NotificationEvent("information", "x"))
        assert read()[0] == 3
        await behind.get()
        assert read()[0] == 2
        # No market trades: silence is not lag.
        now[0] = 500.0
        assert read()[1] == 0
        at = datetime(2025, 12, 3, 9, 30, tzinfo=SHANGHAI)
        bus.publish(SessionEvent(Market.CN, Phase.CONTINUOUS, at))
        now[0] = 505.0
        assert read()[1] == 5  # counted from the open, not from the last quote yesterday
        bus.publish(QuoteEvent(Quote(CMB, at, D("40.00"), D("39.99"), D("40.01"))))
        now[0] = 515.0
        assert read()[1] == 10
        bus.publish(SessionEvent(Market.CN, Phase.LUNCH_BREAK, at))
        assert read()[1] == 0

        def broken() -> float:
            raise RuntimeError("unreadable")

        failing = scrape(EngineMetrics(bus_depth=broken, process=False))
        depth = value(failing, "deepalpha_event_bus_queue_depth")
        assert depth is not None and depth != depth  # NaN: the scrape still answers
        assert "a metric could not be read" in caplog.text

    asyncio.run(go())


def test_websocket_clients_and_dropped_messages() -> None:
    metrics = EngineMetrics(process=False)
    metrics.ws_connected()
    metrics.ws_connected()
    metrics.ws_disconnected()
    metrics.ws_dropped("slow_client", 5)
    metrics.ws_dropped("slow_client")
    s = scrape(metrics)
    assert value(s, "deepalpha_websocket_clients") == 1
    assert value(s, "deepalpha_websocket_messages_dropped_total", reason="slow_client") == 6


# --- the HTTP middleware ------------------------------------------------------------------
TOKEN_CANARY = "tok-CANARY-7f3a9"
BEARER_CANARY = "bearer-CANARY-51c2e"


def starlette_app(metrics: EngineMetrics) -> HttpMetricsMiddleware:
    async def order(request: Request) -> JSONResponse:
        logging.getLogger("deepalpha.test").info(
            "serving order %s", request.path_params["order_id"]
        )
        return JSONResponse(
            {"id": request.path_params["order_id"], "request_id": request.state.request_id}
        )

    async def boom(request: Request) -> JSONResponse:
        raise RuntimeError("boom")

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("item")

    inner = Starlette(
        routes=[
            Route("/orders/{order_id}", order),
            Route("/boom", boom),
            Mount("/api", routes=[Route("/items/{item_id}", item)]),
        ]
    )
    return HttpMetricsMiddleware(inner, metrics)


def client(app: HttpMetricsMiddleware) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def test_http_latency_by_route_template_request_ids_and_a_clean_access_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Ours only: the test's own HTTP client (httpx) logs the URLs it asks for.
    caplog.set_level(logging.INFO, logger="deepalpha")
    caplog.handler.addFilter(RequestIdFilter())
    metrics = EngineMetrics(process=False)

    async def go() -> list[httpx.Response]:
        async with client(starlette_app(metrics)) as c:
            return [
                await c.get(
                    f"/orders/42?token={TOKEN_CANARY}&page=2",
                    headers={"Authorization": f"Bearer {BEARER_CANARY}", "X-Request-ID": "c-1_x"},
                ),
                await c.get("/orders/43"),
                await c.get("/orders/44", headers={"X-Request-ID": "two words; DROP"}),
                await c.get("/orders/45", headers={"X-Request-ID": "a" * 65}),
                await c.get("/nope/1"),
                await c.get("/boom"),
                await c.get("/api/items/7"),
                await c.get("/api/zzz"),
            ]

    given, fresh, spaced, long, missing, boom, item, unmounted = asyncio.run(go())
    assert [r.status_code for r in (given, fresh, missing, boom, item, unmounted)] == [
        200,
        200,
        404,
        500,
        200,
        404,
    ]
    # The client's id is kept when sane, else replaced; it is in the handler's state too.
    assert given.headers["x-request-id"] == "c-1_x" == given.json()["request_id"]
    made = [r.headers["x-request-id"] for r in (fresh, spaced, long, missing, boom)]
    assert all(len(m) == 32 and m.isalnum() for m in made) and len(set(made)) == len(made)
    assert fresh.json()["request_id"] == fresh.headers["x-request-id"]

    s = scrape(metrics)
    count = "deepalpha_http_request_duration_seconds_count"
    assert value(s, count, method="GET", route="/orders/{order_id}", status="200") == 4
    assert value(s, count, method="GET", route="unmatched", status="404") == 1
    assert value(s, count, method="GET", route="/boom", status="500") == 1
    assert value(s, count, method="GET", route="/api/items/{item_id}", status="200") == 1
    assert value(s, count, method="GET", route="/api/{path}", status="404") == 1
    routes = {dict(labels).get("route") for name, labels in s if name == count}
    assert not [r for r in routes if r and any(ch.isdigit() for ch in r)]  # no raw path

    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    access = [line for line in lines if line["logger"] == "deepalpha.access"]
    assert len(access) == 8
    first = access[0]
    assert first["message"].startswith("GET /orders/{order_id} 200 ")
    assert (first["route"], first["status"], first["request_id"]) == (
        "/orders/{order_id}",
        200,
        "c-1_x",
    )
    assert first["query"] == "token=redacted&page=2" and first["ms"] >= 0
    assert access[5]["status"] == 500 and access[5]["level"] == "error"
    # What the handler logged while serving names the request.
    served = [line for line in lines if line["message"] == "serving order 42"]
    assert served and served[0]["request_id"] == "c-1_x"
    everything = caplog.text + "".join(json.dumps(line) for line in lines)
    assert TOKEN_CANARY not in everything and BEARER_CANARY not in everything
    assert "Bearer" not in everything


def test_fastapi_routes_are_labelled_with_their_full_template() -> None:
    metrics = EngineMetrics(process=False)
    router = APIRouter(prefix="/api/v1")

    @router.get("/orders/{order_id}")
    async def get_order(order_id: int) -> dict[str, int]:
        return {"id": order_id}

    api = FastAPI()
    api.include_router(router)

    async def go() -> list[int]:
        async with client(HttpMetricsMiddleware(api, metrics)) as c:
            ok = await c.get("/api/v1/orders/7")
            bad = await c.get("/api/v1/orders/seven")  # 422, still the route's
            weird = await c.request("BREW", "/api/v1/orders/7")
            return [ok.status_code, bad.status_code, weird.status_code]

    assert asyncio.run(go()) == [200, 422, 405]
    s = scrape(metrics)
    count = "deepalpha_http_request_duration_seconds_count"
    route = "/api/v1/orders/{order_id}"
    assert value(s, count, method="GET", route=route, status="200") == 1
    assert value(s, count, method="GET", route=route, status="422") == 1
    # An unknown method is one label, whatever a client sends.
    assert value(s, count, method="OTHER", route=route, status="405") == 1
