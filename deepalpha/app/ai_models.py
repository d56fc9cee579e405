"""From settings to a model an AI trader can call: the preset profile with the user's overrides,
priced from the price table (in CNY), with its key from the environment or keyring.

``baseline`` (or no profile at all) is the rule-based model that needs nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal

from deepalpha.app.model_keys import resolve_key
from deepalpha.app.settings import AiSettings, ModelPrice
from deepalpha.engine.ai.baseline import BaselineModel
from deepalpha.engine.ai.client import PRESETS, ChatClient, ModelError, ModelProfile
from deepalpha.engine.ai.validation import ValidationSettings

BASELINE = "baseline"
BASELINE_LABEL = BaselineModel().name

Model = BaselineModel | ChatClient


def is_baseline(profile: str | None) -> bool:
    return not profile or profile == BASELINE


def profile_names(ai: AiSettings) -> list[str]:
    """Every profile a trader can use: the baseline, the presets and the user's own."""
    return [BASELINE, *PRESETS, *(n for n in ai.profiles if n not in PRESETS)]


def price_in_cny(price: ModelPrice, ai: AiSettings) -> tuple[Decimal, Decimal]:
    rate = ai.usd_cny if price.currency == "USD" else Decimal(1)
    return price.input * rate, price.output * rate


def model_profile(name: str, ai: AiSettings) -> ModelProfile:
    """The profile ``name`` (a preset, overridden by ``[ai.profiles.<name>]``, or a profile the
    user defined there), priced in CNY from the price table."""
    own = ai.profiles.get(name)
    base = PRESETS.get(name)
    if base is None:
        if own is None or not own.base_url or not own.model:
            known = ", ".join(profile_names(ai))
            raise ModelError(
                "bad_request",
                f"unknown model profile '{name}': use one of {known}, or define it in "
                f"settings.toml as [ai.profiles.{name}] with base_url and model",
            )
        base = ModelProfile(name=name, base_url=own.base_url, model=own.model, needs_key=False)
    if own is not None:
        changes = {k: v for k, v in own.model_dump().items() if v is not None}
        base = dataclasses.replace(base, **changes)
    return priced(base, ai)


def priced(profile: ModelProfile, ai: AiSettings) -> ModelProfile:
    """The profile with its model's price from the table (CNY); unpriced models cost zero."""
    price = ai.price_table().get(profile.model)
    if price is None:
        if profile.needs_key:  # a paid endpoint we have no price for
            return dataclasses.replace(
                profile, price_in_per_mtok=Decimal(0), price_out_per_mtok=Decimal(0), currency="CNY"
            )
        return dataclasses.replace(profile, currency="CNY")
    cny_in, cny_out = price_in_cny(price, ai)
    return dataclasses.replace(
        profile, price_in_per_mtok=cny_in, price_out_per_mtok=cny_out, currency="CNY"
    )


def model_label(profile: str | None, ai: AiSettings | None = None) -> str:
    """What the UI calls a trader's model: "baseline (no LLM)", or "profile · model"."""
    if is_baseline(profile):
        return BASELINE_LABEL
    assert profile is not None
    try:
        model = model_profile(profile, ai or AiSettings()).model
    except ModelError:
        return f"{profile} (unknown)"
    return f"{profile} · {model}"


def open_model(
    profile: str | None,
    ai: AiSettings,
    *,
    environ: Mapping[str, str] | None = None,
) -> Model:
    """A model ready to call. Raises :class:`ModelError` (``missing_key`` says which profile
    and how to set it; ``bad_request`` an unknown profile)."""
    if is_baseline(profile):
        return BaselineModel()
    assert profile is not None
    resolved = model_profile(profile, ai)
    return ChatClient(resolved, resolve_key(resolved, environ=environ))


def validation_settings(ai: AiSettings) -> ValidationSettings:
    return ValidationSettings(
        min_confidence=ai.min_confidence,
        min_reward_risk=ai.min_reward_risk,
        max_buys_per_hour=ai.max_buys_per_hour,
        cooldown_after_sell_minutes=ai.cooldown_after_sell_minutes,
        min_holding_minutes=ai.min_holding_minutes,
        max_position_fraction=ai.max_position_fraction,
    )
