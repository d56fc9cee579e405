"""The REST routes of ``/api/v1``: one per ``Backend`` operation, thin over the backend.

Reads are open to every signed-in user; commands check the role and, for a trader-role user,
that the trader is theirs. Lists page with opaque cursors. Every error is an ``ErrorBody``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, Field

from deepalpha import __version__
from deepalpha.app.backend import Backend
from deepalpha.app.views import (
    AiStatusView,
    ApproveCommand,
    BackupItemView,
    BarView,
    CreateBackupCommand,
    DecisionView,
    EquityPointView,
    FillView,
    InstrumentView,
    MarketStatusView,
    ModelProfileView,
    OrderCommand,
    OrderPreviewView,
    OrderView,
    Page,
    PauseCommand,
    PositionItemView,
    PreferenceView,
    ProblemsView,
    ProposalItemView,
    QuoteView,
    SaveTraderCommand,
    SpeedCommand,
    TraderConfigView,
    TraderSummaryView,
    TradingDefaultsView,
)
from deepalpha.engine.orders import OrderStatus
from deepalpha.server import errors
from deepalpha.server.errors import ERROR_RESPONSES, ApiError, BodyLimit
from deepalpha.server.security import Admin, Gate, Reader, Writer, check_owner

MAX_BODY = 64 * 1024  # no command needs more; a bigger body is refused before it is read
SYMBOL = r"^[0-9A-Za-z]{1,10}\.(SH|SZ|BJ|HK|sh|sz|bj|hk)$"
ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


TraderId = Annotated[str, Path(pattern=ID, description="a trader's id")]
BackupId = Annotated[str, Path(pattern=r"^[\w.-]{1,200}\.tar\.gz$", description="a backup's name")]
PrefKey = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]


class LoginCommand(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshCommand(BaseModel):
    model_config = {"extra": "forbid"}
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenView(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


class MeView(BaseModel):
    name: str
    role: str


class VersionView(BaseModel):
    name: Literal["deepalpha"] = "deepalpha"
    version: str
    api: Literal["v1"] = "v1"


@dataclass(slots=True)
class Accounts:
    """Sign-in, supplied by the server: ``login(name, password, client)`` and ``refresh``
    return the token pair's JSON or raise ``ApiError`` (401, 429)."""

    login: Callable[[str, str, str], Awaitable[dict[str, Any]]]
    refresh: Callable[[str], Awaitable[dict[str, Any]]]


# --- cursors ------------------------------------------------------------------------------------
# A cursor counts the items left below the page, from the oldest end: items arriving at the
# front while a client pages never shift what its next page holds. Any count is a valid cursor
# (past the end: an empty page), so no cursor a client can send is an error.
Cursor = Annotated[
    str | None, Query(pattern=r"^[0-9]{1,12}$", description="`next` of the previous page")
]


def _page(items: Sequence[Any], cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    """A page of a newest-first list."""
    total = len(items)
    start = 0 if cursor is None else max(0, total - int(cursor))
    chunk = list(items[start : start + limit])
    left = total - start - len(chunk)
    return chunk, (str(left) if left > 0 else None)


# --- the app ------------------------------------------------------------------------------------
def create_app(
    backend: Backend,
    *,
    gate: Gate,
    accounts: Accounts,
    cors_origins: Sequence[str] = (),
    max_body: int = MAX_BODY,
) -> FastAPI:
    app = FastAPI(
        title="DeepAlpha",
        version=__version__,
        summary="The trading engine of DeepAlpha: A-shares and Hong Kong stocks, AI traders.",
        description=(
            "Every command needs `Authorization: Bearer <access token>` from `/api/v1/auth/login`. "
            "Money and prices are decimal strings. Errors are `ErrorBody` JSON with a stable code."
        ),
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        responses=ERROR_RESPONSES,
    )
    app.state.backend = backend
    app.state.gate = gate
    errors.install(app)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware  # noqa: PLC0415

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        )
    app.add_middleware(BodyLimit, limit=max_body)
    # The prefix on the routers themselves: each route's template is then its whole path (the
    # metrics label routes by it; an include-time prefix is not part of the route's path).
    routers = [_auth_router(accounts), _router(backend)]
    for router in routers:
        app.include_router(router)
    app.state.routes = [route for router in routers for route in router.routes]
    return app


def _auth_router(accounts: Accounts) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["auth"])

    @router.post("/auth/login", response_model=TokenView, summary="Sign in with a password")
    async def login(request: Request, body: LoginCommand) -> dict[str, Any]:
        client = request.client.host if request.client else "?"
        return await accounts.login(body.name, body.password, client)

    @router.post(
        "/auth/refresh", response_model=TokenView, summary="A new pair for a refresh token"
    )
    async def refresh(body: RefreshCommand) -> dict[str, Any]:
        return await accounts.refresh(body.refresh_token)

    @router.get("/auth/me", response_model=MeView, summary="Who the token belongs to")
    async def me(who: Reader) -> MeView:
        return MeView(name=who.name, role=who.role)

    return router


def _router(backend: Backend) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    def known_trader(trader_id: str) -> None:
        try:
            backend.trader_config(trader_id)
        except KeyError:
            raise ApiError(404, "unknown_trader", f"no trader {trader_id!r}") from None

    def known_symbol(symbol: str) -> str:
        symbol = symbol.upper()
        if not any(i.symbol == symbol for i in backend.search(symbol, limit=1)):
            raise ApiError(
                404, "unknown_symbol", f"no instrument {symbol!r} (GET /api/v1/instruments?q=…)"
            )
        return symbol

    def order_of(order_id: str) -> Any:
        for order in reversed(backend.orders()):
            if order.id == order_id:
                return order
        raise ApiError(404, "unknown_order", f"no order {order_id!r}")

    # --- market ---------------------------------------------------------------------------
    @router.get("/version", response_model=VersionView, tags=["market"])
    async def version() -> VersionView:
        return VersionView(version=__version__)

    @router.get("/status", response_model=MarketStatusView, tags=["market"])
    async def status(_who: Reader) -> MarketStatusView:
        return MarketStatusView.of(backend.market_status())

    @router.post("/market/speed", response_model=MarketStatusView, tags=["market"])
    async def speed(body: SpeedCommand, _who: Admin) -> MarketStatusView:
        if not backend.market_status().simulated:
            raise ApiError(409, "not_simulated", "only a simulated market has a speed")
        await backend.set_market_speed(body.speed)
        return MarketStatusView.of(backend.market_status())

    @router.post("/market/pause", response_model=MarketStatusView, tags=["market"])
    async def pause(body: PauseCommand, _who: Admin) -> MarketStatusView:
        if not backend.market_status().simulated:
            raise ApiError(409, "not_simulated", "only a simulated market can be paused")
        backend.pause_market(body.paused)
        return MarketStatusView.of(backend.market_status())

    @router.get("/instruments", response_model=Page[InstrumentView], tags=["market"])
    async def instruments(
        _who: Reader,
        q: Annotated[str | None, Query(max_length=40, description="code, alias or name")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Cursor = None,
    ) -> Page[InstrumentView]:
        found = backend.search(q, limit=limit) if q else list(backend.instruments())
        if q:
            return Page[InstrumentView](items=[InstrumentView.of(i) for i in found])
        # Instruments are a fixed list: page them in their own order.
        chunk, nxt = _page(list(reversed(found)), cursor, limit)
        return Page[InstrumentView](items=[InstrumentView.of(i) for i in chunk], next=nxt)

    @router.get("/quotes", response_model=list[QuoteView], tags=["market"])
    async def quotes(
        _who: Reader,
        symbols: Annotated[
            str | None, Query(max_length=2000, description="comma-separated; all if absent")
        ] = None,
    ) -> list[QuoteView]:
        live = backend.quotes()
        if symbols is None:
            return [QuoteView.of(q) for q in live.values()]
        wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()]
        return [QuoteView.of(live[s]) for s in wanted if s in live]

    @router.get("/quotes/{symbol}", response_model=QuoteView, tags=["market"])
    async def quote(_who: Reader, symbol: Annotated[str, Path(pattern=SYMBOL)]) -> QuoteView:
        found = backend.quotes().get(symbol.upper())
        if found is None:
            raise ApiError(404, "unknown_symbol", f"no quote for {symbol.upper()!r}")
        return QuoteView.of(found)

    @router.get("/bars/{symbol}", response_model=list[BarView], tags=["market"])
    async def bars(_who: Reader, symbol: Annotated[str, Path(pattern=SYMBOL)]) -> list[BarView]:
        return [BarView.of(b) for b in backend.bars(known_symbol(symbol))]

    # --- traders --------------------------------------------------------------------------
    @router.get("/traders", response_model=list[TraderSummaryView], tags=["traders"])
    async def traders(_who: Reader) -> list[TraderSummaryView]:
        return [TraderSummaryView.of(t) for t in backend.traders()]

    @router.get("/traders/{trader_id}", response_model=TraderSummaryView, tags=["traders"])
    async def trader(_who: Reader, trader_id: TraderId) -> TraderSummaryView:
        for t in backend.traders():
            if t.id == trader_id:
                return TraderSummaryView.of(t)
        raise ApiError(404, "unknown_trader", f"no trader {trader_id!r}")

    @router.get("/traders/{trader_id}/config", response_model=TraderConfigView, tags=["traders"])
    async def trader_config(_who: Reader, trader_id: TraderId) -> TraderConfigView:
        known_trader(trader_id)
        return TraderConfigView.of(backend.trader_config(trader_id))

    @router.put("/traders/{trader_id}", response_model=TraderConfigView, tags=["traders"])
    async def save_trader(
        request: Request, who: Writer, trader_id: TraderId, body: SaveTraderCommand
    ) -> TraderConfigView:
        if body.trader.id != trader_id:
            raise ApiError(
                409, "id_mismatch", f"the path names {trader_id!r}, the body {body.trader.id!r}"
            )
        try:
            backend.trader_config(trader_id)
            exists = True
        except KeyError:
            exists = False
        if exists:
            await check_owner(request, who, trader_id)
            if body.cash:
                raise ApiError(409, "trader_exists", "opening cash is only for a new trader")
        elif who.role != "admin":
            raise ApiError(403, "forbidden", "only an admin may create a trader")
        profile = body.trader.model_profile
        profiles = [p for p, _label in backend.model_profiles()]
        if profile is not None and profile not in profiles:
            known = ", ".join(profiles)
            raise ApiError(404, "unknown_model", f"no model profile {profile!r}; there are {known}")
        await backend.save_trader(
            body.trader.to_domain(),
            {str(k): v for k, v in body.cash.items()} if body.cash else None,
        )
        return TraderConfigView.of(backend.trader_config(trader_id))

    @router.post("/traders/{trader_id}/start", response_model=TraderSummaryView, tags=["traders"])
    async def start_trader(request: Request, who: Writer, trader_id: TraderId) -> Any:
        known_trader(trader_id)
        await check_owner(request, who, trader_id)
        await backend.set_trader_running(trader_id, True)
        return await trader(who, trader_id)

    @router.post("/traders/{trader_id}/stop", response_model=TraderSummaryView, tags=["traders"])
    async def stop_trader(request: Request, who: Writer, trader_id: TraderId) -> Any:
        known_trader(trader_id)
        await check_owner(request, who, trader_id)
        await backend.set_trader_running(trader_id, False)
        return await trader(who, trader_id)

    @router.get(
        "/traders/{trader_id}/ai", response_model=AiStatusView | None, tags=["ai"],
        summary="Where an AI trader's decision loop stands (null: not an AI trader)",
    )  # fmt: skip
    async def ai_status(_who: Reader, trader_id: TraderId) -> AiStatusView | None:
        known_trader(trader_id)
        found = backend.ai_status(trader_id)
        return None if found is None else AiStatusView.of(found)

    @router.post("/traders/{trader_id}/cycle", response_model=DecisionView, tags=["ai"])
    async def run_cycle(request: Request, who: Writer, trader_id: TraderId) -> DecisionView:
        known_trader(trader_id)
        await check_owner(request, who, trader_id)
        if backend.ai_status(trader_id) is None:
            raise ApiError(409, "not_ai", f"trader {trader_id!r} is not an AI trader")
        return DecisionView.of(await backend.run_ai_cycle(trader_id))

    @router.get("/defaults", response_model=TradingDefaultsView, tags=["traders"])
    async def defaults(_who: Reader) -> TradingDefaultsView:
        return TradingDefaultsView(
            models=[ModelProfileView(profile=p, label=lab) for p, lab in backend.model_profiles()],
            ai_interval_minutes=backend.ai_interval_minutes(),
            fat_finger_percent=backend.fat_finger_percent(),
        )

    # --- accounts -------------------------------------------------------------------------
    @router.get("/positions", response_model=list[PositionItemView], tags=["accounts"])
    async def positions(
        _who: Reader, trader_id: Annotated[str | None, Query(pattern=ID)] = None
    ) -> list[PositionItemView]:
        if trader_id is not None:
            known_trader(trader_id)
        return [PositionItemView.of(p) for p in backend.positions(trader_id)]

    @router.get("/equity", response_model=dict[str, list[EquityPointView]], tags=["accounts"])
    async def equity(_who: Reader) -> dict[str, list[EquityPointView]]:
        return {
            trader_id: [EquityPointView(day=d, equity=e) for d, e in curve]
            for trader_id, curve in backend.equity_curves().items()
        }

    # --- orders ---------------------------------------------------------------------------
    @router.get("/orders", response_model=Page[OrderView], tags=["orders"])
    async def orders(
        _who: Reader,
        trader_id: Annotated[str | None, Query(pattern=ID)] = None,
        symbol: Annotated[str | None, Query(pattern=SYMBOL)] = None,
        status: OrderStatus | None = None,
        open: Annotated[bool | None, Query(description="only orders still working")] = None,
        day: Annotated[
            str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="YYYY-MM-DD")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        cursor: Cursor = None,
    ) -> Page[OrderView]:
        on: date | None = None
        if day is not None:
            try:
                on = date.fromisoformat(day)
            except ValueError:
                raise ApiError(404, "no_such_day", f"{day} is not a day of the calendar") from None
        found = [
            o
            for o in reversed(backend.orders())
            if (trader_id is None or o.trader_id == trader_id)
            and (symbol is None or o.symbol == symbol.upper())
            and (status is None or o.status is status)
            and (open is None or o.status.is_open == open)
            and (on is None or o.trading_day == on)
        ]
        chunk, nxt = _page(found, cursor, limit)
        return Page[OrderView](items=[OrderView.of(o) for o in chunk], next=nxt)

    @router.get("/orders/{order_id}", response_model=OrderView, tags=["orders"])
    async def order(_who: Reader, order_id: Annotated[str, Path(pattern=ID)]) -> OrderView:
        return OrderView.of(order_of(order_id))

    @router.post(
        "/orders", response_model=OrderView, status_code=201, tags=["orders"],
        summary="Place an order",
        description="201 with the order as it stands: working, filled, or `rejected` with the "
        "rule's code and numbers (a rejected order is recorded too).",
    )  # fmt: skip
    async def place(request: Request, who: Writer, body: OrderCommand) -> OrderView:
        known_trader(body.trader_id)
        known_symbol(body.symbol)
        await check_owner(request, who, body.trader_id)
        return OrderView.of(await backend.place_order(body.to_domain()))

    @router.post("/orders/preview", response_model=OrderPreviewView, tags=["orders"])
    async def preview(_who: Reader, body: OrderCommand) -> OrderPreviewView:
        known_trader(body.trader_id)
        known_symbol(body.symbol)
        return OrderPreviewView.of(backend.preview_order(body.to_domain()))

    @router.post("/orders/{order_id}/cancel", response_model=OrderView, tags=["orders"])
    async def cancel(
        request: Request, who: Writer, order_id: Annotated[str, Path(pattern=ID)]
    ) -> OrderView:
        found = order_of(order_id)
        await check_owner(request, who, found.trader_id)
        if not found.status.is_open and found.status is not OrderStatus.PENDING:
            raise ApiError(409, "order_final", f"order {order_id} is already {found.status.value}")
        return OrderView.of(await backend.cancel_order(order_id))

    @router.post("/orders/cancel-all", response_model=list[OrderView], tags=["orders"])
    async def cancel_all(
        request: Request,
        who: Writer,
        trader_id: Annotated[str | None, Query(pattern=ID)] = None,
    ) -> list[OrderView]:
        if trader_id is None and who.role != "admin":
            raise ApiError(403, "forbidden", "name the trader: ?trader_id=… (only an admin may "
                           "cancel every trader's orders)")  # fmt: skip
        if trader_id is not None:
            known_trader(trader_id)
            await check_owner(request, who, trader_id)
        return [OrderView.of(o) for o in await backend.cancel_all(trader_id)]

    @router.get("/fills", response_model=Page[FillView], tags=["orders"])
    async def fills(
        _who: Reader,
        trader_id: Annotated[str | None, Query(pattern=ID)] = None,
        symbol: Annotated[str | None, Query(pattern=SYMBOL)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Cursor = None,
    ) -> Page[FillView]:
        found = [
            f
            for f in backend.fills(limit=1000)
            if (trader_id is None or f.trader_id == trader_id)
            and (symbol is None or f.symbol == symbol.upper())
        ]
        chunk, nxt = _page(found, cursor, limit)
        return Page[FillView](items=[FillView.of(f) for f in chunk], next=nxt)

    # --- AI decisions and proposals -------------------------------------------------------
    @router.get("/decisions", response_model=Page[DecisionView], tags=["ai"])
    async def decisions(
        _who: Reader,
        trader_id: Annotated[str | None, Query(pattern=ID)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Cursor = None,
    ) -> Page[DecisionView]:
        found = backend.decisions(trader_id, limit=500)
        chunk, nxt = _page(found, cursor, limit)
        return Page[DecisionView](items=[DecisionView.of(r) for r in chunk], next=nxt)

    @router.get("/proposals", response_model=list[ProposalItemView], tags=["ai"])
    async def proposals(
        _who: Reader, trader_id: Annotated[str | None, Query(pattern=ID)] = None
    ) -> list[ProposalItemView]:
        return [ProposalItemView.of(p) for p in backend.proposals(trader_id)]

    def proposal_of(proposal_id: str) -> Any:
        for p in backend.proposals():
            if p.id == proposal_id:
                return p
        raise ApiError(
            404, "unknown_proposal", f"no open proposal {proposal_id!r} (answered or expired?)"
        )

    @router.post("/proposals/{proposal_id}/approve", response_model=OrderView, tags=["ai"])
    async def approve(
        request: Request,
        who: Writer,
        proposal_id: Annotated[str, Path(pattern=ID)],
        body: Annotated[ApproveCommand | None, Body()] = None,
    ) -> OrderView:
        found = proposal_of(proposal_id)
        await check_owner(request, who, found.trader_id)
        try:
            placed = await backend.approve_proposal(proposal_id, body.quantity if body else None)
        except KeyError:
            raise ApiError(409, "proposal_closed", "already answered or expired") from None
        return OrderView.of(placed)

    @router.post("/proposals/{proposal_id}/reject", status_code=204, tags=["ai"])
    async def reject(
        request: Request, who: Writer, proposal_id: Annotated[str, Path(pattern=ID)]
    ) -> Response:
        found = proposal_of(proposal_id)
        await check_owner(request, who, found.trader_id)
        try:
            await backend.reject_proposal(proposal_id)
        except KeyError:
            raise ApiError(409, "proposal_closed", "already answered or expired") from None
        return Response(status_code=204)

    # --- backups --------------------------------------------------------------------------
    async def backup_path(backup_id: str) -> Any:
        for b in await backend.list_backups():
            if b.path.name == backup_id:
                return b.path
        raise ApiError(404, "unknown_backup", f"no backup {backup_id!r}")

    @router.get("/backups", response_model=list[BackupItemView], tags=["backups"])
    async def backups(_who: Admin) -> list[BackupItemView]:
        return [
            BackupItemView(
                id=b.path.name,
                created_at=b.created_at,
                size=b.size,
                label=b.label,
                schema_revision=b.schema_revision,
                error=b.error,
            )
            for b in await backend.list_backups()
        ]

    @router.post("/backups", response_model=BackupItemView, status_code=201, tags=["backups"])
    async def create_backup(
        _who: Admin, body: Annotated[CreateBackupCommand | None, Body()] = None
    ) -> BackupItemView:
        made = await backend.create_backup(body.label if body else None)
        for b in await backend.list_backups():
            if b.path.name == made.name:
                return BackupItemView(
                    id=b.path.name,
                    created_at=b.created_at,
                    size=b.size,
                    label=b.label,
                    schema_revision=b.schema_revision,
                    error=b.error,
                )
        return BackupItemView(
            id=made.name, created_at=None, size=0, label=None, schema_revision=None
        )

    @router.post("/backups/{backup_id}/verify", response_model=ProblemsView, tags=["backups"])
    async def verify_backup(_who: Admin, backup_id: BackupId) -> ProblemsView:
        return ProblemsView(problems=await backend.verify_backup(await backup_path(backup_id)))

    @router.post("/backups/{backup_id}/restore", status_code=204, tags=["backups"])
    async def restore_backup(_who: Admin, backup_id: BackupId) -> Response:
        path = await backup_path(backup_id)
        problems = await backend.verify_backup(path)
        if problems:
            raise ApiError(409, "backup_unsound", "; ".join(problems))
        await backend.restore_backup(path)
        return Response(status_code=204)

    # --- preferences ----------------------------------------------------------------------
    @router.get("/preferences/{key}", response_model=PreferenceView, tags=["preferences"])
    async def get_preference(_who: Reader, key: PrefKey) -> PreferenceView:
        return PreferenceView(value=await backend.get_preference(key))

    @router.put("/preferences/{key}", response_model=PreferenceView, tags=["preferences"])
    async def set_preference(_who: Writer, key: PrefKey, body: PreferenceView) -> PreferenceView:
        encoded = json.dumps(body.value, default=str)
        if len(encoded) > 8192:
            raise ApiError(413, "body_too_large", "a preference holds at most 8 KB of JSON")
        await backend.set_preference(key, body.value)
        return PreferenceView(value=body.value)

    return router
