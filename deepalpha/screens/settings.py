"""The settings screen: theme, language, colour convention, where the data lives, model keys.

Theme, language and colours apply at once and persist (the app stores them as preferences).
Model API keys are secrets: they go to the system keyring (service ``deepalpha``, user
``model:<profile>``), are typed into a password field, and are never shown, stored elsewhere
or logged; the screen says only whether a key is set. Without a keyring backend (common on
headless Linux) the environment variable (``DEEPSEEK_API_KEY``, ...) is the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from deepalpha.app.paths import settings_file
from deepalpha.i18n import language, t
from deepalpha.screens.base import BaseScreen
from deepalpha.screens.navigation import SPEEDS, speed_text
from deepalpha.widgets.colours import convention

KEYRING_SERVICE = "deepalpha"
PROFILES = ("deepseek", "qwen", "openai")
_PROFILE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def keyring_user(profile: str) -> str:
    return f"model:{profile}"


# The providers' own variable names where they have one (Qwen runs on DashScope).
KNOWN_ENV = {
    "deepseek": "DEEPSEEK_API_KEY",
    "qwen": "DASHSCOPE_API_KEY",
    "openai": "OPENAI_API_KEY",
}


def env_var(profile: str) -> str:
    """The environment variable that overrides the keyring: DEEPSEEK_API_KEY,
    DASHSCOPE_API_KEY, OPENAI_API_KEY, else DEEPALPHA_MODEL_<PROFILE>_KEY."""
    known = KNOWN_ENV.get(profile.lower())
    if known:
        return known
    return "DEEPALPHA_MODEL_" + re.sub(r"[^A-Z0-9]+", "_", profile.upper()) + "_KEY"


def keyring_problem() -> str | None:
    """Why keys cannot be stored in a keyring here, or ``None`` when a backend is usable."""
    try:
        import keyring  # noqa: PLC0415
        from keyring.backends import fail  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - a declared dependency
        return f"keyring is not installed ({exc})"
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration
        return str(exc)
    if isinstance(backend, fail.Keyring):
        return t("settings.no_keyring_backend")
    if type(backend).__module__ == "keyring.backends.null":
        return t("settings.keyring_disabled")
    return None


def key_state(profile: str) -> str:
    """set / not set / env (never the key itself)."""
    import keyring  # noqa: PLC0415
    from keyring.errors import KeyringError  # noqa: PLC0415

    if os.environ.get(env_var(profile)):
        return "env"
    try:
        return "set" if keyring.get_password(KEYRING_SERVICE, keyring_user(profile)) else "unset"
    except KeyringError:
        return "unknown"


def mask_url(text: str) -> str:
    """A database URL without its password (``user:***@host``)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", text)


class SettingsScreen(BaseScreen):
    TITLE_KEY = "screen.settings"
    REFRESH_SECONDS = 1.0
    BINDINGS: ClassVar[list[BindingType]] = []
    DEFAULT_CSS = """
    SettingsScreen #settings-body { height: 1fr; padding: 0 1; }
    SettingsScreen .section { text-style: bold; margin-top: 1; }
    SettingsScreen .row { height: auto; margin-bottom: 1; }
    SettingsScreen .row > Label { width: 24; padding: 0 1 0 0; }
    SettingsScreen .row > Select { width: 36; }
    SettingsScreen .row > Input { width: 1fr; max-width: 40; }
    SettingsScreen .row > Button { margin-left: 1; min-width: 8; height: 1; border: none; }
    SettingsScreen #keyring-warning { color: $warning; height: auto; }
    SettingsScreen #paths, SettingsScreen #keys { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._lang = language()
        self.language_choice = "auto"  # auto follows the locale
        self.keyring_problem: str | None = None
        self.key_states: dict[str, str] = {}
        self.profiles: list[str] = list(PROFILES)

    def body(self) -> ComposeResult:
        with VerticalScroll(id="settings-body"):
            yield Static(t("screen.settings"), classes="title", id="settings-title")
            yield Static(t("settings.s_look"), classes="section", id="s-look")
            # The choices are mounted once the stored preferences are read (see ``_load``), so
            # a Select never announces a value that is not the one in force.
            with Horizontal(classes="row", id="row-theme"):
                yield Label(t("settings.theme"), id="l-theme")
            with Horizontal(classes="row", id="row-language"):
                yield Label(t("settings.language"), id="l-language")
            with Horizontal(classes="row", id="row-colours"):
                yield Label(t("settings.colours"), id="l-colours")
            yield Static(t("settings.s_market"), classes="section", id="s-market")
            with Horizontal(classes="row", id="row-speed"):
                yield Label(t("settings.speed"), id="l-speed")
                yield Button(
                    t("settings.pause"), id="pause-market", variant="warning", compact=True
                )
            yield Static("", id="market-note", classes="muted")
            yield Static(t("settings.s_data"), classes="section", id="s-data")
            yield Static("", id="paths")
            yield Static(t("settings.s_keys"), classes="section", id="s-keys")
            yield Static("", id="keyring-warning")
            yield Static("", id="keys")
            with Horizontal(classes="row"):
                yield Label(t("settings.profile"), id="l-profile")
                yield Input(
                    "deepseek", id="profile", placeholder="deepseek / qwen / openai", compact=True
                )
            with Horizontal(classes="row"):
                yield Label(t("settings.api_key"), id="l-key")
                yield Input(
                    password=True, id="api-key", placeholder=t("settings.key_hint"), compact=True
                )
                # Compact: in a one-line row a bordered button showed its borders, not its label.
                yield Button(t("settings.save_key"), id="save-key", variant="primary", compact=True)
                yield Button(
                    t("settings.clear_key"), id="clear-key", variant="warning", compact=True
                )

    def _theme_options(self) -> list[tuple[str, str]]:
        return [(t("settings.theme_dark"), "dark"), (t("settings.theme_light"), "light")]

    def _language_options(self) -> list[tuple[str, str]]:
        return [(t("settings.lang_auto"), "auto"), ("English", "en"), ("中文", "zh")]

    def _colour_options(self) -> list[tuple[str, str]]:
        return [(t("settings.colours_cn"), "cn"), (t("settings.colours_western"), "western")]

    def on_mount(self) -> None:
        super().on_mount()
        self._load()

    def on_screen_resume(self) -> None:
        if self._lang != language():
            self.relabel()
        super().on_screen_resume()

    @work(group="settings-load")
    async def _load(self) -> None:
        lang = await self.backend.get_preference("language", None) or "auto"
        self.language_choice = lang if lang in ("auto", "en", "zh") else language()
        current = self._current()
        for name, options in self._options().items():
            with self.prevent(Select.Changed):  # a Select announces its first value on mount
                select = Select(
                    options, value=current[name], allow_blank=False, id=name, compact=True
                )
            row = self.query_one(f"#row-{name}", Horizontal)
            await row.mount(select, after=row.query_one(Label))
        self._paint_market()
        self._paint_paths()
        await self._check_keys()

    def _current(self) -> dict[str, str]:
        return {
            "theme": "light" if self.app.theme == "textual-light" else "dark",
            "language": self.language_choice,
            "colours": convention(),
            "speed": speed_text(self.backend.market_status().speed),
        }

    def _options(self) -> dict[str, list[tuple[str, str]]]:
        return {
            "theme": self._theme_options(),
            "language": self._language_options(),
            "colours": self._colour_options(),
            "speed": self._speed_options(),
        }

    def _speed_options(self) -> list[tuple[str, str]]:
        current = self.backend.market_status().speed
        speeds = sorted({float(s) for s in SPEEDS} | {current})
        return [(speed_text(s), speed_text(s)) for s in speeds]

    # --- look and language ----------------------------------------------------------------
    @on(Select.Changed, "#theme")
    async def _theme(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self._current()["theme"]:
            return
        await self.deepalpha.set_theme_name(event.value)
        self.notify(t("settings.applied"), timeout=2)

    @on(Select.Changed, "#language")
    async def _language(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self._current()["language"]:
            return
        from deepalpha.i18n import language_from_locale  # noqa: PLC0415

        chosen = self.language_choice = event.value
        await self.deepalpha.set_language(language_from_locale() if chosen == "auto" else chosen)
        if chosen == "auto":  # keep following the locale on later starts
            await self.backend.set_preference("language", "auto")
        self.notify(t("settings.applied"), timeout=2)

    @on(Select.Changed, "#colours")
    async def _colours(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self._current()["colours"]:
            return
        await self.deepalpha.set_colours(event.value)
        self.notify(t("settings.applied"), timeout=2)

    # --- the simulated market ----------------------------------------------------------------
    @on(Select.Changed, "#speed")
    async def _speed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self._current()["speed"]:
            return
        await self.deepalpha.set_market_speed(float(event.value.rstrip("×")))
        self._paint_market()

    def _paint_market(self) -> None:
        """The speed and the pause button as the market is now (keys change them too)."""
        status = self.backend.market_status()
        button = self.query_one("#pause-market", Button)
        button.label = t("settings.resume" if status.paused else "settings.pause")
        button.disabled = not status.simulated
        note = self.query_one("#market-note", Static)
        if not status.simulated:
            note.update(t("market.not_simulated", label=status.label))
        else:
            from deepalpha.screens.help import key_text  # noqa: PLC0415

            keys = {
                name: key_text(self.deepalpha.key_for(f"market.{name}"))
                for name in ("slower", "faster", "pause")
            }
            note.update(t("settings.market_note", **keys))
        for select in self.query("#speed").results(Select):
            select.disabled = not status.simulated
            wanted = speed_text(status.speed)
            if select.value != wanted:
                with self.prevent(Select.Changed):
                    select.set_options(self._speed_options())
                    select.value = wanted

    def relabel(self) -> None:
        self._lang = language()
        for widget_id, key in (
            ("settings-title", "screen.settings"),
            ("s-look", "settings.s_look"),
            ("s-data", "settings.s_data"),
            ("s-keys", "settings.s_keys"),
            ("s-market", "settings.s_market"),
            ("l-speed", "settings.speed"),
            ("l-theme", "settings.theme"),
            ("l-language", "settings.language"),
            ("l-colours", "settings.colours"),
            ("l-profile", "settings.profile"),
            ("l-key", "settings.api_key"),
        ):
            self.query_one(f"#{widget_id}", Static).update(t(key))
        self.query_one("#save-key", Button).label = t("settings.save_key")
        self.query_one("#clear-key", Button).label = t("settings.clear_key")
        self.query_one("#api-key", Input).placeholder = t("settings.key_hint")
        current = self._current()
        with self.prevent(Select.Changed):  # new labels, same values: nothing to apply
            for widget_id, options in self._options().items():
                for select in self.query(f"#{widget_id}").results(Select):
                    select.set_options(options)
                    select.value = current[widget_id]
                    # The same value as before draws no new label by itself ("深色" stayed).
                    select.mutate_reactive(Select.value)  # type: ignore[misc]
        self._paint_market()
        self._paint_paths()
        self._paint_keys()

    # --- where things are -------------------------------------------------------------------
    def _paint_paths(self) -> None:
        data = self.backend.data_dir
        database = mask_url(self.backend.market_status().database) or "—"
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row(t("settings.data_dir"), str(data))
        grid.add_row(t("settings.settings_file"), str(settings_file(data)))
        grid.add_row(t("settings.database"), database)
        self.query_one("#paths", Static).update(grid)

    # --- model keys -------------------------------------------------------------------------
    async def _check_keys(self) -> None:
        problem = await asyncio.to_thread(keyring_problem)
        self.keyring_problem = problem
        states: dict[str, str] = {}
        if problem is None:
            for profile in self.profiles:
                states[profile] = await asyncio.to_thread(key_state, profile)
        else:
            for profile in self.profiles:
                states[profile] = "env" if os.environ.get(env_var(profile)) else "unset"
        self.key_states = states
        for widget_id in ("api-key", "save-key", "clear-key"):
            self.query_one(f"#{widget_id}").disabled = problem is not None
        self._paint_keys()

    def _paint_keys(self) -> None:
        warning = self.query_one("#keyring-warning", Static)
        if self.keyring_problem:
            example = env_var(self.profiles[0])
            warning.update(t("settings.no_keyring", problem=self.keyring_problem, example=example))
        else:
            warning.update(Text(t("settings.keyring_ok"), style="dim"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(style="dim")
        styles = {"set": "green", "env": "cyan", "unset": "dim", "unknown": "yellow"}
        for profile in self.profiles:
            state = self.key_states.get(profile, "unknown")
            grid.add_row(
                profile,
                Text(t(f"settings.key_{state}"), style=styles.get(state, "")),
                t("settings.env_override", var=env_var(profile)),
            )
        self.query_one("#keys", Static).update(grid)

    def _profile(self) -> str | None:
        profile = self.query_one("#profile", Input).value.strip().lower()
        if not _PROFILE.match(profile):
            self.notify(t("settings.bad_profile"), severity="error")
            self.query_one("#profile", Input).focus()
            return None
        return profile

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "profile":
            self.query_one("#api-key", Input).focus()
        elif event.input.id == "api-key":
            self._save_key(clear=False)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "pause-market":
            await self.deepalpha.action_market_pause()
            self._paint_market()
        elif event.button.id in ("save-key", "clear-key"):
            self._save_key(clear=event.button.id == "clear-key")

    def _save_key(self, *, clear: bool) -> None:
        if self.keyring_problem:
            self.notify(self.keyring_problem, severity="error")
            return
        profile = self._profile()
        if profile is None:
            return
        key_input = self.query_one("#api-key", Input)
        secret = key_input.value.strip()
        key_input.value = ""  # the key leaves the screen at once
        if not clear and not secret:
            self.notify(t("settings.key_empty"), severity="warning")
            key_input.focus()
            return
        self._store_key(profile, None if clear else secret)

    @work(group="settings-keys")
    async def _store_key(self, profile: str, secret: str | None) -> None:
        import keyring  # noqa: PLC0415
        from keyring.errors import KeyringError, PasswordDeleteError  # noqa: PLC0415

        user = keyring_user(profile)
        try:
            if secret is None:
                with contextlib.suppress(PasswordDeleteError):  # nothing to clear
                    await asyncio.to_thread(keyring.delete_password, KEYRING_SERVICE, user)
                self.notify(t("settings.key_cleared", profile=profile))
            else:
                await asyncio.to_thread(keyring.set_password, KEYRING_SERVICE, user, secret)
                self.notify(t("settings.key_saved", profile=profile))
        except KeyringError as exc:
            # The message is the backend's: it never holds the key itself.
            self.notify(
                t("settings.keyring_failed", error=type(exc).__name__, var=env_var(profile)),
                severity="error",
                timeout=10,
            )
        if profile not in self.profiles:
            self.profiles.append(profile)
        await self._check_keys()

    def refresh_data(self) -> None:
        """The timer keeps the status bar live, and the speed and pause as the keys set them."""
        if self.query("#speed"):  # mounted once the preferences are read
            self._paint_market()
