"""The colour convention for prices: CN (red up, green down — the default in Chinese) or
Western (green up, red down). A setting; widgets ask here rather than hard-code colours."""

from __future__ import annotations

from decimal import Decimal

CONVENTIONS = ("cn", "western")
_convention = "cn"


def set_convention(name: str) -> None:
    global _convention
    if name not in CONVENTIONS:
        raise ValueError(f"colour convention {name!r} is not one of {', '.join(CONVENTIONS)}")
    _convention = name


def convention() -> str:
    return _convention


def up_colour() -> str:
    return "red" if _convention == "cn" else "green"


def down_colour() -> str:
    return "green" if _convention == "cn" else "red"


def change_style(change: Decimal | int | None) -> str:
    if change is None or change == 0:
        return ""
    return up_colour() if change > 0 else down_colour()
