"""The HTTP API of ``deepalpha serve`` on a live server on loopback: reads, commands, paging,
and every bad input answered with a 4xx and a JSON reason, never a 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.api_support import live_server

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _continuous(http: httpx.AsyncClient) -> None:
    for _ in range(400):
        status = (await http.get("/api/v1/status")).json()
        quotes = (await http.get("/api/v1/quotes", params={"symbols": "600519.SH"})).json()
        if status["phases"].get("CN") == "continuous" and quotes:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the CN market never traded")


def test_reads_carry_money_as_decimal_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            http = await live.client("vic")
            traders = (await http.get("/api/v1/traders")).json()
            assert {t["id"] for t in traders} >= {"you", "sma-bot", "ai-demo"}
            you = next(t for t in traders if t["id"] == "you")
            assert isinstance(you["equity"], str) and Decimal(you["equity"]) > 0
            assert you["cash"] == {"CNY": "1000000", "HKD": "1000000"}
            await _continuous(http)
            quote = (await http.get("/api/v1/quotes/600519.SH")).json()
            assert Decimal(quote["last"]) > 0 and quote["time"].endswith("+08:00")
            found = (await http.get("/api/v1/instruments", params={"q": "茅台"})).json()
            assert found["items"][0]["symbol"] == "600519.SH"
            me = (await http.get("/api/v1/auth/me")).json()
            assert me == {"name": "vic", "role": "viewer"}

    run(scenario())


def test_an_order_placed_fills_pages_and_cancels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            http = await live.client("tina")
            await _continuous(http)
            r = await http.post(
                "/api/v1/orders",
                json={"trader_id": "you", "symbol": "600519.sh", "side": "buy", "quantity": 100},
            )
            assert r.status_code == 201, r.text
            order = r.json()
            assert order["symbol"] == "600519.SH" and order["status"] in ("open", "filled")
            for _ in range(200):
                got = (await http.get(f"/api/v1/orders/{order['id']}")).json()
                if got["status"] == "filled":
                    break
                await asyncio.sleep(0.05)
            assert got["filled_quantity"] == 100 and Decimal(got["fees"]["total"]) > 0
            fills = (await http.get("/api/v1/fills", params={"trader_id": "you"})).json()
            assert fills["items"][0]["order_id"] == order["id"]
            # A limit far below the market rests; it cancels once, then is final (409).
            quote = (await http.get("/api/v1/quotes/600519.SH")).json()
            low = (Decimal(quote["limit_down"]) + Decimal("0.01")).quantize(Decimal("0.01"))
            r = await http.post(
                "/api/v1/orders",
                json={"trader_id": "you", "symbol": "600519.SH", "side": "buy",
                      "quantity": 100, "type": "limit", "limit_price": str(low)},
            )  # fmt: skip
            resting = r.json()
            assert resting["status"] == "open", resting
            r = await http.post(f"/api/v1/orders/{resting['id']}/cancel")
            assert r.json()["status"] == "cancelled"
            r = await http.post(f"/api/v1/orders/{resting['id']}/cancel")
            assert r.status_code == 409 and r.json()["code"] == "order_final"
            # Paging: newest first, one at a time, no order twice, the cursor ends.
            seen: list[str] = []
            cursor = None
            while True:
                params = {"trader_id": "you", "limit": 1, **({"cursor": cursor} if cursor else {})}
                page = (await http.get("/api/v1/orders", params=params)).json()
                seen += [o["id"] for o in page["items"]]
                cursor = page["next"]
                if cursor is None:
                    break
            assert seen[:2] == [resting["id"], order["id"]] and len(seen) == len(set(seen))

    run(scenario())


def test_a_rule_rejection_is_an_order_with_the_rule_and_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            http = await live.client("ada")
            await _continuous(http)
            r = await http.post(
                "/api/v1/orders",
                json={"trader_id": "you", "symbol": "600519.SH", "side": "buy", "quantity": 150},
            )
            order = r.json()
            assert r.status_code == 201 and order["status"] == "rejected"
            assert order["reject_code"] == "LOT_SIZE"
            reason = order["reject_reason"]
            assert reason["key"] and reason["params"] and "100" in reason["text"]

    run(scenario())


ORDER = {"trader_id": "you", "symbol": "600519.SH", "side": "buy", "quantity": 100}
BAD = [
    ("POST", "/api/v1/orders", b'{"trader_id": "you", ', 400, "malformed_json"),
    (
        "POST",
        "/api/v1/orders",
        {"trader_id": "you", "symbol": "600519.SH", "side": "buy", "quantity": "many"},
        422,
        "invalid_request",
    ),
    (
        "POST",
        "/api/v1/orders",
        {"trader_id": "you", "symbol": "600519.SH", "side": "buy", "quantity": 100, "leverage": 10},
        422,
        "invalid_request",
    ),
    (
        "POST",
        "/api/v1/orders",
        {"trader_id": "you", "symbol": "999999.SH", "side": "buy", "quantity": 100},
        404,
        "unknown_symbol",
    ),
    (
        "POST",
        "/api/v1/orders",
        {"trader_id": "ghost", "symbol": "600519.SH", "side": "buy", "quantity": 100},
        404,
        "unknown_trader",
    ),
    (
        "POST",
        "/api/v1/orders",
        {"trader_id": "you", "symbol": "600519.SH", "side": "hold", "quantity": 100},
        422,
        "invalid_request",
    ),
    ("POST", "/api/v1/orders", b"x" * 70_000, 413, "body_too_large"),
    ("GET", "/api/v1/orders?cursor=not-a-cursor", None, 422, "invalid_request"),
    ("POST", "/api/v1/orders", {**ORDER, "limit_price": 1.1}, 422, "invalid_request"),
    ("POST", "/api/v1/orders", {**ORDER, "quantity": "100"}, 422, "invalid_request"),
    ("POST", "/api/v1/market/pause", {"paused": 0}, 422, "invalid_request"),
    ("GET", "/api/v1/orders?limit=0", None, 422, "invalid_request"),
    ("GET", "/api/v1/orders/nope", None, 404, "unknown_order"),
    ("GET", "/api/v1/traders/ghost", None, 404, "unknown_trader"),
    ("GET", "/api/v1/quotes/NOPE", None, 422, "invalid_request"),
    ("POST", "/api/v1/orders/nope/cancel", None, 404, "unknown_order"),
    ("POST", "/api/v1/proposals/nope/approve", None, 404, "unknown_proposal"),
    ("GET", "/api/v1/no-such-route", None, 404, "not_found"),
    ("DELETE", "/api/v1/traders", None, 405, "method_not_allowed"),
    ("DELETE", "/api/v1/orders", None, 405, "method_not_allowed"),
]


ALLOWED = {"/api/v1/traders": "GET", "/api/v1/orders": "GET, POST"}


def test_bad_input_gets_a_4xx_with_a_code_and_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            http = await live.client("ada")
            for method, url, body, status, code in BAD:
                if isinstance(body, bytes):
                    r = await http.request(
                        method, url, content=body, headers={"Content-Type": "application/json"}
                    )
                else:
                    r = await http.request(method, url, json=body)
                assert r.status_code == status, (method, url, r.status_code, r.text)
                error = r.json()
                assert error["code"] == code and error["message"], (url, error)
                assert "Value error" not in error["message"]
                if status == 405:
                    assert r.headers["Allow"] == ALLOWED[url], r.headers
            # Nothing was placed by any of it.
            orders = (await http.get("/api/v1/orders", params={"trader_id": "you"})).json()
            assert orders["items"] == []

    run(scenario())


ROUTES = (
    "/api/v1/orders",
    "/api/v1/positions",
    "/api/v1/traders/{trader_id}",
    "/api/v1/proposals/{proposal_id}/approve",
    "/api/v1/auth/login",
)


def test_the_openapi_document_names_every_route_and_its_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            http = await live.client()
            doc = (await http.get("/api/v1/openapi.json")).json()
            paths = doc["paths"]
            for route in ROUTES:
                assert route in paths, route
            for route, methods in paths.items():
                for method, op in methods.items():
                    for status in ("401", "403", "422"):
                        assert status in op["responses"], (method, route, status)
            assert "ErrorBody" in doc["components"]["schemas"]
            assert json.dumps(doc).count("float") == 0  # money is never a float in the schema

    run(scenario())


def test_probes_and_metrics_on_the_live_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with live_server(tmp_path, monkeypatch) as live:
            http = await live.client("ada")
            assert (await http.get("/health/live")).json() == {"status": "alive"}
            assert (await http.get("/health/startup")).status_code == 200
            ready = await http.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert set(ready.json()["checks"]) == {"database", "migrations", "feed", "event_bus"}
            await _continuous(http)
            await http.post("/api/v1/orders", json={**ORDER, "quantity": 150})  # LOT_SIZE
            await http.get("/api/v1/orders/nope")
            async with live.stream("vic"):
                text = (await http.get("/metrics")).text
                assert "deepalpha_websocket_clients 1.0" in text
            assert 'deepalpha_order_rejections_total{code="LOT_SIZE"} 1.0' in text
            assert 'route="/api/v1/orders/{order_id}"' in text and "/nope" not in text
            r = await http.get("/api/v1/status", headers={"X-Request-ID": "trace-42"})
            assert r.headers["X-Request-ID"] == "trace-42"
            live.served.api.stopping = True  # a SIGTERM's first step: out of the balancer
            assert (await http.get("/health/ready")).status_code == 503
            live.served.api.stopping = False

    run(scenario())
