"""The ``deepalpha`` command."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from deepalpha import __version__


def _decimal_arg(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def _date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _param_arg(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: write parameters as name=value")
    return key.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepalpha",
        allow_abbrev=False,
        description="A trading workstation for China A-shares and Hong Kong stocks. Without a "
        "command it opens the workstation on the simulated market.",
    )
    parser.add_argument("--version", action="version", version=f"deepalpha {__version__}")
    parser.add_argument("--seed", type=int, default=None, help="simulator seed")
    parser.add_argument(
        "--speed", type=float, default=None, help="simulated seconds per real second"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the database, settings and backups "
        "(default: DEEPALPHA_DATA_DIR or the platform data directory)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="postgresql+asyncpg://… instead of the local SQLite file "
        "(default: DEEPALPHA_DATABASE_URL)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="run the engine headless (no TUI) until SIGTERM or Ctrl+C",
    )
    sub = parser.add_subparsers(dest="command")

    db = sub.add_parser("db", help="database schema: upgrade, current, history")
    db.add_argument("action", choices=["upgrade", "current", "history"])

    from deepalpha.app import backup_cli  # noqa: PLC0415 - light: argparse only

    backup_cli.add_parser(sub)

    bt = sub.add_parser(
        "backtest",
        help="replay bar files through the paper broker",
        description="Replay CSV bar files through the same broker and portfolio "
        "as live trading, with a strategy or scripted orders.",
    )
    bt.add_argument(
        "--data",
        nargs="+",
        type=Path,
        required=True,
        metavar="PATH",
        help="bar files (daily 'date' or intraday 'datetime' rows)",
    )
    bt.add_argument(
        "--cash",
        type=_decimal_arg,
        required=True,
        help="initial cash in each currency the data trades in (CNY, HKD)",
    )
    bt.add_argument("--start", type=_date_arg, help="first trading day (YYYY-MM-DD)")
    bt.add_argument("--end", type=_date_arg, help="last trading day (YYYY-MM-DD)")
    how = bt.add_mutually_exclusive_group(required=True)
    how.add_argument("--strategy", help="a built-in strategy: sma_cross")
    how.add_argument(
        "--orders",
        type=Path,
        metavar="ORDERS.csv",
        help="scripted orders: date|datetime,symbol,side,quantity,type,limit_price",
    )
    bt.add_argument(
        "--param",
        type=_param_arg,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="strategy parameter (repeatable)",
    )
    bt.add_argument("--json", type=Path, metavar="OUT.json", help="write the full report")
    bt.add_argument(
        "--instruments",
        type=Path,
        metavar="FILE",
        help="more instruments (CSV: symbol,name,name_en,board_lot)",
    )
    bt.add_argument(
        "--volume-unit",
        choices=["auto", "shares", "lots"],
        default="auto",
        help="how the files count volume (auto: read it from 'amount')",
    )
    bt.add_argument(
        "--participation",
        type=_decimal_arg,
        default=None,
        help="largest share of a bar's volume an order may take (default 0.25)",
    )
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


class UserError(Exception):
    """A problem with the user's input; printed as one clear line, exit status 2."""


def _run_backtest(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415 - keep `deepalpha --help` fast
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    from deepalpha.app.backtest_job import BacktestInputError, execute, prepare  # noqa: PLC0415
    from deepalpha.app.settings import Settings  # noqa: PLC0415
    from deepalpha.engine.backtest.report import build_report  # noqa: PLC0415

    try:
        prepared = prepare(
            Settings(),
            args.data,
            args.cash,
            args.strategy,
            dict(args.param),
            args.orders,
            start=args.start,
            end=args.end,
            instruments_file=args.instruments,
            volume_unit=args.volume_unit,
            participation=args.participation,
        )
        series = prepared[0]
        names = ", ".join(s.symbol for s in series)
        with Progress(
            TextColumn("[bold]backtest[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} bars"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=args.quiet,
        ) as progress:
            task = progress.add_task(names[:60], total=sum(len(s.bars) for s in series))
            result = execute(prepared, lambda done, _t: progress.update(task, completed=done))
    except BacktestInputError as exc:
        raise UserError(str(exc)) from None
    report = build_report(result)
    _print_summary(report, Console())
    if args.json:
        try:
            args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {args.json}: {exc.strerror}") from None
        Console().print(f"report written to {args.json}")
    return 0


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
    console.print(table)


def _run_db(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.storage.database import (  # noqa: PLC0415
        DatabaseError,
        create_engine,
        resolve,
    )
    from deepalpha.storage.migrate import (  # noqa: PLC0415
        SchemaError,
        current_revision,
        head_revision,
        history,
        upgrade,
    )

    if args.action == "history":
        for rev in history():
            print(
                f"{rev.revision}  {rev.message.splitlines()[0] if rev.message else ''}"
                f"{'  (head)' if rev.revision == head_revision() else ''}"
            )
        return 0

    async def go() -> int:
        target = resolve(args.database_url, paths.data_dir(args.data_dir))
        engine = create_engine(target)
        try:
            if args.action == "upgrade":
                before = await current_revision(engine)
                after = await upgrade(engine)
                print(
                    f"{target.display}: {before or 'empty'} → {after}"
                    if before != after
                    else f"{target.display}: already at {after}"
                )
            else:
                rev = await current_revision(engine)
                state = "head" if rev == head_revision() else f"behind head {head_revision()}"
                print(
                    f"{target.display}: {rev or 'empty (no schema yet)'}"
                    f"{f' ({state})' if rev else ''}"
                )
        except SchemaError as exc:
            raise UserError(f"{target.display}: {exc}") from None
        finally:
            await engine.dispose()
        return 0

    try:
        return asyncio.run(go())
    except DatabaseError as exc:
        raise UserError(str(exc)) from None


def _run_serve(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.app.lock import DataDirBusy  # noqa: PLC0415
    from deepalpha.app.runtime import RuntimeOptions  # noqa: PLC0415
    from deepalpha.app.serve import serve, setup_logging  # noqa: PLC0415
    from deepalpha.storage.database import DatabaseError  # noqa: PLC0415

    setup_logging()
    options = RuntimeOptions(
        data_dir=paths.data_dir(args.data_dir),
        database_url=args.database_url,
        seed=args.seed,
        speed=args.speed,
    )
    try:
        return asyncio.run(serve(options))
    except (DatabaseError, DataDirBusy) as exc:
        raise UserError(str(exc)) from None


def _run_workstation(args: argparse.Namespace) -> int:
    from deepalpha.app import paths  # noqa: PLC0415
    from deepalpha.app.local_backend import LocalBackend  # noqa: PLC0415
    from deepalpha.app.lock import DataDirBusy  # noqa: PLC0415
    from deepalpha.app.runtime import RuntimeOptions  # noqa: PLC0415
    from deepalpha.app.tui import make_app  # noqa: PLC0415
    from deepalpha.storage.database import DatabaseError  # noqa: PLC0415

    options = RuntimeOptions(
        data_dir=paths.data_dir(args.data_dir),
        database_url=args.database_url,
        seed=args.seed,
        speed=args.speed,
    )
    app = make_app(LocalBackend(options))
    try:
        app.run()
    except (DatabaseError, DataDirBusy) as exc:
        raise UserError(str(exc)) from None
    if app.return_code:
        return app.return_code
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "backtest":
            return _run_backtest(args)
        if args.command == "db":
            return _run_db(args)
        if args.command == "backup":
            from deepalpha.app import backup_cli  # noqa: PLC0415

            return backup_cli.run(args)
        if args.serve:
            return _run_serve(args)
        return _run_workstation(args)
    except UserError as exc:
        print(f"deepalpha: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
