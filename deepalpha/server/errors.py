"""Every error the API returns is JSON with a stable code and a message a person can act on.

Validation problems are 422 (malformed JSON 400), a body over the size limit 413, and anything
the engine refuses maps to the 4xx that says why; a 500 is a bug, logged with its request id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("deepalpha.api")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers
        self.details = details


def _reply(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


# Documented on every route, so a client (and schemathesis) knows each error's shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request (e.g. JSON that does not parse)"),
        (401, "Not authenticated: a missing, expired or invalid token"),
        (403, "Authenticated but not allowed (role or ownership)"),
        (404, "No such trader, order, proposal or backup"),
        (409, "Conflicts with the current state (e.g. already answered)"),
        (413, "Request body over the size limit"),
        (422, "Well-formed but invalid (wrong types, unknown fields, bad values)"),
        (429, "Too many attempts; see Retry-After"),
        (503, "The engine is starting, stopping or cannot write its ledger"),
    )
}


def _plain(problem: str) -> str:
    # pydantic prefixes our own validators' words with "Value error, ": the words are enough.
    return problem.removeprefix("Value error, ")


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


def _methods_on(request: Request) -> list[str]:
    from starlette.routing import Match  # noqa: PLC0415

    matched = []
    # FastAPI wraps included routers; the plain routes are kept on the app's state.
    for route in getattr(request.app.state, "routes", request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            matched.append(route)
    # A path spelled out ("/orders/preview") is not also the template beside it
    # ("/orders/{order_id}"), though both match it.
    spelled = {request.url.path, request.scope["path"]}
    exact = [r for r in matched if getattr(r, "path", "") in spelled]
    return sorted({m for r in exact or matched for m in getattr(r, "methods", None) or ()})


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _reply(exc.status, exc.code, exc.message, exc.headers, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            first = next(e for e in errors if e.get("type") == "json_invalid")
            return _reply(400, "malformed_json", f"the body is not valid JSON: {first.get('msg')}")
        details = [
            {"field": _where(tuple(e.get("loc", ()))), "problem": _plain(str(e.get("msg", "")))}
            for e in errors
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:3])
        return _reply(422, "invalid_request", summary or "invalid request", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        headers = dict(exc.headers) if exc.headers else {}
        message = str(exc.detail)
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path; a path has one
            # route per method here, so gather them all.
            allowed = _methods_on(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; use {' or '.join(allowed)}"
        return _reply(
            exc.status_code, codes.get(exc.status_code, "http_error"), message, headers or None
        )

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _reply(500, "internal", "an internal error; it is logged with the request id")


class BodyLimit:
    """Refuse a body over ``limit`` bytes with 413, before the route reads it: by its declared
    length, or as it streams in when no length is given."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit or declared < 0:
                    await self._refuse(send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = _reply(
            413, "body_too_large", f"the request body is over the limit of {self.limit:,} bytes"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(response.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(Exception):
    pass
