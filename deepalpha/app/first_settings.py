"""The few settings the first frame needs, without pydantic when nothing overrides them.

Importing pydantic-settings and building the ``Settings`` models costs ~0.2 s, a fifth of the
first frame's budget. The first frame needs seven values (the simulator's seed and speed, the ST
price-limit date, the language, colours, theme and keys). On the embedded default (no settings
file, no ``DEEPALPHA_<section>__…`` variable) they are the defaults, which live here and which
``settings.py`` declares its fields with, so both agree by construction; otherwise ``Settings``
is loaded as always. The engine loads the full ``Settings`` after the first frame and checks
that they say the same (``FirstFrameSettings.of``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from deepalpha.engine.markets.rules import ST_TEN_PERCENT_FROM

if TYPE_CHECKING:
    from deepalpha.app.settings import Settings


class SettingsError(ValueError):
    """A settings file or variable a person got wrong: one line naming the file and the key.
    Here, not beside the models, so the first frame can catch it without importing pydantic."""


ENV_PREFIX = "DEEPALPHA_"
# Settings' sections: an environment variable naming one of them overrides a setting.
SECTIONS = ("fees", "rules", "backtest", "market", "storage", "server", "ui", "ai")
# Sections none of whose keys the first frame reads: a variable for them (the tests' and a
# container's DEEPALPHA_SERVER__PORT) must not send the first frame to the slow settings path.
NOT_ON_THE_FIRST_FRAME = frozenset({"server"})
SIMULATOR_SEED = 7
SIMULATOR_SPEED = 60.0
UI_LANGUAGE = "auto"
UI_COLOURS = "auto"
UI_THEME = "dark"

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


def overridden() -> bool:
    """Whether a settings file or a ``DEEPALPHA_<section>…`` variable may change a default
    (variable names are case-insensitive, as pydantic-settings reads them)."""
    for name in os.environ:
        low = name.lower()
        if low.startswith(ENV_PREFIX.lower()):
            section = low[len(ENV_PREFIX) :].split("__", 1)[0]
            if section in SECTIONS and section not in NOT_ON_THE_FIRST_FRAME:
                return True
    return config_file().exists()


@dataclass(frozen=True, slots=True)
class FirstFrameSettings:
    simulator_seed: int = SIMULATOR_SEED
    simulator_speed: float = SIMULATOR_SPEED
    st_ten_percent_from: date = ST_TEN_PERCENT_FROM
    language: str = UI_LANGUAGE
    colours: str = UI_COLOURS
    theme: str = UI_THEME
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings) -> FirstFrameSettings:
        return cls(
            settings.market.simulator_seed,
            settings.market.simulator_speed,
            settings.rules.st_ten_percent_from,
            settings.ui.language,
            settings.ui.colours,
            settings.ui.theme,
            dict(settings.ui.keys),
        )


def first_frame_settings() -> FirstFrameSettings:
    """The defaults when nothing overrides them, else what ``Settings`` says."""
    if not overridden():
        return FirstFrameSettings()
    from deepalpha.app.settings import load_settings  # noqa: PLC0415

    return FirstFrameSettings.of(load_settings())
