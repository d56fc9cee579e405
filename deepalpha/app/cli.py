"""The ``deepalpha`` command: a click group whose default (no command) opens the workstation.

The shared options say where things are (``--data-dir``, ``--database-url``) and how the
simulated market runs (``--seed``, ``--speed``, ``--start``). They go before or after the
command: ``deepalpha --data-dir D backup create`` and ``deepalpha backup create --data-dir D``
are the same. Given in both places, the command's own value wins, being the nearer one.

Exit status: 0 done; 1 the command ran and says why it did nothing (``db current`` with no
database yet, ``backup verify`` with no archive, a declined confirmation); 2 a mistake in what
was asked, said in one line (``deepalpha: error: …``) or by click's usage message; 130 Ctrl+C.

Heavy libraries (sqlalchemy, textual, pandas, exchange-calendars, TA-Lib) are imported inside
the commands, so that ``deepalpha --help`` answers at once.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import click

from deepalpha import __version__

if TYPE_CHECKING:
    from deepalpha.app.backtest_job import AiOptions, CostEstimate
    from deepalpha.app.runtime import RuntimeOptions
    from deepalpha.app.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

BEIJING = ZoneInfo("Asia/Shanghai")  # --start is read as exchange time, whatever the machine's
START_FORMAT = "YYYY-MM-DD HH:MM"


class UserError(click.ClickException):
    """A problem with the user's input; printed as one clear line, exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"deepalpha: error: {self.format_message()}", file=file or sys.stderr)


# --- value types: the same messages the argparse types gave -----------------------------------
class PositiveDecimal(click.ParamType):
    name = "number"

    def __init__(self, maximum: Decimal | None = None) -> None:
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Decimal):
            return value
        try:
            number = Decimal(str(value).replace(",", "").replace("_", ""))
        except InvalidOperation:
            self.fail(f"{value!r} is not a number", param, ctx)
        if not number.is_finite() or number <= 0:
            self.fail(f"{value!r} must be a positive number", param, ctx)
        if self.maximum is not None and number > self.maximum:
            self.fail(f"{value!r} is more than {self.maximum:,}", param, ctx)
        return number


# Money beyond this overflows the 28 significant digits of Decimal arithmetic once fees and
# returns are computed to the cent: a thousand trillion is past any real account.
MAX_CASH = Decimal(10) ** 15


class PositiveFloat(click.ParamType):
    """A rate such as the simulator's speed; not money, so a float is right."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (0 < number < float("inf")):
            self.fail(f"{value!r} must be a positive number", param, ctx)
        return number


class IsoDate(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


class BeijingMoment(click.ParamType):
    """A wall-clock moment in Beijing time (Asia/Shanghai), made timezone-aware."""

    name = START_FORMAT

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        text = " ".join(str(value).replace("T", " ").split())
        try:
            naive = datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: DTZ007 - Beijing below
        except ValueError:
            self.fail(
                f"{value!r} is not a moment in Beijing time: write {START_FORMAT}, "
                'e.g. "2024-03-04 09:30"',
                param,
                ctx,
            )
        return naive.replace(tzinfo=BEIJING)


class Count(click.ParamType):
    name = "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(value)
            except ValueError:
                self.fail(f"{value!r} is not a whole number", param, ctx)
        if number < 0:
            self.fail(f"{value!r} must be 0 or more", param, ctx)
        return number


def _param(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, str]]:
    out = []
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{text!r}: write parameters as name=value")
        out.append((key.strip(), value.strip()))
    return out


# --- the shared options -------------------------------------------------------------------------
@dataclass(slots=True)
class Shared:
    """The shared options as given, the command's own over the group's."""

    data_dir: Path | None = None
    database_url: str | None = None
    seed: int | None = None
    speed: float | None = None
    start: datetime | None = None

    def runtime_options(self) -> RuntimeOptions:
        from deepalpha.app import paths  # noqa: PLC0415
        from deepalpha.app.runtime import RuntimeOptions  # noqa: PLC0415 - heavy

        return RuntimeOptions(
            data_dir=paths.data_dir(self.data_dir),
            database_url=self.database_url,
            seed=self.seed,
            speed=self.speed,
            start_at=self.start,
        )


MARKET_OPTIONS = ("seed", "speed", "start")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_SHARED_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "data_dir": (
        "--data-dir",
        {
            "type": click.Path(file_okay=False, path_type=Path),
            "metavar": "DIR",
            "help": "Folder of the database, settings.toml and backups/ "
            "(default: DEEPALPHA_DATA_DIR, else the platform data directory).",
        },
    ),
    "database_url": (
        "--database-url",
        {
            "metavar": "URL",
            "help": "postgresql+asyncpg://… instead of the SQLite file in the data directory "
            "(default: DEEPALPHA_DATABASE_URL).",
        },
    ),
    "seed": ("--seed", {"type": int, "metavar": "N", "help": "Simulated market seed."}),
    "speed": (
        "--speed",
        {"type": PositiveFloat(), "metavar": "X", "help": "Simulated seconds per real second."},
    ),
    "start": (
        "--start",
        {
            "type": BeijingMoment(),
            "metavar": f'"{START_FORMAT}"',
            "help": "Where the simulated market starts, in Beijing time, instead of where the "
            "last run stopped (default: resume; on a fresh data directory, now).",
        },
    ),
}


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        # Parsed in order root, then command: a command's value lands last and wins.
        if value is not None:
            setattr(ctx.ensure_object(Shared), name, value)

    return callback


def shared(*names: str) -> Callable[[F], F]:
    """Give a command the shared options ``names``; their values go to the context's
    :class:`Shared` rather than to the function."""

    def decorate(f: F) -> F:
        for name in reversed(names):
            flag, extra = _SHARED_OPTIONS[name]
            f = click.option(
                flag, name, default=None, expose_value=False, callback=_store(name), **extra
            )(f)
        return f

    return decorate


def _spread(args: Sequence[str], names: frozenset[str]) -> list[str]:
    """``--data a.csv b.csv`` as ``--data a.csv --data b.csv``: options that take one or more
    values (argparse's nargs="+") in click, which gives an option a fixed number of values."""
    out: list[str] = []
    current: str | None = None
    taken = 0
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        if arg.startswith("-") and len(arg) > 1:
            flag, eq, _ = arg.partition("=")
            current = flag if flag in names else None
            taken = 1 if eq else 0
            out.append(arg)
            continue
        if current is not None:
            if taken:
                out.append(current)
            taken += 1
        out.append(arg)
    return out


class GreedyCommand(click.Command):
    greedy = frozenset({"--data", "--symbols"})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _spread(args, self.greedy))


class LazyGroup(click.Group):
    """Commands in other modules, imported when asked for."""

    lazy: ClassVar[dict[str, str]] = {
        "backup": "deepalpha.app.backup_cli:backup",
        "users": "deepalpha.app.users_cli:users",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is not None:
            module, _, attr = target.partition(":")
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


# --- the group ----------------------------------------------------------------------------------
@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
The shared options also go after a command:
  deepalpha backup create --data-dir DIR  is  deepalpha --data-dir DIR backup create
Given in both places, the command's own value wins.

\b
Exit status: 0 done; 1 nothing done, and the output says why (e.g. 'db current' with no
database yet); 2 a mistake in the input, in one line on stderr; 130 interrupted.""",
)
@shared("data_dir", "database_url", *MARKET_OPTIONS)
@click.option(
    "--serve",
    "serve_flag",
    is_flag=True,
    help="Alias of the 'serve' command: the engine headless until SIGTERM or Ctrl+C.",
)
@click.option(
    "--connect",
    "connect_url",
    metavar="URL",
    help="Alias of the 'connect' command: the workstation on the engine of a 'deepalpha serve'.",
)
@click.option("--user", metavar="NAME", help="With --connect: sign in as NAME.")
@click.version_option(__version__, prog_name="deepalpha", message="%(prog)s %(version)s")
@click.pass_context
def cli(
    ctx: click.Context, serve_flag: bool, connect_url: str | None, user: str | None
) -> int | None:
    """A trading workstation for China A-shares and Hong Kong stocks.

    Without a command it opens the workstation on the simulated market.
    """
    given = ctx.ensure_object(Shared)
    command = ctx.invoked_subcommand
    if serve_flag and command is not None:
        raise click.UsageError(
            f"--serve is an alias of the 'serve' command; it does not go with '{command}'"
        )
    if connect_url is not None:
        _check_connect_alone(given, command, serve_flag)
    elif user is not None:
        raise click.UsageError("--user goes with --connect URL (or: deepalpha connect URL --user)")
    if command not in (None, "serve"):
        # Only the root's values are stored yet: the command's options are parsed next.
        misplaced = [f"--{n}" for n in MARKET_OPTIONS if getattr(given, n) is not None]
        if misplaced:
            hint = (
                " (backtest has its own --start DATE, after 'backtest')"
                if (command == "backtest" and given.start is not None)
                else ""
            )
            raise click.UsageError(
                f"{', '.join(misplaced)} set{'s' if len(misplaced) == 1 else ''} up the "
                f"simulated market of the workstation and 'serve', not '{command}'{hint}"
            )
    if command is not None:
        return None
    if connect_url is not None:
        return _run_connect(given, connect_url, user)
    return _run_serve(given) if serve_flag else _run_workstation(given)


def _check_connect_alone(given: Shared, command: str | None, serve_flag: bool) -> None:
    if command is not None or serve_flag:
        other = f"'{command}'" if command is not None else "--serve"
        raise click.UsageError(
            f"--connect is an alias of the 'connect' command; it does not go with {other}"
        )
    engine = [f"--{n}" for n in MARKET_OPTIONS if getattr(given, n) is not None]
    engine += ["--database-url"] if given.database_url is not None else []
    if engine:
        raise click.UsageError(
            f"{', '.join(engine)}: the server's engine has its own (set them on "
            "'deepalpha serve'), not --connect"
        )


@cli.result_callback()
@click.pass_context
def _exit_with(ctx: click.Context, code: int | None, **_: Any) -> None:
    ctx.exit(code or 0)


# --- serve and the workstation ------------------------------------------------------------------
@cli.command(short_help="Run the engine headless with its HTTP/WebSocket API.")
@shared("data_dir", "database_url", *MARKET_OPTIONS)
@click.option(
    "--host",
    metavar="ADDRESS",
    help="Listen on this address (default: [server] host, 127.0.0.1). Any other than loopback "
    "needs DEEPALPHA_JWT_SECRET and a user.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="N",
    help="Listen on this port (default: [server] port, 8700; 0 picks a free one).",
)
@click.pass_obj
def serve(given: Shared, host: str | None, port: int | None) -> int:
    """Run the engine headless (no TUI) with its API under /api/v1 until SIGTERM or Ctrl+C;
    alias: deepalpha --serve."""
    return _run_serve(given, host, port)


def _run_serve(given: Shared, host: str | None = None, port: int | None = None) -> int:
    import logging  # noqa: PLC0415

    from deepalpha.app.json_log import setup_logging  # noqa: PLC0415

    # A stop signal while the engine's modules load (an orchestrator stopping a pod it just
    # started) is noted, not fatal: serve() honours it before it opens anything. Raising from
    # the handler instead would be swallowed if it landed inside a log call.
    requested: list[int] = []
    previous = {sig: signal.signal(sig, lambda n, _f: requested.append(n)) for sig in STOP_SIGNALS}
    setup_logging()
    logging.getLogger("deepalpha").info("starting headless")
    try:
        return _serve_now(given, requested, host, port)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve_now(given: Shared, requested: list[int], host: str | None, port: int | None) -> int:
    import asyncio  # noqa: PLC0415

    from deepalpha.app.lock import DataDirBusy  # noqa: PLC0415
    from deepalpha.app.settings import SettingsError  # noqa: PLC0415
    from deepalpha.server import run as server  # noqa: PLC0415
    from deepalpha.server.run import ServeRefused  # noqa: PLC0415
    from deepalpha.storage.database import DatabaseError  # noqa: PLC0415

    try:
        return asyncio.run(
            server.serve_api(
                given.runtime_options(), host=host, port=port, stop_requested=requested
            )
        )
    except (DatabaseError, DataDirBusy, ServeRefused) as exc:
        raise UserError(str(exc)) from None
    except SettingsError as exc:
        raise UserError(f"settings: {exc}") from None


@cli.command(short_help="Open the workstation on the engine of a 'deepalpha serve'.")
@click.argument("url")
@click.option("--user", metavar="NAME", help="Sign in as NAME (default: asked).")
@shared("data_dir")
@click.pass_obj
def connect(given: Shared, url: str, user: str | None) -> int:
    """Open the workstation on the engine of a 'deepalpha serve' at URL (http://HOST:PORT):
    sign in with a name and password (the refresh token is then kept in the keyring, so the
    next time asks nothing); orders, fills and decisions are the server's. Alias: deepalpha
    --connect URL."""
    return _run_connect(given, url, user)


def _run_connect(given: Shared, url: str, user: str | None) -> int:
    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.app.remote_backend import RemoteBackend  # noqa: PLC0415
    from deepalpha.app.remote_session import base_url  # noqa: PLC0415

    try:
        url = base_url(url)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    tokens = _signed_in(url, user)
    backend = RemoteBackend(
        url,
        tokens,
        data_dir=paths.data_dir(given.data_dir),
        on_tokens=lambda renewed: _keep_refresh_token(url, renewed.refresh, quiet=True),
    )
    return _open_remote(backend)


def _open_remote(backend: Any) -> int:
    """The workstation on a server's engine, until it is closed."""
    from deepalpha.app.tui import make_app  # noqa: PLC0415

    app = make_app(backend)
    app.run()
    if app.start_error is not None:
        raise UserError(str(app.start_error))
    return app.return_code or 0


KEYRING_SERVICE = "deepalpha"


def _refresh_key(url: str) -> str:
    return f"refresh:{url}"


def _signed_in(url: str, user: str | None) -> Any:
    """A session on ``url``: renewed from the keyring's refresh token (when it is ``user``'s),
    else signed in with a name and password asked here. Errors are one line."""
    import asyncio  # noqa: PLC0415

    from deepalpha.app.remote_session import RemoteError, renew, sign_in  # noqa: PLC0415

    stored = _stored_refresh_token(url)
    if stored is not None and (user is None or _token_user(stored) == user):
        try:
            renewed = asyncio.run(renew(url, stored))
            _keep_refresh_token(url, renewed.refresh, quiet=True)  # good for another week
            return renewed
        except RemoteError as exc:
            if exc.code == "unreachable":
                raise UserError(exc.message) from None
            # Expired or from another server: sign in again.
    name = user or click.prompt("Name")
    password = click.prompt("Password", hide_input=True)
    try:
        tokens = asyncio.run(sign_in(url, name, password))
    except RemoteError as exc:
        if exc.code == "unreachable":
            raise UserError(exc.message) from None
        raise UserError(f"cannot sign in to {url} as {name}: {exc.message}") from None
    _keep_refresh_token(url, tokens.refresh, quiet=False)
    return tokens


def _token_user(token: str) -> str | None:
    """Whose a token is (its ``sub``), read without checking it: only to pick the session."""
    import base64  # noqa: PLC0415

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["sub"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _stored_refresh_token(url: str) -> str | None:
    try:
        import keyring  # noqa: PLC0415 - late: backends are slow to load

        return keyring.get_password(KEYRING_SERVICE, _refresh_key(url)) or None
    except Exception:  # no keyring, a locked one: sign in instead
        return None


def _keep_refresh_token(url: str, token: str, *, quiet: bool) -> None:
    """Kept for the next ``connect``; without a keyring the person is told (once, at sign-in)
    that they will be asked again, and it goes on."""
    try:
        import keyring  # noqa: PLC0415

        keyring.set_password(KEYRING_SERVICE, _refresh_key(url), token)
    except Exception as exc:
        if not quiet:
            click.echo(
                f"deepalpha: no keyring to keep the session in ({type(exc).__name__}); "
                "you will be asked to sign in next time",
                err=True,
            )


def _run_workstation(given: Shared) -> int:
    from deepalpha.app.first_settings import SettingsError  # noqa: PLC0415
    from deepalpha.app.local_backend import LocalBackend  # noqa: PLC0415
    from deepalpha.app.lock import DataDirBusy  # noqa: PLC0415
    from deepalpha.app.tui import make_app  # noqa: PLC0415
    from deepalpha.storage.errors import DatabaseError  # noqa: PLC0415 - no SQLAlchemy yet

    backend = LocalBackend(given.runtime_options())
    app = make_app(backend)
    try:
        app.run()
    except (DatabaseError, DataDirBusy) as exc:
        raise UserError(str(exc)) from None
    if app.start_error is not None:
        prefix = "settings: " if isinstance(app.start_error, SettingsError) else ""
        raise UserError(f"{prefix}{app.start_error}")
    unsaved = backend.runtime.unsaved
    if unsaved:
        click.echo(
            f"deepalpha: stopped with {unsaved} changes unsaved "
            f"({backend.runtime.writer.last_error}); what was acknowledged before is saved",
            err=True,
        )
        from deepalpha.app.serve import UNSAVED_EXIT  # noqa: PLC0415 - loaded with the engine

        return UNSAVED_EXIT
    return app.return_code or 0


# --- db -----------------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """Database schema: upgrade, current, history."""


@db.command("upgrade")
@shared("data_dir", "database_url")
@click.pass_obj
def db_upgrade(given: Shared) -> int:
    """Bring the schema to this version's head (creates the database if there is none)."""
    return _run_db("upgrade", given)


@db.command("current")
@shared("data_dir", "database_url")
@click.pass_obj
def db_current(given: Shared) -> int:
    """The database's schema revision. Never creates a database: where there is none yet it
    says so and exits with status 1."""
    return _run_db("current", given)


@db.command("history")
def db_history() -> int:
    """Every schema revision this version knows, newest first."""
    from deepalpha.storage.migrate import head_revision, history  # noqa: PLC0415

    head = head_revision()
    for rev in history():
        click.echo(
            f"{rev.revision}  {rev.message.splitlines()[0] if rev.message else ''}"
            f"{'  (head)' if rev.revision == head else ''}"
        )
    return 0


def _run_db(action: str, given: Shared) -> int:
    import asyncio  # noqa: PLC0415

    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.storage.database import (  # noqa: PLC0415
        DatabaseError,
        create_engine,
        explain,
        resolve,
    )
    from deepalpha.storage.migrate import (  # noqa: PLC0415
        SchemaError,
        current_revision,
        head_revision,
        upgrade,
    )

    try:
        target = resolve(given.database_url, paths.data_dir(given.data_dir))
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    if action == "current" and target.path is not None and not target.path.exists():
        # Opening a SQLite path creates the file (and its folder): a question must not.
        click.echo(
            f"{target.display}: no database there yet ('deepalpha db upgrade' or starting "
            "DeepAlpha creates it)"
        )
        return 1

    async def go() -> None:
        engine = create_engine(target)
        try:
            if action == "upgrade":
                before = await current_revision(engine)
                after = await upgrade(engine)
                click.echo(
                    f"{target.display}: {before or 'empty'} → {after}"
                    if before != after
                    else f"{target.display}: already at {after}"
                )
            else:
                rev = await current_revision(engine)
                state = "head" if rev == head_revision() else f"behind head {head_revision()}"
                click.echo(
                    f"{target.display}: {rev or 'empty (no schema yet)'}"
                    f"{f' ({state})' if rev else ''}"
                )
        except SchemaError as exc:
            raise UserError(f"{target.display}: {exc}") from None
        except (SQLAlchemyError, OSError, TypeError) as exc:  # TypeError: a URL option
            raise explain(exc, target) from None
        finally:
            await engine.dispose()

    try:
        asyncio.run(go())
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    return 0


# --- backtest -----------------------------------------------------------------------------------
@cli.command(
    cls=GreedyCommand,
    short_help="Replay bar files through the paper broker.",
    epilog="--data and --symbols take one or more values (--data a.csv b.csv) or repeat.",
)
@click.option(
    "--data",
    "data",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH...",
    help="Bar files (daily 'date' or intraday 'datetime' rows).",
)
@click.option(
    "--cash",
    required=True,
    type=PositiveDecimal(MAX_CASH),
    help="Initial cash in each currency the data trades in (CNY, HKD).",
)
@click.option("--start", type=IsoDate(), help="First trading day (YYYY-MM-DD).")
@click.option("--end", type=IsoDate(), help="Last trading day (YYYY-MM-DD).")
@click.option("--strategy", metavar="NAME", help="A built-in strategy: sma_cross.")
@click.option(
    "--orders",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="ORDERS.csv",
    help="Scripted orders: date|datetime,symbol,side,quantity,type,limit_price. Orders of one "
    "bar are processed in file order, each seeing what the ones before it did.",
)
@click.option(
    "--trader",
    type=click.Choice(["ai"]),
    help="An AI trader deciding every --interval minutes of trading (intraday bars).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    callback=_param,
    help="Strategy parameter (repeatable). A quantity the board lot rounds is reported.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path),
    metavar="OUT.json",
    help="Write the full report.",
)
@click.option(
    "--instruments",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="More instruments (CSV: symbol,name,name_en,board_lot).",
)
@click.option(
    "--volume-unit",
    type=click.Choice(["auto", "shares", "lots"]),
    default="auto",
    show_default=True,
    help="How the files count volume (auto: read it from 'amount').",
)
@click.option(
    "--participation",
    type=PositiveDecimal(Decimal(1)),
    default=None,
    help="Largest share of a bar's volume an order may take (default: setting, 0.25).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--model",
    metavar="PROFILE",
    help="AI trader: baseline (rules, no LLM; the default), a model profile (deepseek, qwen, "
    "openai, kimi, ollama, vllm, llamacpp or one of settings [ai.profiles]), or custom.",
)
@click.option("--base-url", metavar="URL", help="--model custom: the endpoint (…/v1).")
@click.option("--model-name", metavar="NAME", help="--model custom: the model to ask.")
@click.option(
    "--interval",
    type=int,
    metavar="MINUTES",
    help="AI trader: minutes of simulated time between decisions (default: setting "
    "ai.interval_minutes).",
)
@click.option(
    "--symbols",
    multiple=True,
    metavar="SYMBOL...",
    help="AI trader: the candidates (default: all in the data).",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="AI trader: the prompts' language.",
)
@click.option(
    "--yes",
    is_flag=True,
    help="AI trader: go ahead with a paid model without asking (the estimated cost is printed).",
)
@shared("data_dir")
@click.pass_obj
def backtest(given: Shared, **opts: Any) -> int:
    """Replay CSV bar files through the same broker and portfolio as live trading, with a
    strategy, scripted orders or an AI trader.

    --data-dir only chooses the settings.toml read (fees, rules, model profiles and prices);
    a backtest stores nothing.
    """
    how = [f"--{key}" for key in ("strategy", "orders", "trader") if opts[key] is not None]
    if not how:
        raise click.UsageError("one of --strategy, --orders or --trader is required")
    if len(how) > 1:
        raise click.UsageError(f"{how[1]} is not allowed with {how[0]}")
    return _run_backtest(given, opts)


def _settings(given: Shared) -> Settings:
    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.app.settings import (  # noqa: PLC0415
        SettingsError,
        load_settings,
        use_settings_file,
    )

    use_settings_file(paths.settings_file(paths.data_dir(given.data_dir)))
    try:
        return load_settings()
    except SettingsError as exc:
        raise UserError(f"settings: {exc}") from None


def _ai_options(opts: dict[str, Any]) -> AiOptions | None:
    from deepalpha.app.backtest_job import AiOptions  # noqa: PLC0415

    given = [
        flag
        for flag, value in (
            ("--model", opts["model"]),
            ("--base-url", opts["base_url"]),
            ("--model-name", opts["model_name"]),
            ("--interval", opts["interval"]),
            ("--symbols", opts["symbols"] or None),
        )
        if value is not None
    ]
    if opts["trader"] != "ai":
        if given:
            raise UserError(
                f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --trader ai only"
            )
        return None
    return AiOptions(
        model=opts["model"] or "baseline",
        base_url=opts["base_url"],
        model_name=opts["model_name"],
        interval_minutes=opts["interval"],
        symbols=tuple(opts["symbols"]),
        lang=opts["lang"],
    )


def _run_backtest(given: Shared, opts: dict[str, Any]) -> int:
    from rich.console import Console  # noqa: PLC0415 - keep `deepalpha --help` fast
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    from deepalpha.app.backtest_job import (  # noqa: PLC0415
        BacktestInputError,
        estimate,
        execute,
        prepare,
    )
    from deepalpha.engine.backtest.report import build_report  # noqa: PLC0415

    err = Console(stderr=True)

    def progress_bar(what: str) -> Progress:
        return Progress(
            TextColumn(f"[bold]{what}[/] {{task.description}}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} bars"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=opts["quiet"],
        )

    ai = _ai_options(opts)
    settings = _settings(given)
    try:
        prepared = prepare(
            settings,
            list(opts["data"]),
            opts["cash"],
            opts["strategy"],
            dict(opts["params"]),
            opts["orders"],
            start=opts["start"],
            end=opts["end"],
            instruments_file=opts["instruments"],
            volume_unit=opts["volume_unit"],
            participation=opts["participation"],
            ai=ai,
        )
        series = prepared.series
        names = ", ".join(s.symbol for s in series)
        total = sum(len(s.bars) for s in series)
        cost = None
        if prepared.ai is not None and prepared.ai.paid:
            with progress_bar("estimating") as progress:
                task = progress.add_task(names[:60], total=total)
                cost = estimate(prepared, lambda done, _t: progress.update(task, completed=done))
            assert cost is not None
            _confirm(cost, opts["yes"], Console())
        with progress_bar("backtest") as progress:
            task = progress.add_task(names[:60], total=total)
            result = execute(
                prepared, lambda done, _t: progress.update(task, completed=done), estimated=cost
            )
    except BacktestInputError as exc:
        raise UserError(str(exc)) from None
    report = build_report(result)
    out = Console()
    _print_summary(report, out)
    for note in report["summary"]["notes"]:
        out.print(f"note: {note}", markup=False, highlight=False)
    if opts["json_out"]:
        _write_json(opts["json_out"], report)
        out.print(f"report written to {opts['json_out']}", markup=False)
    return 0


def _confirm(cost: CostEstimate, yes: bool, console: Any) -> None:
    """Say what the run would still pay the model; go ahead only when told to."""
    if cost.calls == 0:
        console.print(
            f"Model {cost.profile} ({cost.model}): all {cost.cycles:,} replies are in the "
            "reply cache; no model calls, no cost"
        )
        return
    if cost.priced:
        money = f"at most {cost.cost:,.4f} {cost.currency}"
    else:
        money = f"cost unknown: no price for {cost.model} in the price table ([ai.prices])"
    line = (
        f"Model {cost.profile} ({cost.model}): {cost.cycles:,} decision cycles, "
        f"{cost.cached:,} replies from the cache, {cost.calls:,} calls to make "
        f"(~{cost.prompt_tokens:,} prompt tokens + at most {cost.completion_tokens:,} "
        f"completion tokens): {money}"
    )
    console.print(line)
    if yes:
        return
    if sys.stdin is not None and sys.stdin.isatty():
        answer = input("Go ahead? [y/N] ").strip().lower()
        if answer in ("y", "yes"):
            return
        raise UserError("not confirmed; nothing was run")
    raise UserError(
        f"this run would call the paid model {cost.profile} {cost.calls:,} times "
        f"({money}); run again with --yes to go ahead"
    )


def _write_json(path: Path, report: dict[str, Any]) -> None:
    """Write the whole report or nothing: to a temporary file beside it, then renamed."""
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


def _print_summary(report: dict[str, Any], console: Any) -> None:
    from rich.table import Table  # noqa: PLC0415

    s = report["summary"]
    table = Table(
        title=f"Backtest · {s['strategy']} · {s['start']} → {s['end']}",
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column(justify="right")

    def pct(v: str | None) -> str:
        return "—" if v is None else f"{Decimal(v) * 100:.2f} %"

    rows = [
        ("Bars / symbols", f"{s['bars']:,} / {s['symbols']}"),
        ("Initial cash", f"{Decimal(s['initial_cash']):,.2f} {s['currency']}"),
        ("Final equity", f"{Decimal(s['final_equity']):,.2f} {s['currency']}"),
        ("Total return", pct(s["total_return"])),
        ("Annualized return", pct(s["annualized_return"])),
        ("Sharpe", "—" if s["sharpe"] is None else f"{Decimal(s['sharpe']):.2f}"),
        ("Max drawdown", pct(s["max_drawdown"])),
        ("Trades (fills) / round trips", f"{s['trades']:,} / {s['round_trips']:,}"),
        ("Win rate", pct(s["win_rate"])),
        ("Fees", f"{Decimal(s['fees_total']):,.2f} {s['currency']}"),
        ("Turnover", "—" if s["turnover"] is None else f"{Decimal(s['turnover']):.2f}×"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    rejected: dict[str, int] = {}
    for o in report["orders"]:
        if o["reject_code"]:
            rejected[o["reject_code"]] = rejected.get(o["reject_code"], 0) + 1
    if rejected:
        table.add_row(
            "Rejected / expired", ", ".join(f"{k} {v}" for k, v in sorted(rejected.items()))
        )
    ai = s.get("ai")
    if ai:
        tokens = ai["tokens"]
        same = ai["profile"] == "baseline"  # the baseline's name says it all
        table.add_row("AI model", ai["model"] if same else f"{ai['profile']} · {ai['model']}")
        table.add_row("Decision cycles", f"{ai['cycles']:,} (every {ai['interval_minutes']} min)")
        table.add_row(
            "Model calls / cached / failed",
            f"{ai['model_calls']:,} / {ai['cached_replies']:,} / {ai['failed_cycles']:,}",
        )
        table.add_row(
            "Tokens (prompt / completion)", f"{tokens['prompt']:,} / {tokens['completion']:,}"
        )
        table.add_row("Model cost", f"{Decimal(ai['cost']):,.4f} {ai['currency']}")
    console.print(table)


# --- the entry point ----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run ``deepalpha`` with ``argv`` (default: the process's) and return its exit status."""
    try:
        code = cli.main(args=argv, prog_name="deepalpha", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 130
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
