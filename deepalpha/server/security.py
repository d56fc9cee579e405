"""Who is asking, and may they: bearer tokens, roles and trader ownership for every route.

A viewer reads; a trader acts on the traders they own; an admin acts on all. The token is read
from the Authorization header only (never a query string, which access logs keep).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from deepalpha.server.errors import ApiError


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str  # admin | trader | viewer
    expires_at: datetime | None = None  # the access token's expiry

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "trader")


@dataclass(slots=True)
class Gate:
    """Token checking and ownership, supplied by the server (tokens, the users' store)."""

    verify: Callable[[str], Principal]  # raises ApiError 401
    owner_of: Callable[[str], Awaitable[str | None]]  # a trader's owning user, if any


def _gate(request: Request) -> Gate:
    gate: Gate = request.app.state.gate
    return gate


# The dependencies are coroutines although they never wait: FastAPI runs a plain function
# dependency in a worker thread, and two thread hops cost more than the rest of a read.
async def principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "not_authenticated",
            "send 'Authorization: Bearer <access token>' (POST /api/v1/auth/login gives one)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return _gate(request).verify(token.strip())


Reader = Annotated[Principal, Depends(principal)]


async def writer(who: Reader) -> Principal:
    if not who.can_write:
        raise ApiError(403, "forbidden", f"the {who.role} role can read but not change anything")
    return who


Writer = Annotated[Principal, Depends(writer)]


async def admin(who: Reader) -> Principal:
    if who.role != "admin":
        raise ApiError(403, "forbidden", f"only an admin may do this (you are {who.role})")
    return who


Admin = Annotated[Principal, Depends(admin)]


async def check_owner(request: Request, who: Principal, trader_id: str) -> None:
    """A trader-role user may act only on the traders they own."""
    if who.role == "admin":
        return
    if not who.can_write:
        raise ApiError(403, "forbidden", f"the {who.role} role can read but not change anything")
    owner = await _gate(request).owner_of(trader_id)
    if owner != who.name:
        raise ApiError(
            403, "not_your_trader", f"trader {trader_id!r} is not one of yours ({who.name})"
        )
