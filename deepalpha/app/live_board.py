"""An interim live quote board for the ``deepalpha`` command, until the Textual workstation lands.

It plays the built-in simulated market in real time, drives a paper broker with one trader so
the engine really runs, and paints a rich table a few times a second. Colours follow the Chinese
convention: red is up, green is down.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.feeds.simulator import SimulatedMarket
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market

REFRESH_SECONDS = 0.25
TRADER_ID = "you"
STARTING_CASH = {"CNY": Decimal(1_000_000), "HKD": Decimal(1_000_000)}
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


def _board(sim: SimulatedMarket) -> Table:
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
    for inst in sim.universe():
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


def _account(broker: PaperBroker) -> Text:
    pf = broker.portfolio(TRADER_ID)
    cash = "  ".join(f"{c} {a.cash:,.2f}" for c, a in sorted(pf.accounts.items()))
    return Text.assemble(
        ("Paper trader ", "dim"),
        (TRADER_ID, "bold"),
        ("  cash ", "dim"),
        cash,
        ("   Ctrl+C to quit", "dim"),
    )


def render(sim: SimulatedMarket, broker: PaperBroker) -> RenderableType:
    return Group(_banner(sim), _board(sim), _account(broker))


async def _play(seed: int, speed: float, duration: float | None, console: Console) -> None:
    sim = SimulatedMarket(seed=seed, speed=speed)
    bus = EventBus()
    broker = PaperBroker(sim.instruments, sim, bus)
    broker.add_trader(TRADER_ID, cash=dict(STARTING_CASH))
    feed = asyncio.create_task(sim.run(broker, bus))
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    try:
        with Live(
            render(sim, broker), console=console, refresh_per_second=4, transient=False
        ) as live:
            while deadline is None or loop.time() < deadline:
                await asyncio.sleep(REFRESH_SECONDS)
                if feed.done():
                    feed.result()  # the feed stopped: let its error surface
                live.update(render(sim, broker))
    finally:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed


def run_live_board(seed: int = 7, speed: float = 60.0, duration: float | None = None) -> None:
    """Show the simulated market live; ``duration`` in real seconds, ``None`` until Ctrl+C."""
    console = Console()
    try:
        asyncio.run(_play(seed, speed, duration, console))
    except KeyboardInterrupt:
        console.print("[dim]Stopped the simulated market.[/dim]")
