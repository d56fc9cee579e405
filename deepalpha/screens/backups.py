"""The backups screen: list the archives, make one, verify one, restore one.

A restore stops the engine, keeps a safety copy of the current data, puts the archive's data in
place and starts the engine on it. The app's event subscription is on the backend's own bus, so
toasts keep coming afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from deepalpha.app.backend import BackupView
from deepalpha.app.paths import backup_dir
from deepalpha.i18n import language, t
from deepalpha.screens.base import BaseScreen, localize_bindings
from deepalpha.screens.confirm import ConfirmScreen

BINDING_TEXT = {
    "backups.create": "backups.key_create",
    "backups.verify": "backups.key_verify",
    "backups.restore": "backups.key_restore",
}


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _when(created: datetime | None) -> str:
    if created is None:
        return "—"
    return created.astimezone().strftime("%Y-%m-%d %H:%M:%S")


class BackupsScreen(BaseScreen):
    TITLE_KEY = "screen.backups"
    REFRESH_SECONDS = 1.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "create", t("backups.key_create"), id="backups.create"),
        Binding("v", "verify", t("backups.key_verify"), id="backups.verify"),
        Binding("r", "restore", t("backups.key_restore"), id="backups.restore"),
    ]
    DEFAULT_CSS = """
    BackupsScreen #backups-table { height: 1fr; }
    BackupsScreen #backups-info { height: auto; padding: 0 1; }
    """
    COLUMNS = ("name", "created", "size", "schema", "label")

    def __init__(self) -> None:
        super().__init__()
        self.backups: list[BackupView] = []
        self.busy = False
        self._lang = language()

    def body(self) -> ComposeResult:
        yield Static(t("screen.backups"), classes="title", id="backups-title")
        yield DataTable(id="backups-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="backups-info", classes="muted")

    def on_mount(self) -> None:
        super().on_mount()
        self._columns()
        localize_bindings(self, BINDING_TEXT)

    def _columns(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for col in self.COLUMNS:
            table.add_column(t(f"backups.c_{col}"), key=col)

    def on_screen_resume(self) -> None:
        if self._lang != language():
            self.relabel()
        super().on_screen_resume()
        self.reload()

    def relabel(self) -> None:
        self._lang = language()
        self.query_one("#backups-title", Static).update(t("screen.backups"))
        self._columns()
        localize_bindings(self, BINDING_TEXT)
        self.refresh_bindings()
        self._paint()

    def refresh_data(self) -> None:
        """The list changes only through this screen (or the daily backup): the timer just
        keeps the status bar live; the list reloads on resume and after each action."""

    # --- the list -----------------------------------------------------------------------
    @work(exclusive=True, group="backups-list")
    async def reload(self) -> None:
        try:
            self.backups = await self.backend.list_backups()
        except Exception as exc:  # an unreadable folder: say so, keep the screen
            self.notify(str(exc), title=t("toast.error_title"), severity="error")
            self.backups = []
        self._paint()

    def _paint(self) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for b in self.backups:
            label: Text | str = b.label or ""
            if b.error:
                label = Text(b.error, style="bold red")
            table.add_row(
                b.path.name,
                _when(b.created_at),
                Text(human_size(b.size), justify="right"),
                b.schema_revision or "—",
                label,
                key=str(b.path),
            )
        if self.backups:
            table.move_cursor(row=min(max(cursor, 0), len(self.backups) - 1))
        folder = backup_dir(self.backend.data_dir)
        info = t("backups.info", count=len(self.backups), folder=str(folder))
        if not self.backups:
            info = t("backups.empty") + "\n" + info
        self.query_one("#backups-info", Static).update(info)

    def selected(self) -> BackupView | None:
        table = self.query_one(DataTable)
        if not self.backups or not (0 <= table.cursor_row < len(self.backups)):
            return None
        return self.backups[table.cursor_row]

    def _need_selection(self) -> BackupView | None:
        chosen = self.selected()
        if chosen is None:
            self.notify(t("backups.none_selected"), severity="warning")
        return chosen

    def _start(self, message: str) -> bool:
        if self.busy:
            self.notify(t("backups.busy"), severity="warning")
            return False
        self.busy = True
        self.query_one("#backups-info", Static).update(message)
        return True

    # --- actions ------------------------------------------------------------------------
    def action_create(self) -> None:
        if self._start(t("backups.creating")):
            self._create()

    @work(group="backups")
    async def _create(self) -> None:
        try:
            path = await self.backend.create_backup()
        except Exception as exc:
            self.notify(str(exc), title=t("backups.create_failed"), severity="error", timeout=10)
        else:
            self.notify(t("backup.created", name=path.name))
        finally:
            self.busy = False
        self.reload()

    def action_verify(self) -> None:
        chosen = self._need_selection()
        if chosen is not None and self._start(t("backups.verifying", name=chosen.path.name)):
            self._verify(chosen)

    @work(group="backups")
    async def _verify(self, chosen: BackupView) -> None:
        try:
            problems = await self.backend.verify_backup(chosen.path)
        except Exception as exc:
            problems = [str(exc)]
        finally:
            self.busy = False
        if problems:
            self.notify(
                "\n".join(problems[:6]),
                title=t("backups.verify_bad", name=chosen.path.name, count=len(problems)),
                severity="error",
                timeout=12,
            )
        else:
            self.notify(t("backups.verify_ok", name=chosen.path.name), title="OK")
        self._paint()

    def action_restore(self) -> None:
        chosen = self._need_selection()
        if chosen is None:
            return
        if self.busy:
            self.notify(t("backups.busy"), severity="warning")
            return
        question = t("backups.restore_q", name=chosen.path.name)
        detail = t(
            "backups.restore_detail",
            created=_when(chosen.created_at),
            folder=str(self.backend.data_dir),
        )

        def answered(yes: bool | None) -> None:
            if yes and self._start(t("backups.restoring", name=chosen.path.name)):
                self._restore(chosen)

        self.app.push_screen(ConfirmScreen(question, detail), answered)

    @work(group="backups")
    async def _restore(self, chosen: BackupView) -> None:
        try:
            await self.backend.restore_backup(chosen.path)
        except Exception as exc:  # refused (damaged, newer schema, locked): nothing changed
            self.notify(str(exc), title=t("backups.restore_failed"), severity="error", timeout=15)
        finally:
            self.busy = False
        # The backend announces success itself (a notification on its event bus).
        self.reload()
