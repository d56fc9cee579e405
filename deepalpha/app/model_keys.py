"""Where model API keys come from: keyring first, then the environment.

The engine never looks keys up (it stays free of keyring and the app); the app resolves a key
here and hands it to ``ChatClient``. Nothing in this module logs or formats a key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from deepalpha.engine.ai.client import ModelProfile, key_from_env

log = logging.getLogger(__name__)

KEYRING_SERVICE = "deepalpha"


def keyring_username(profile: ModelProfile) -> str:
    return f"model:{profile.name}"


def resolve_key(profile: ModelProfile, *, environ: Mapping[str, str] | None = None) -> str | None:
    """The profile's key: its environment variable overrides (headless use), else keyring;
    ``None`` if neither."""
    key = key_from_env(profile, os.environ if environ is None else environ)
    if key:
        return key
    return _from_keyring(profile)


def _from_keyring(profile: ModelProfile) -> str | None:
    try:
        import keyring  # noqa: PLC0415 - late: backends are slow to load

        value = keyring.get_password(KEYRING_SERVICE, keyring_username(profile))
    except Exception as exc:  # NoKeyringError, a locked or broken backend, D-Bus errors...
        # Only the error's type: a backend's message is not ours to trust with secrets.
        log.debug("keyring unavailable for model profile %r (%s)", profile.name, type(exc).__name__)
        return None
    if value is None:
        return None
    value = value.strip()
    return value or None
