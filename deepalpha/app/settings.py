"""Settings: defaults, then a TOML file in the platform config dir, then ``DEEPALPHA_*`` env.

Secrets are not settings: they live in keyring (or the environment for headless use).
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from deepalpha.engine.markets.fees import Commission, FeeSchedule
from deepalpha.engine.markets.rules import ST_TEN_PERCENT_FROM, PriceLimitRules


class FeeSettings(BaseModel):
    """Broker commissions (the statutory items are dated rules in the engine)."""

    cn_commission_rate: Decimal = Decimal("0.00025")
    cn_commission_min: Decimal = Decimal("5")
    hk_commission_rate: Decimal = Decimal("0.0003")
    hk_commission_min: Decimal = Decimal("3")

    def schedule(self) -> FeeSchedule:
        return FeeSchedule(
            cn=Commission(self.cn_commission_rate, self.cn_commission_min),
            hk=Commission(self.hk_commission_rate, self.hk_commission_min),
        )


class RuleSettings(BaseModel):
    # SSE/SZSE moved main-board ST stocks from ±5 % to ±10 % on this date.
    st_ten_percent_from: date = ST_TEN_PERCENT_FROM

    def limits(self) -> PriceLimitRules:
        return PriceLimitRules(st_ten_percent_from=self.st_ten_percent_from)


class BacktestSettings(BaseModel):
    participation: Decimal = Field(Decimal("0.25"), gt=0, le=1)
    slippage_bps: Decimal = Field(Decimal(0), ge=0)


class UiSettings(BaseModel):
    language: str = Field("auto", pattern="^(auto|en|zh)$")  # auto follows the locale
    colours: str = Field("auto", pattern="^(auto|cn|western)$")  # cn: red up, green down
    theme: str = Field("dark", pattern="^(dark|light)$")
    # Binding id → keys, e.g. [ui.keys] "screen.orders" = "f4,o" (see the Help screen).
    keys: dict[str, str] = Field(default_factory=dict)
    quote_refresh_hz: float = Field(10.0, gt=0, le=30)


class StorageSettings(BaseModel):
    auto_backup: bool = True  # a daily backup while the app runs
    keep_daily: int = Field(7, ge=0)
    keep_weekly: int = Field(4, ge=0)


class MarketSettings(BaseModel):
    hkd_cny: Decimal = Field(Decimal("0.92"), gt=0)  # CNY per HKD for the CNY total
    simulator_seed: int = 7
    simulator_speed: float = Field(60.0, gt=0)


_config_path: Path | None = None


def use_settings_file(path: Path) -> None:
    """Read settings from ``path`` (the data directory's settings.toml) from now on."""
    global _config_path
    _config_path = path


def config_file() -> Path:
    env = os.environ.get("DEEPALPHA_CONFIG")
    if env:
        return Path(env)
    if _config_path is not None:
        return _config_path
    from deepalpha.app.paths import data_dir, settings_file  # noqa: PLC0415

    return settings_file(data_dir())


class _TomlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = config_file()
        if not path.exists():
            return {}
        try:
            return tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: {exc}") from None


class SettingsError(ValueError):
    pass


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEEPALPHA_", env_nested_delimiter="__", extra="ignore"
    )

    fees: FeeSettings = FeeSettings()
    rules: RuleSettings = RuleSettings()
    backtest: BacktestSettings = BacktestSettings()
    market: MarketSettings = MarketSettings()
    storage: StorageSettings = StorageSettings()
    ui: UiSettings = UiSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlSource(settings_cls)
