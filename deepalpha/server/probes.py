"""``/health/*`` for the orchestrator and ``/metrics`` for Prometheus: no sign-in (they reveal
no account data), outside ``/api/v1`` as orchestrators expect, and absent from the API schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from deepalpha.server import health
from deepalpha.server.feed_watch import FeedWatch
from deepalpha.server.metrics import EngineMetrics


def install(
    app: FastAPI,
    runtime: Callable[[], Any],
    feed: FeedWatch,
    metrics: EngineMetrics,
    stopping: Callable[[], bool],
) -> None:
    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return await health.live()

    @app.get("/health/startup", include_in_schema=False)
    async def startup() -> JSONResponse:
        ok, body = await health.startup(runtime())
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        if stopping():
            # Out of the load balancer first, while requests in flight still finish.
            body = {"status": "stopping", "checks": {}}
            return JSONResponse(body, status_code=503)
        ok, body = await health.ready(runtime(), feed=feed)
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def scrape() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)
