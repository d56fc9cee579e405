"""Snapshots of the main screens at 80×24 and 160×50, in English and Chinese.

The simulated market is played to a fixed moment and frozen there, so every run shows the same
prices, orders and clock. Update after an intended change with ``pytest --snapshot-update``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.app.tui import make_app
from deepalpha.engine.markets.sessions import SHANGHAI
from deepalpha.engine.orders import OrderRequest, OrderType, Side

START = datetime(2026, 11, 27, 9, 29, 45, tzinfo=SHANGHAI)
FROZEN = datetime(2026, 11, 27, 10, 30, tzinfo=SHANGHAI)
SCREENS = ["dashboard", "market", "orders", "positions"]
SIZES = [(80, 24), (160, 50)]


def frozen_app(data_dir: Path, screen: str) -> Any:
    backend = LocalBackend(
        RuntimeOptions(
            data_dir=data_dir, seed=7, start_at=START, frozen_at=FROZEN, auto_backup=False
        )
    )
    return make_app(backend, start_screen=screen)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", SCREENS)
def test_main_screens(
    snap_compare: Any, tmp_path: Path, screen: str, size: tuple[int, int], lang: str
) -> None:
    app = frozen_app(tmp_path, screen)

    async def prepare(pilot: Any) -> None:
        await app.set_language(lang)
        backend = app.backend
        # Fills, rejections and a sale, so the blotter and positions have rows: Hong Kong
        # trades T+0, so half the Tencent bought is sold at once and the position shows
        # realised P&L (the spread and the fees) beside the unrealised.
        await backend.place_order(OrderRequest("you", "600519.SH", Side.BUY, 100))
        await backend.place_order(OrderRequest("you", "00700.HK", Side.BUY, 200))
        await backend.place_order(OrderRequest("you", "00700.HK", Side.SELL, 100))
        await backend.place_order(
            OrderRequest("you", "300750.SZ", Side.BUY, 200, OrderType.LIMIT, Decimal("150.00"))
        )
        await backend.place_order(OrderRequest("you", "600036.SH", Side.BUY, 150))
        app.clear_notifications()
        await pilot.pause(1.3)  # a repaint of every timer, the 1 Hz chart included

    assert snap_compare(app, terminal_size=size, run_before=prepare)
