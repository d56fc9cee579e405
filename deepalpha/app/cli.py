"""The ``deepalpha`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepalpha import __version__

if TYPE_CHECKING:
    from deepalpha.app.backtest_job import AiOptions, CostEstimate


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
        "as live trading, with a strategy, scripted orders or an AI trader.",
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
    how.add_argument(
        "--trader",
        choices=["ai"],
        help="an AI trader deciding every --interval minutes of trading (intraday bars)",
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
    ai = bt.add_argument_group("AI trader (--trader ai)")
    ai.add_argument(
        "--model",
        metavar="PROFILE",
        help="baseline (rules, no LLM; the default), a model profile (deepseek, qwen, openai, "
        "kimi, ollama, vllm, llamacpp or one of settings [ai.profiles]), or custom",
    )
    ai.add_argument("--base-url", metavar="URL", help="--model custom: the endpoint (…/v1)")
    ai.add_argument("--model-name", metavar="NAME", help="--model custom: the model to ask")
    ai.add_argument(
        "--interval",
        type=int,
        metavar="MINUTES",
        help="minutes of simulated time between decisions (default: setting ai.interval_minutes)",
    )
    ai.add_argument(
        "--symbols", nargs="+", metavar="SYMBOL", help="the candidates (default: all in the data)"
    )
    ai.add_argument(
        "--lang", choices=["en", "zh"], default="en", help="the prompts' language (default en)"
    )
    ai.add_argument(
        "--yes",
        action="store_true",
        help="go ahead with a paid model without asking (the estimated cost is printed)",
    )
    return parser


class UserError(Exception):
    """A problem with the user's input; printed as one clear line, exit status 2."""


def _ai_options(args: argparse.Namespace) -> AiOptions | None:
    from deepalpha.app.backtest_job import AiOptions  # noqa: PLC0415

    given = [
        flag
        for flag, value in (
            ("--model", args.model),
            ("--base-url", args.base_url),
            ("--model-name", args.model_name),
            ("--interval", args.interval),
            ("--symbols", args.symbols),
        )
        if value is not None
    ]
    if args.trader != "ai":
        if given:
            raise UserError(
                f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --trader ai only"
            )
        return None
    return AiOptions(
        model=args.model or "baseline",
        base_url=args.base_url,
        model_name=args.model_name,
        interval_minutes=args.interval,
        symbols=tuple(args.symbols or ()),
        lang=args.lang,
    )


def _run_backtest(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415 - keep `deepalpha --help` fast
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    from deepalpha.app.backtest_job import (  # noqa: PLC0415
        BacktestInputError,
        estimate,
        execute,
        prepare,
    )
    from deepalpha.app.settings import Settings  # noqa: PLC0415
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
            disable=args.quiet,
        )

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
            ai=_ai_options(args),
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
            _confirm(cost, args.yes, Console())
        with progress_bar("backtest") as progress:
            task = progress.add_task(names[:60], total=total)
            result = execute(
                prepared, lambda done, _t: progress.update(task, completed=done), estimated=cost
            )
    except BacktestInputError as exc:
        raise UserError(str(exc)) from None
    report = build_report(result)
    _print_summary(report, Console())
    if args.json:
        _write_json(args.json, report)
        Console().print(f"report written to {args.json}")
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
