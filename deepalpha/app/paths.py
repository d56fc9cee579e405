"""Where things live: the data directory holds the database, the settings file and backups."""

from __future__ import annotations

import os
from pathlib import Path

SETTINGS_FILE = "settings.toml"
BACKUP_DIR = "backups"


def data_dir(explicit: Path | str | None = None) -> Path:
    """``--data-dir``, else ``DEEPALPHA_DATA_DIR``, else the platform data directory."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("DEEPALPHA_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir  # noqa: PLC0415

    return Path(user_data_dir("deepalpha"))


def settings_file(data: Path) -> Path:
    env = os.environ.get("DEEPALPHA_CONFIG")
    return Path(env) if env else data / SETTINGS_FILE


def backup_dir(data: Path) -> Path:
    return data / BACKUP_DIR
