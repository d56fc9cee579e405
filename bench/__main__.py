"""``python -m bench [--only NAME] [--quick]``: run the benchmarks, print a table, write JSON.

The table's ratio is items/s of a row divided by items/s of its baseline row, both measured in
this process. Results also go to ``bench/results/latest.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import BenchResult

RESULTS = Path(__file__).parent / "results" / "latest.json"


def _backtest(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_backtest

    return bench_backtest.run(quick, repeat)


def _quotes(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_quotes

    return bench_quotes.run(quick, repeat)


def _persistence(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_persistence

    return bench_persistence.run(quick, repeat)


def _tui(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_tui

    return bench_tui.run(quick, repeat)


def _blotter(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_blotter

    return bench_blotter.run(quick, repeat)


def _ai_context(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_ai_context

    return bench_ai_context.run(quick, repeat)


def _launch(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_launch

    return bench_launch.run(quick, repeat)


def _ticket(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_ticket

    return bench_ticket.run(quick, repeat)


def _api(quick: bool, repeat: int) -> list[BenchResult]:
    from bench import bench_api

    return bench_api.run(quick, repeat)


BENCHMARKS: dict[str, Callable[[bool, int], list[BenchResult]]] = {
    "backtest": _backtest,
    "quotes": _quotes,
    "persistence": _persistence,
    "tui": _tui,
    "ai_context": _ai_context,
    "blotter": _blotter,
    "launch": _launch,
    "ticket": _ticket,
    "api": _api,
}


def _table(results: list[BenchResult]) -> str:
    head = ("name", "items", "seconds", "items/s", "baseline", "ratio", "check")
    rows = [
        (
            r.name,
            f"{r.items:,} {r.unit}",
            f"{r.seconds:.3f}",
            f"{r.rate:,.0f}",
            r.baseline or "—",
            "—" if r.ratio is None else f"{r.ratio:.3g}×",
            r.check,
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    numeric = {1, 2, 3, 5}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        choices=sorted(BENCHMARKS),
        action="append",
        help="run this benchmark only (repeatable)",
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run, for a quick look")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each engine; the fastest counts (3)"
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    args = parser.parse_args(argv)

    results: list[BenchResult] = []
    for name, bench in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        print(f"running {name}{' (quick)' if args.quick else ''} …", file=sys.stderr, flush=True)
        results.extend(bench(args.quick, args.repeat))
    print(_table(results))

    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeat": args.repeat,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": [r.as_dict() for r in results],
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    print(f"\nresults written to {args.json}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
