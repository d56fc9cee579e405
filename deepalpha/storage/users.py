"""The users of ``deepalpha serve`` and which of them owns which trader.

The store keeps only what it is given: a password hash made elsewhere (argon2, in
``deepalpha.server.auth``), never a password. A user's hash leaves this module only inside
:class:`StoredUser`, whose ``repr`` leaves it out so that it cannot reach a log by accident.

Names are case-sensitive, but a name that differs from an existing one only in case is refused:
"alice" and "Alice" would be two people the eye cannot tell apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from deepalpha.storage.errors import InvalidUser, UnknownTrader, UnknownUser, UserExists
from deepalpha.storage.models import USER_ROLES, TraderOwnerRow, TraderRow, UserRow, table
from deepalpha.storage.types import utcnow

# A login name: letters, digits and . _ @ - (an e-mail address fits), starting with a letter
# or digit, at most the column's 64 characters. No spaces: a name must survive a shell and a log.
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def user_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a user's name, or ``None`` when it can."""
    if USER_NAME.fullmatch(name):
        return None
    if not name:
        return "a user name cannot be empty"
    if len(name) > 64:
        return f"a user name has at most 64 characters ({len(name)} given)"
    return (
        f"{name!r} is not a valid user name: use letters, digits and . _ @ -, "
        "starting with a letter or digit"
    )


def _check_role(role: str) -> str:
    if role not in USER_ROLES:
        raise InvalidUser(f"unknown role {role!r}: choose {', '.join(USER_ROLES)}")
    return str(role)


@dataclass(frozen=True, slots=True)
class StoredUser:
    name: str
    role: str  # one of USER_ROLES
    disabled: bool
    created_at: datetime
    password_hash: str = field(repr=False)


def _user(r: Any) -> StoredUser:
    return StoredUser(r.name, r.role, bool(r.disabled), r.created_at, r.password_hash)


class UserStore:
    """Users and trader ownership; mixed into :class:`~deepalpha.storage.repository.SqlStore`."""

    engine: AsyncEngine

    def _dialect_insert(self) -> Callable[..., Any]:
        return postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    # --- users ----------------------------------------------------------------------------
    async def add_user(
        self, name: str, role: str, password_hash: str, *, disabled: bool = False
    ) -> None:
        from deepalpha.engine.ids import new_id  # noqa: PLC0415

        problem = user_name_problem(name)
        if problem:
            raise InvalidUser(problem)
        _check_role(role)
        now = utcnow()
        try:
            async with self.engine.begin() as conn:
                same = (
                    await conn.execute(
                        select(UserRow.name).where(func.lower(UserRow.name) == name.lower())
                    )
                ).scalar()
                if same is not None:
                    raise UserExists(
                        f"there is already a user {same!r}"
                        + ("" if same == name else f" (a name differing from {name!r} in case)")
                    )
                await conn.execute(
                    table(UserRow)
                    .insert()
                    .values(
                        id=new_id(),
                        name=name,
                        role=str(role),
                        password_hash=password_hash,
                        disabled=disabled,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            # Another process added the same name between the check and the insert.
            raise UserExists(f"there is already a user {name!r}") from None

    async def get_user(self, name: str) -> StoredUser | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(UserRow).where(UserRow.name == name))).first()
        return None if row is None else _user(row)

    async def list_users(self) -> list[StoredUser]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(UserRow).order_by(UserRow.name))).all()
        return [_user(r) for r in rows]

    async def remove_user(self, name: str) -> None:
        """Remove the user; the traders it owned have no owner afterwards."""
        async with self.engine.begin() as conn:
            # The foreign key cascades too; said here as well so the rule does not hang on
            # SQLite's foreign_keys pragma being on for every connection.
            await conn.execute(delete(TraderOwnerRow).where(TraderOwnerRow.owner == name))
            gone = await conn.execute(delete(UserRow).where(UserRow.name == name))
            if gone.rowcount == 0:
                raise UnknownUser(f"no user {name!r}")

    async def set_password(self, name: str, password_hash: str) -> None:
        await self._update_user(name, password_hash=password_hash)

    async def set_role(self, name: str, role: str) -> None:
        """Change the role. The traders the user owns stay its own; ownership only grants
        anything to the trader role (an admin acts on all, a viewer on none)."""
        await self._update_user(name, role=_check_role(role))

    async def set_disabled(self, name: str, disabled: bool) -> None:
        await self._update_user(name, disabled=disabled)

    async def _update_user(self, name: str, **values: Any) -> None:
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(UserRow).where(UserRow.name == name).values(updated_at=utcnow(), **values)
            )
            if done.rowcount == 0:
                raise UnknownUser(f"no user {name!r}")

    # --- trader ownership -----------------------------------------------------------------
    async def set_trader_owner(self, trader_id: str, owner: str | None) -> None:
        """Make ``owner`` the trader's only owner (``None``: no owner)."""
        async with self.engine.begin() as conn:
            await self._check_trader(conn, trader_id)
            if owner is None:
                await conn.execute(
                    delete(TraderOwnerRow).where(TraderOwnerRow.trader_id == trader_id)
                )
                return
            known = await conn.execute(select(UserRow.id).where(UserRow.name == owner))
            if known.first() is None:
                raise UnknownUser(f"no user {owner!r}")
            now = utcnow()
            stmt = self._dialect_insert()(table(TraderOwnerRow)).values(
                id=trader_id, trader_id=trader_id, owner=owner, created_at=now, updated_at=now
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["id"], set_={"owner": owner, "updated_at": now}
                )
            )

    @staticmethod
    async def _check_trader(conn: AsyncConnection, trader_id: str) -> None:
        found = await conn.execute(select(TraderRow.id).where(TraderRow.id == trader_id))
        if found.first() is None:
            raise UnknownTrader(f"no trader with id {trader_id!r}")

    async def trader_owner(self, trader_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    select(TraderOwnerRow.owner).where(TraderOwnerRow.trader_id == trader_id)
                )
            ).scalar()

    async def traders_owned(self, name: str) -> list[str]:
        """The ids of the traders ``name`` owns, oldest trader first."""
        q = (
            select(TraderOwnerRow.trader_id)
            .join(TraderRow, TraderRow.id == TraderOwnerRow.trader_id)
            .where(TraderOwnerRow.owner == name)
            .order_by(TraderRow.created_at, TraderRow.id)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(q)).scalars())

    async def trader_names(self) -> dict[str, str]:
        """Every trader's id and name, oldest first (what ``users own`` may be given)."""
        q = select(TraderRow.id, TraderRow.name).order_by(TraderRow.created_at, TraderRow.id)
        async with self.engine.connect() as conn:
            return {r.id: r.name for r in (await conn.execute(q)).all()}
