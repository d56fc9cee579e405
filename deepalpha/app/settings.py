"""Settings: defaults, then a TOML file in the platform config dir, then ``DEEPALPHA_*`` env.

Secrets are not settings: they live in keyring (or the environment for headless use).
"""

from __future__ import annotations

import logging
import tomllib
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from deepalpha.app.first_settings import (
    ENV_PREFIX,
    SIMULATOR_SEED,
    SIMULATOR_SPEED,
    UI_COLOURS,
    UI_LANGUAGE,
    UI_THEME,
    SettingsError,
    config_file,
    use_settings_file,
)
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
    # The defaults the first frame uses come from first_settings (no pydantic on its path).
    language: str = Field(UI_LANGUAGE, pattern="^(auto|en|zh)$")  # auto follows the locale
    colours: str = Field(UI_COLOURS, pattern="^(auto|cn|western)$")  # cn: red up, green down
    theme: str = Field(UI_THEME, pattern="^(dark|light)$")
    # Binding id → keys, e.g. [ui.keys] "screen.orders" = "f4,o" (see the Help screen).
    keys: dict[str, str] = Field(default_factory=dict)
    quote_refresh_hz: float = Field(10.0, gt=0, le=30)
    # A limit price this many percent or more away from the last price asks to be confirmed
    # (a fat finger: HK has no daily band to catch a buy at 5000 for a 498 stock); 0: never.
    fat_finger_percent: Decimal = Field(Decimal(5), ge=0)


class StorageSettings(BaseModel):
    auto_backup: bool = True  # a daily backup while the app runs
    keep_daily: int = Field(7, ge=0)
    keep_weekly: int = Field(4, ge=0)


class ServerSettings(BaseModel):
    """``deepalpha serve``'s API (the address is also a command-line option)."""

    host: str = "127.0.0.1"
    port: int = Field(8700, ge=0, le=65535)  # 0: any free port (tests, several on one host)
    # SIGTERM: stop accepting, close streams, finish requests in flight for up to this long.
    grace_seconds: float = Field(20.0, gt=0, le=600)
    cors_origins: list[str] = Field(default_factory=list)  # none: browsers on other origins refused
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    login_max_failures: int = Field(5, ge=1)  # per client and name, per minute
    stream_buffer: int = Field(10_000, ge=100)  # events kept for clients that reconnect
    stream_client_queue: int = Field(2_000, ge=10)  # a client further behind is dropped
    stream_compression: bool = False  # per-message deflate on /api/v1/ws


class MarketSettings(BaseModel):
    hkd_cny: Decimal = Field(Decimal("0.92"), gt=0)  # CNY per HKD for the CNY total
    simulator_seed: int = SIMULATOR_SEED
    simulator_speed: float = Field(SIMULATOR_SPEED, gt=0)


__all__ = ["Settings", "SettingsError", "config_file", "load_settings", "use_settings_file"]

log = logging.getLogger("deepalpha")


class _TomlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = config_file()
        if not path.exists():
            return {}
        return _read_toml(path)


def _read_toml(path: Any) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SettingsError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None


class ModelPrice(BaseModel):
    """List price of one model per million tokens (cache-miss input), and where it came from:
    prices drift, so the cost shown is an estimate from this table, not a bill."""

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    currency: Literal["CNY", "USD"] = "CNY"
    as_of: date | None = None
    source: str = ""


# Checked against the providers' published pages (see ``source``); override or add models in
# ``[ai.prices."<model>"]``. A model missing here is costed at zero and said to be unpriced.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "deepseek-chat": ModelPrice(
        input=Decimal(2),
        output=Decimal(8),
        currency="CNY",
        as_of=date(2025, 2, 9),
        source="api-docs.deepseek.com/zh-cn/quick_start/pricing",
    ),
    "qwen-plus": ModelPrice(
        input=Decimal("0.8"),
        output=Decimal(2),
        currency="CNY",
        as_of=date(2025, 4, 1),
        source="help.aliyun.com/zh/model-studio/models",
    ),
    "gpt-4o-mini": ModelPrice(
        input=Decimal("0.15"),
        output=Decimal("0.60"),
        currency="USD",
        as_of=date(2026, 5, 7),
        source="openai.com/api/pricing",
    ),
    "moonshot-v1-8k": ModelPrice(
        input=Decimal(2),
        output=Decimal(10),
        currency="CNY",
        as_of=date(2025, 4, 1),
        source="platform.moonshot.cn/docs/pricing/chat",
    ),
}


class ModelProfileSettings(BaseModel):
    """Overrides of a preset profile, or a new profile (then ``base_url`` and ``model`` are
    needed). The key is never here: keyring or ``DEEPALPHA_MODEL_<PROFILE>_KEY``."""

    base_url: str | None = None
    model: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    timeout: float | None = Field(None, gt=0)
    retries: int | None = Field(None, ge=0, le=10)
    key_env: str | None = None
    needs_key: bool | None = None


class AiSettings(BaseModel):
    """AI traders: how often they decide, the rules their decisions must pass, and models."""

    # Market time: on the simulator's 60× clock five minutes pass in five seconds.
    interval_minutes: int = Field(5, ge=1, le=240)
    proposal_minutes: int = Field(10, ge=1, le=1440)  # hybrid proposals expire after this
    # ... and never before a person had this many real minutes, however fast the simulator.
    proposal_real_minutes: float = Field(2.0, ge=0, le=120)
    min_confidence: Decimal = Field(Decimal("0.6"), ge=0, le=1)
    min_reward_risk: Decimal = Field(Decimal("1.5"), ge=0)
    max_buys_per_hour: int = Field(4, ge=0)
    cooldown_after_sell_minutes: int = Field(30, ge=0)
    min_holding_minutes: int = Field(60, ge=0)
    max_position_fraction: Decimal = Field(Decimal("0.3"), gt=0, le=1)
    max_prompt_tokens: int = Field(6000, ge=500)
    usd_cny: Decimal = Field(Decimal("7.1"), gt=0)  # costs are shown in CNY
    prices: dict[str, ModelPrice] = Field(default_factory=dict)  # over DEFAULT_PRICES
    profiles: dict[str, ModelProfileSettings] = Field(default_factory=dict)

    def price_table(self) -> dict[str, ModelPrice]:
        return {**DEFAULT_PRICES, **self.prices}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEEPALPHA_", env_nested_delimiter="__", extra="ignore"
    )

    fees: FeeSettings = FeeSettings()
    rules: RuleSettings = RuleSettings()
    backtest: BacktestSettings = BacktestSettings()
    market: MarketSettings = MarketSettings()
    storage: StorageSettings = StorageSettings()
    server: ServerSettings = ServerSettings()
    ui: UiSettings = UiSettings()
    ai: AiSettings = AiSettings()

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


def load_settings() -> Settings:
    """The settings (defaults, ``settings.toml``, ``DEEPALPHA_*``): a wrong value is one
    :class:`SettingsError` line naming the file or variable and the key; a key no setting has
    is warned about, not silently ignored."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None
    path = config_file()
    if path.exists():
        for key in unknown_keys(_read_toml(path), Settings):
            if (path, key) not in _warned:  # settings load twice at start: say it once
                _warned.add((path, key))
                log.warning("%s: unknown setting %s (ignored); check its spelling", path, key)
    return settings


_warned: set[tuple[Any, str]] = set()


def _explain(exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    got = first.get("input")
    path = config_file()
    written: Any = _read_toml(path) if path.exists() else {}
    for part in first["loc"]:
        written = written.get(str(part)) if isinstance(written, dict) else None
    where = str(path) if written is not None else f"{ENV_PREFIX}{key.replace('.', '__').upper()}"
    more = len(exc.errors()) - 1
    tail = f" (and {more} more)" if more else ""
    return f"{where}: {key}: {first['msg']} (got {got!r}){tail}"


def unknown_keys(data: dict[str, Any], model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted keys of ``data`` that ``model`` has no field for (tables of free keys, such as
    ``ai.prices`` or ``ui.keys``, take any)."""
    out = []
    fields = model.model_fields
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            out.append(prefix + key)
            continue
        sub = field.annotation
        if isinstance(value, dict) and isinstance(sub, type) and issubclass(sub, BaseModel):
            out += unknown_keys(value, sub, f"{prefix}{key}.")
    return out
