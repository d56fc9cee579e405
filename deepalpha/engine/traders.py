"""Traders: who places orders. Each has its own account, risk limits and, for ai/hybrid, a
model profile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from deepalpha.engine.risk import RiskLimits


class TraderKind(StrEnum):
    DISCRETIONARY = "discretionary"  # a person at the keyboard
    AI = "ai"  # decides and trades on its own
    HYBRID = "hybrid"  # the AI proposes, a person approves
    STRATEGY = "strategy"  # a rule-based strategy of the engine


@dataclass(slots=True)
class TraderConfig:
    id: str
    name: str
    kind: TraderKind
    base_currency: str = "CNY"
    limits: RiskLimits = field(default_factory=RiskLimits)
    settings: dict[str, Any] = field(default_factory=dict)
    model_profile: str | None = None
    running: bool = True


def limits_to_dict(limits: RiskLimits) -> dict[str, Any]:
    """Plain JSON: Decimals as text so nothing is rounded through a float."""
    out: dict[str, Any] = {}
    for key, value in asdict(limits).items():
        out[key] = str(value) if isinstance(value, Decimal) else value
    return out


_DECIMAL_LIMITS = {"max_position_value", "max_order_value", "max_daily_loss"}


def limits_from_dict(data: dict[str, Any]) -> RiskLimits:
    known = set(RiskLimits.__dataclass_fields__)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            continue  # a limit from a newer version; ignoring it is safer than failing
        is_money = key in _DECIMAL_LIMITS and value is not None
        kwargs[key] = Decimal(str(value)) if is_money else value
    return RiskLimits(**kwargs)
