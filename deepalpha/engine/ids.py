"""Identifiers that sort by creation time and never collide across workstations (UUIDv7)."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable


def new_id() -> str:
    """A UUIDv7 as 32 hex digits: 48-bit Unix milliseconds, version, 74 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68) << 64 & (0xFFF << 64)
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return f"{value:032x}"


def sequential(prefix: str = "") -> Callable[[], str]:
    """Readable ids for backtests and tests: ``prefix1``, ``prefix2``, ..."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"
