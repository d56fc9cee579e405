"""Model profiles from settings: presets with the user's overrides, the dated price table (in
CNY), the labels the UI shows, and the messages for what cannot be opened."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from deepalpha.app.ai_models import (
    BASELINE_LABEL,
    model_label,
    model_profile,
    open_model,
    profile_names,
    validation_settings,
)
from deepalpha.app.settings import DEFAULT_PRICES, Settings
from deepalpha.engine.ai.baseline import BaselineModel
from deepalpha.engine.ai.client import ChatClient, ModelError


def settings_from(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    path = tmp_path / "settings.toml"
    path.write_text(text, "utf-8")
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(path))
    return Settings()


def test_the_shipped_price_table_is_dated_and_sourced() -> None:
    for model, price in DEFAULT_PRICES.items():
        assert price.as_of is not None and price.source, model
        assert price.output >= price.input > 0, model
    ai = Settings().ai
    deepseek = model_profile("deepseek", ai)
    assert (deepseek.price_in_per_mtok, deepseek.price_out_per_mtok) == (Decimal(2), Decimal(8))
    # USD list prices are converted at the setting's rate: costs are all in CNY.
    openai = model_profile("openai", ai)
    assert openai.currency == "CNY"
    assert openai.price_in_per_mtok == Decimal("0.15") * ai.usd_cny
    assert model_profile("ollama", ai).price_in_per_mtok == 0  # local: free


def test_settings_override_prices_and_profiles_and_add_new_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ai = settings_from(
        tmp_path,
        """
[ai]
usd_cny = 7.0
min_reward_risk = 2
[ai.prices."deepseek-chat"]
input = 0.5
output = 1.5
[ai.prices."gpt-4o-mini"]
input = 1
output = 2
currency = "USD"
[ai.profiles.deepseek]
model = "deepseek-chat"
temperature = 0.7
[ai.profiles.mylab]
base_url = "http://127.0.0.1:9/v1"
model = "qwen2.5-7b"
""",
        monkeypatch,
    ).ai
    deepseek = model_profile("deepseek", ai)
    assert deepseek.temperature == 0.7 and deepseek.base_url == "https://api.deepseek.com"
    assert (deepseek.price_in_per_mtok, deepseek.price_out_per_mtok) == (
        Decimal("0.5"),
        Decimal("1.5"),
    )
    assert model_profile("openai", ai).price_out_per_mtok == Decimal(14)  # 2 USD × 7.0
    # The rest of the shipped table is still there.
    assert model_profile("qwen", ai).price_in_per_mtok == Decimal("0.8")
    mylab = model_profile("mylab", ai)
    assert (mylab.base_url, mylab.model, mylab.needs_key) == (
        "http://127.0.0.1:9/v1",
        "qwen2.5-7b",
        False,
    )
    assert "mylab" in profile_names(ai) and profile_names(ai)[0] == "baseline"
    assert model_label("mylab", ai) == "mylab · qwen2.5-7b"
    assert validation_settings(ai).min_reward_risk == Decimal(2)


def test_baseline_needs_nothing_and_unknown_or_keyless_profiles_say_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ai = Settings().ai
    assert isinstance(open_model(None, ai), BaselineModel)
    assert isinstance(open_model("baseline", ai), BaselineModel)
    assert model_label(None) == model_label("baseline") == BASELINE_LABEL == "baseline (no LLM)"
    with pytest.raises(ModelError) as unknown:
        open_model("gemini", ai, environ={})
    assert "unknown model profile 'gemini'" in unknown.value.message
    assert "[ai.profiles.gemini]" in unknown.value.message
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(ModelError) as missing:
        open_model("qwen", ai, environ={})
    assert missing.value.kind == "missing_key"
    assert "'qwen'" in missing.value.message and "DASHSCOPE_API_KEY" in missing.value.message


def test_a_key_from_the_environment_opens_the_client_and_stays_out_of_its_repr() -> None:
    client = open_model("qwen", Settings().ai, environ={"DASHSCOPE_API_KEY": "sk-secret-123"})
    assert isinstance(client, ChatClient)
    assert "sk-secret" not in repr(client)
    asyncio.run(client.aclose())


def test_a_bad_price_in_settings_names_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError) as caught:  # pydantic's ValidationError
        settings_from(tmp_path, '[ai.prices."x"]\ninput = -1\noutput = 1\n', monkeypatch)
    assert "input" in str(caught.value)
