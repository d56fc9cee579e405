"""An interim live quote board for the ``deepalpha`` command, until the Textual workstation lands.

It plays the built-in simulated market in real time, drives a paper broker with one trader so
the engine really runs, and paints a rich table a few times a second. Colours follow the Chinese
convention: red is up, green is down.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.engine.feeds.simulator import SimulatedMarket
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market

REFRESH_SECONDS = 0.25
UP, DOWN, FLAT = "red", "green", "white"  # 红涨绿跌

_PHASE_TEXT = {
    Phase.CLOSED: ("closed", "dim"),
    Phase.PRE_OPEN: ("opening auction", "yellow"),
    Phase.CONTINUOUS: ("continuous trading", "bold"),
    Phase.LUNCH_BREAK: ("lunch break", "cyan"),
    Phase.CLOSING_AUCTION: ("closing auction", "yellow"),
}


def _direction_style(change: Decimal | None) -> str:
    if change is None or change == 0:
        return FLAT
    return UP if change > 0 else DOWN


def _volume_text(shares: int) -> str:
    if shares >= 100_000_000:
        return f"{shares / 100_000_000:.2f}亿"
    if shares >= 10_000:
        return f"{shares / 10_000:.1f}万"
    return str(shares)


def _limit_mark(q: Quote | None) -> Text:
    if q is None:
        return Text("")
    if q.limit_up is not None and q.last == q.limit_up:
        return Text(" LIMIT-UP ", style="bold white on red")
    if q.limit_down is not None and q.last == q.limit_down:
        return Text(" LIMIT-DOWN ", style="bold white on green")
    return Text("")


def _banner(sim: SimulatedMarket) -> Panel:
    now = sim.now()
    line = Text.assemble(
        (f" {sim.label} ", "bold white on red"),
        "  ",
        (f"{now:%Y-%m-%d %a %H:%M:%S} (UTC+8)", "bold"),
        f"   speed {sim.speed:g}×",
    )
    phases = Text()
    for market, name in ((Market.CN, "A-shares"), (Market.HK, "Hong Kong")):
        text, style = _PHASE_TEXT[sim.phase[market]]
        phases.append(f"{name}: ", style="bold")
        phases.append(text, style=style)
        phases.append("    ")
    phases.append("Prices are simulated, not live market data.", style="italic dim")
    return Panel(Group(line, phases), border_style="red", padding=(0, 1))


def _board(sim: SimulatedMarket, rows: int | None = None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False)
    table.add_column("Code", no_wrap=True)
    table.add_column("Name", no_wrap=True, max_width=12)
    table.add_column("Last", justify="right")
    table.add_column("Chg %", justify="right")
    table.add_column("Bid", justify="right")
    table.add_column("Ask", justify="right")
    table.add_column("Volume", justify="right")
    table.add_column("", no_wrap=True)
    previous_market: Market | None = None
    universe = sim.universe()
    if rows is not None and rows < len(universe):
        universe = universe[:rows]
    for inst in universe:
        if previous_market is not None and inst.market is not previous_market:
            table.add_section()
        previous_market = inst.market
        q = sim.quotes.get(inst.symbol)
        if q is None:
            pre_close, _, _ = sim.reference(inst.symbol)
            table.add_row(inst.code, inst.name, Text(str(pre_close), style="dim"), *["–"] * 4)
            continue
        change = q.change_pct
        style = _direction_style(change)
        table.add_row(
            inst.code,
            inst.name,
            Text(str(q.last), style=f"bold {style}"),
            Text("–" if change is None else f"{change:+.2f}", style=style),
            "–" if q.bid is None else str(q.bid),
            "–" if q.ask is None else str(q.ask),
            _volume_text(q.volume),
            _limit_mark(q),
        )
    return table


def _accounts(runtime: Runtime) -> Text:
    out = Text()
    for trader in runtime.traders.values():
        pf = runtime.broker.portfolio(trader.id)
        equity = pf.equity()
        deposits = pf.deposits_total()
        change = (equity / deposits - 1) * 100 if deposits else Decimal(0)
        out.append(f"{trader.name:<10}", style="bold")
        out.append(f" equity ¥{equity:,.2f} ", style="")
        out.append(f"{change:+.2f}%", style=_direction_style(change))
        held = len(pf.held())
        open_orders = sum(1 for _ in runtime.broker.open_orders(trader.id))
        out.append(f"   {held} positions, {open_orders} open orders\n", style="dim")
    out.append(f"data: {runtime.data_dir}   Ctrl+C to quit", style="dim")
    return out


def render(runtime: Runtime, rows: int | None = None) -> RenderableType:
    sim = runtime.market
    return Group(_banner(sim), _board(sim, rows), _accounts(runtime))


async def _play(options: RuntimeOptions, duration: float | None, console: Console) -> None:
    runtime = Runtime(options)
    await runtime.start()
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration

    def rows() -> int:
        # Banner (4), table chrome (4), traders and footer: keep the board inside the screen.
        return max(5, console.size.height - 9 - len(runtime.traders))

    try:
        with Live(
            render(runtime, rows()),
            console=console,
            refresh_per_second=4,
            transient=False,
            screen=console.is_terminal,
        ) as live:
            while deadline is None or loop.time() < deadline:
                await asyncio.sleep(REFRESH_SECONDS)
                for task in runtime.tasks:
                    if task.done():
                        task.result()  # a stopped feed: let its error surface
                live.update(render(runtime, rows()))
    finally:
        await runtime.stop()


def run_live_board(options: RuntimeOptions, duration: float | None = None) -> None:
    """Show the simulated market live; ``duration`` in real seconds, ``None`` until Ctrl+C."""
    console = Console()
    try:
        asyncio.run(_play(options, duration, console))
    except KeyboardInterrupt:
        console.print("[dim]Stopped. Everything is saved; the next start resumes here.[/dim]")
