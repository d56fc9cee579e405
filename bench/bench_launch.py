"""Launch to first price: what a person waits for between typing ``deepalpha`` and seeing prices.

The whole process is measured, from just before exec to the first frame whose quote board shows
prices. The workstation runs under a pseudo-terminal of 160×50; its output goes through a real
terminal emulator (pyte) and the screen is read after every chunk the program writes. A frame
counts once at least ``ROWS_WITH_PRICES`` rows of the board read as "code, name, price". The
moment a chunk arrives is its time, so parsing it costs the program nothing.

Two cases, each launched five times (or ``--repeat`` times, if more) and the median reported:
the process is started anew each time, so a median is the honest summary of a noisy machine.

- fresh: a new data directory (the database is created, migrated and given the demo traders);
- existing: the directory a first run left behind (its database, its saved market).

The calendar cache (``DEEPALPHA_CACHE_DIR``) is warm in both, as it is on any machine after the
first run; the cold-cache first launch is printed beside them for information.

The real command runs, ``deepalpha --data-dir DIR --start "2025-12-03 10:00"``: the market's
start is pinned (a Wednesday morning, both markets trading) so the board has moving prices
whatever the real hour. Aim: < 1.0 s, median, each case.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from bench import BenchResult

AIM_SECONDS = 1.0
COLUMNS, LINES = 160, 50
ROWS_WITH_PRICES = 5
START = "2025-12-03 10:00"  # Beijing time: both markets in continuous trading
TIMEOUT = 30.0
# A board row: the code (A-share six digits or HK five), a name, then a price with decimals.
ROW = re.compile(r"(?:^|\s)[★ ]?(\d{6}|\d{5})\s+\S.*?\s(\d{1,3}(?:,\d{3})*\.\d{2,3})\s")


def _command() -> list[str]:
    """The ``deepalpha`` command of this environment (as installed), else the module."""
    script = Path(sys.executable).with_name("deepalpha")
    return [str(script)] if script.exists() else [sys.executable, "-m", "deepalpha"]


@dataclass(slots=True)
class Launch:
    first_price: float | None  # seconds from exec to the first frame with prices
    first_frame: float | None  # seconds to the first byte the program wrote to the terminal
    exit_code: int | None
    screen: str


def _priced_rows(lines: list[str]) -> int:
    return sum(1 for line in lines if ROW.search(line))


def launch(data_dir: Path, cache_dir: Path, *, start: str = START) -> Launch:
    """Start the workstation under a pty, wait for prices on the board, quit with Ctrl+Q."""
    import pyte

    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": str(COLUMNS),
        "LINES": str(LINES),
        "DEEPALPHA_CACHE_DIR": str(cache_dir),
        "DEEPALPHA_CONFIG": str(cache_dir / "none.toml"),
    }
    env.pop("TEXTUAL", None)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [*_command(), "--data-dir", str(data_dir), "--start", start],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    first_frame = first_price = None
    deadline = began + TIMEOUT
    quit_sent: float | None = None
    try:
        while proc.poll() is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            arrived = time.perf_counter() - began
            if first_frame is None:
                first_frame = arrived
            stream.feed(chunk)
            if first_price is None and _priced_rows(screen.display) >= ROWS_WITH_PRICES:
                first_price = arrived
            if first_price is not None and quit_sent is None:
                # Let it run a moment (the engine settles, the market is saved), then quit.
                quit_sent = time.perf_counter() + 0.5
            if quit_sent is not None and time.perf_counter() >= quit_sent:
                os.write(master, b"\x11")  # Ctrl+Q
                quit_sent = float("inf")
        if first_price is not None and quit_sent != float("inf"):
            os.write(master, b"\x11")
        # Drain until it exits, so the next launch finds the data directory unlocked.
        end = time.perf_counter() + 15.0
        while proc.poll() is None and time.perf_counter() < end:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(master, 1 << 16)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    return Launch(first_price, first_frame, proc.returncode, "\n".join(screen.display))


def _row(name: str, runs: list[Launch], note: str) -> BenchResult:
    times = [r.first_price for r in runs if r.first_price is not None]
    failed = len(runs) - len(times)
    med = statistics.median(times) if times else float("inf")
    frames = [r.first_frame for r in runs if r.first_frame is not None]
    first = statistics.median(frames) if frames else float("nan")
    spread = f"{min(times):.2f}–{max(times):.2f} s" if times else "none"
    check = (
        f"wall s; median {med:.3f} s (aim < {AIM_SECONDS:.1f} s), range {spread}, "
        f"first output {first:.2f} s; {note}"
    )
    if failed:
        check += f"; {failed} launch(es) showed no prices in {TIMEOUT:.0f} s"
    result = BenchResult(
        name,
        len(runs),
        "launches",
        sum(times) if times else float("inf"),
        check=check,
        wall_seconds=med,
        extra={"median_s": round(med, 4), "runs_s": [round(t, 4) for t in times]},
    )
    result.ok = not failed and med < AIM_SECONDS
    return result


def run(quick: bool = False, repeat: int = 3) -> list[BenchResult]:
    n = max(5, repeat) if not quick else 1
    fresh: list[Launch] = []
    existing: list[Launch] = []
    cold: list[Launch] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cache = root / "cache"
        # One launch on a cold cache first: what the very first start on a machine costs.
        cold.append(launch(root / "cold", cache))
        for i in range(n):
            data = root / f"data{i}"
            fresh.append(launch(data, cache))
            existing.append(launch(data, cache))
            shutil.rmtree(data, ignore_errors=True)
    for r in (*fresh, *existing, *cold):
        if r.first_price is None:
            print(f"launch showed no prices (exit {r.exit_code}):\n{r.screen}", file=sys.stderr)
    rows = [
        _row("launch → first price, fresh dir", fresh, "new database, migrations, demo traders"),
        _row("launch → first price, existing dir", existing, "the first run's data directory"),
    ]
    info = _row("launch → first price, cold cache", cold, "first start on a machine; no aim")
    info.ok = cold[0].first_price is not None
    info.check = info.check.replace(f" (aim < {AIM_SECONDS:.1f} s)", "")
    rows.append(info)
    return rows
