"""``deepalpha users add | list | remove | passwd | role | enable | disable | own | disown``:
the people who may use ``deepalpha serve`` and the traders a trader-role user owns.

A password is asked at the terminal twice (or read from standard input with
``--password-stdin``, for scripts), hashed with argon2 and only the hash is stored; nothing
here prints, logs or stores the password. Every change is written to the audit log.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

from deepalpha.app.cli import Shared, UserError, shared

if TYPE_CHECKING:
    from deepalpha.storage.repository import SqlStore

T = TypeVar("T")
ROLES = ("admin", "trader", "viewer")
ACTOR = "cli"  # who the audit log says made the change


@click.group()
def users() -> None:
    """Users of 'deepalpha serve': who may log in, with which role, owning which traders.

    \b
    Roles:
      admin   everything, on every trader, and the users
      trader  commands on the traders it owns ('users own'); reads everything
      viewer  reads only
    """


def _command(f: Callable[..., int]) -> Callable[..., int]:
    return shared("data_dir", "database_url")(click.pass_obj(f))


def _run(given: Shared, work: Callable[[SqlStore], Awaitable[T]], *, create: bool = False) -> T:
    """Open the store (migrated), run ``work`` on it, close it; every failure one clear line.
    Only ``create`` opens a database that is not there yet."""
    import asyncio  # noqa: PLC0415

    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.storage.connect import open_store  # noqa: PLC0415
    from deepalpha.storage.database import explain, resolve  # noqa: PLC0415
    from deepalpha.storage.errors import DatabaseError, UsersError  # noqa: PLC0415

    data_dir = paths.data_dir(given.data_dir)

    async def go() -> T:
        target = resolve(given.database_url, data_dir)
        if not create and target.path is not None and not target.path.exists():
            raise UserError(f"{_no_database(target.display)}; add one with {FIRST_ADD}")
        store = await open_store(given.database_url, data_dir)
        try:
            return await work(store)
        except DBAPIError as exc:  # the driver's words, never the statement's parameters
            raise explain(exc.orig or exc, target) from None
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except (DatabaseError, UsersError) as exc:
        raise UserError(str(exc)) from None


FIRST_ADD = "'deepalpha users add NAME --role admin'"


def _no_database(display: str) -> str:
    return f"there is no database at {display} yet, so no users"


def _missing_database(given: Shared) -> str | None:
    """Where the SQLite file would be when it is not there yet (a question must not create
    it); ``None`` when it is there or the database is a server."""
    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.storage.database import resolve  # noqa: PLC0415
    from deepalpha.storage.errors import DatabaseError  # noqa: PLC0415

    try:
        target = resolve(given.database_url, paths.data_dir(given.data_dir))
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    missing = target.path is not None and not target.path.exists()
    return target.display if missing else None


def _role(value: str) -> str:
    role = value.strip().lower()
    if role not in ROLES:
        raise UserError(f"unknown role {value!r}: choose admin, trader or viewer")
    return role


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _new_password(name: str, from_stdin: bool) -> str:
    """The new password: one line of standard input, or asked twice at the terminal."""
    from deepalpha.server.auth import password_problem  # noqa: PLC0415

    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError(
                "--password-stdin: standard input is empty; pipe the password in, e.g. "
                "printf '%s\\n' \"$PASSWORD\" | deepalpha users add …"
            )
        password = line.rstrip("\r\n")
        problem = password_problem(password)
        if problem:
            raise UserError(problem)
        return password
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask for the password at; pipe it in with --password-stdin")

    def check(value: str) -> str:
        problem = password_problem(value)
        if problem:
            raise click.BadParameter(problem)  # said, then asked again
        return value

    asked: str = click.prompt(
        f"New password for {name}",
        hide_input=True,
        confirmation_prompt="Repeat it",
        value_proc=check,
    )
    return asked


PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts) instead of "
    "asking at the terminal.",
)


@users.command()
@click.argument("name")
@click.option("--role", required=True, metavar="admin|trader|viewer", help="What NAME may do.")
@PASSWORD_STDIN
@_command
def add(given: Shared, name: str, role: str, password_stdin: bool) -> int:
    """Add the user NAME with a password (asked twice, at least 12 characters)."""
    from deepalpha.server.auth import hash_password  # noqa: PLC0415
    from deepalpha.storage.users import user_name_problem  # noqa: PLC0415

    role = _role(role)
    problem = user_name_problem(name)
    if problem:
        raise UserError(problem)

    async def taken(store: SqlStore) -> str | None:
        names = [u.name for u in await store.list_users()]
        return next((n for n in names if n.lower() == name.lower()), None)

    # Before the password is asked, so nobody types one for nothing.
    same = _run(given, taken, create=True)
    if same is not None:
        raise UserError(
            f"there is already a user {same!r}"
            + ("" if same == name else f" (a name differing from {name!r} in case)")
        )
    hashed = hash_password(_new_password(name, password_stdin))

    async def write(store: SqlStore) -> None:
        await store.add_user(name, role, hashed)
        await store.audit(ACTOR, "user.add", name, {"role": role})

    _run(given, write)
    click.echo(f"added {name} ({role})")
    return 0


@users.command("list")
@_command
def list_(given: Shared) -> int:
    """The users: name, role, whether disabled, and the traders each owns. Exit status 1
    when there is no database yet."""
    missing = _missing_database(given)
    if missing is not None:
        click.echo(f"{_no_database(missing)} ('deepalpha users add' creates it)")
        return 1

    async def read(store: SqlStore) -> list[tuple[str, str, str, str]]:
        names = await store.trader_names()
        rows = []
        for user in await store.list_users():
            owned = await store.traders_owned(user.name)
            rows.append(
                (
                    user.name,
                    user.role,
                    "yes" if user.disabled else "no",
                    ", ".join(f"{t} ({names.get(t, '?')})" for t in owned) or "—",
                )
            )
        return rows

    rows = _run(given, read)
    if not rows:
        click.echo(f"no users yet; add one with {FIRST_ADD}")
        return 0
    header = ("NAME", "ROLE", "DISABLED", "TRADERS")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        padded = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        click.echo("  ".join([*padded, row[3]]))
    return 0


@users.command()
@click.argument("name")
@_command
def remove(given: Shared, name: str) -> int:
    """Remove the user NAME; the traders it owned are left without an owner."""

    async def work(store: SqlStore) -> list[str]:
        await _must_exist(store, name)
        owned = await store.traders_owned(name)
        await store.remove_user(name)
        await store.audit(ACTOR, "user.remove", name, {"released": owned})
        return owned

    owned = _run(given, work)
    click.echo(f"removed {name}" + (f"; no owner now: {', '.join(owned)}" if owned else ""))
    return 0


async def _must_exist(store: SqlStore, name: str) -> str:
    from deepalpha.storage.errors import UnknownUser  # noqa: PLC0415

    user = await store.get_user(name)
    if user is None:
        raise UnknownUser(f"no user {name!r}; see 'deepalpha users list'")
    return user.role


@users.command()
@click.argument("name")
@PASSWORD_STDIN
@_command
def passwd(given: Shared, name: str, password_stdin: bool) -> int:
    """Give the user NAME a new password."""
    from deepalpha.server.auth import hash_password  # noqa: PLC0415

    _run(given, lambda store: _must_exist(store, name))
    hashed = hash_password(_new_password(name, password_stdin))

    async def write(store: SqlStore) -> None:
        await store.set_password(name, hashed)
        await store.audit(ACTOR, "user.passwd", name)

    _run(given, write)
    click.echo(f"new password set for {name}")
    return 0


@users.command()
@click.argument("name")
@click.argument("role", metavar="admin|trader|viewer")
@_command
def role(given: Shared, name: str, role: str) -> int:
    """Change the role of the user NAME (the traders it owns stay its own)."""
    new = _role(role)

    async def work(store: SqlStore) -> str:
        old = await _must_exist(store, name)
        await store.set_role(name, new)
        await store.audit(ACTOR, "user.role", name, {"from": old, "to": new})
        return old

    old = _run(given, work)
    click.echo(f"{name}: {old} → {new}" if old != new else f"{name} is already {_a(new)}")
    return 0


def _set_disabled(given: Shared, name: str, disabled: bool) -> int:
    async def work(store: SqlStore) -> None:
        await _must_exist(store, name)
        await store.set_disabled(name, disabled)
        await store.audit(ACTOR, "user.disable" if disabled else "user.enable", name)

    _run(given, work)
    click.echo(f"{name} is {'disabled: it cannot log in' if disabled else 'enabled'}")
    return 0


@users.command()
@click.argument("name")
@_command
def disable(given: Shared, name: str) -> int:
    """Stop the user NAME from logging in (kept, with its traders)."""
    return _set_disabled(given, name, True)


@users.command()
@click.argument("name")
@_command
def enable(given: Shared, name: str) -> int:
    """Let a disabled user NAME log in again."""
    return _set_disabled(given, name, False)


def _traders(wanted: tuple[str, ...], names: dict[str, str]) -> list[str]:
    """Trader ids for what was given: an id, or a name only one trader has."""
    from deepalpha.storage.errors import UnknownTrader  # noqa: PLC0415

    known = ", ".join(f"{t} ({n})" for t, n in names.items()) or "none yet"
    out = []
    for given in wanted:
        if given in names:
            out.append(given)
            continue
        same = [t for t, n in names.items() if n == given]
        if len(same) == 1:
            out.append(same[0])
        elif same:
            raise UnknownTrader(f"{len(same)} traders are named {given!r}; give the id: {known}")
        else:
            raise UnknownTrader(f"no trader {given!r}; the traders are: {known}")
    return list(dict.fromkeys(out))


@users.command()
@click.argument("name")
@click.argument("traders", nargs=-1, required=True, metavar="TRADER...")
@_command
def own(given: Shared, name: str, traders: tuple[str, ...]) -> int:
    """Make the trader-role user NAME the owner of each TRADER (an id, or a trader's name);
    a trader has one owner, so it leaves its previous one."""

    async def work(store: SqlStore) -> list[str]:
        from deepalpha.storage.errors import UsersError  # noqa: PLC0415

        user_role = await _must_exist(store, name)
        if user_role != "trader":
            raise UsersError(
                f"{name} is {_a(user_role)}: only a trader-role user owns traders "
                "(an admin acts on all of them, a viewer on none)"
            )
        names = await store.trader_names()
        lines = []
        for trader_id in _traders(traders, names):  # all known before any is changed
            before = await store.trader_owner(trader_id)
            await store.set_trader_owner(trader_id, name)
            await store.audit(ACTOR, "trader.own", trader_id, {"owner": name, "before": before})
            moved = f", was {before}'s" if before not in (None, name) else ""
            lines.append(f"{name} owns {trader_id} ({names[trader_id]}){moved}")
        return lines

    for line in _run(given, work):
        click.echo(line)
    return 0


@users.command()
@click.argument("traders", nargs=-1, required=True, metavar="TRADER...")
@_command
def disown(given: Shared, traders: tuple[str, ...]) -> int:
    """Leave each TRADER (an id, or a trader's name) without an owner: only admins act on it."""

    async def work(store: SqlStore) -> list[str]:
        names = await store.trader_names()
        lines = []
        for trader_id in _traders(traders, names):
            before = await store.trader_owner(trader_id)
            await store.set_trader_owner(trader_id, None)
            await store.audit(ACTOR, "trader.disown", trader_id, {"before": before})
            lines.append(
                f"{trader_id} ({names[trader_id]}) has no owner"
                + (f" (was {before}'s)" if before else "")
            )
        return lines

    for line in _run(given, work):
        click.echo(line)
    return 0
