"""The record of one AI decision cycle (SPEC §5): what the model was shown, what it said, what
was made of it and what it cost. Plain data: storage writes it as one ``decision_records`` row.

``decisions`` and ``results`` are JSON-safe (Decimals as their exact strings). A result says, per
decision: ``symbol``, ``action``, ``quantity``, ``accepted``, ``reject_code``, ``reject_reason``
(English), ``order_id`` and ``status`` (``placed``, ``rejected``, ``proposed``, ``approved``,
``user_rejected``, ``expired``, ``superseded``, ``hold``, ``wait``); ``reject_key`` and
``reject_params`` let a screen say the reason in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from deepalpha.engine.ai.protocol import Decision

# The model name the rule-based baseline signs its records with, which the screens also show as
# a trader's model: here with the records, so a screen can tell it without loading the model.
BASELINE_NAME = "baseline (no LLM)"


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    id: str
    trader_id: str
    cycle: int
    time: datetime
    model: str
    system_prompt: str
    user_prompt: str
    raw_reply: str
    reasoning: str
    decisions: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    success: bool = True
    error: str | None = None  # the model's failure, or what the parser had to skip


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def decision_json(d: Decision) -> dict[str, Any]:
    """A parsed decision as JSON-safe data."""
    return {
        "symbol": d.symbol,
        "action": d.action.value,
        "quantity": d.quantity,
        "order_type": d.order_type.value,
        "limit_price": _text(d.limit_price),
        "stop_loss": _text(d.stop_loss),
        "take_profit": _text(d.take_profit),
        "confidence": _text(d.confidence),
        "reasoning": d.reasoning,
    }
