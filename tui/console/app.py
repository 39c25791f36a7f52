"""The Textual console: composes the screens, refreshes from the store, routes keys to actions."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import DataTable, Input, TabbedContent
from textual.worker import Worker, WorkerState

from cronsole.core.commands import Commands
from cronsole.core.engine import Engine
from cronsole.core.events import CommandApplied, Event, RunFinished, RunStarted
from cronsole.core.models import Record, RunStatus
from cronsole.core.scheduling.host import Host
from cronsole.core.snapshot import JobView, Snapshot, take_snapshot

from .actions import Actions, RefreshRequested
from .palette import ConsoleCommands
from .rows import (
    AUDIT_COLUMNS,
    BATCH_COLUMNS,
    JOB_COLUMNS,
    NODE_COLUMNS,
    RUN_COLUMNS,
    TENANT_COLUMNS,
    cells,
    moving,
)
from .screens.details import JobScreen, RunScreen
from .screens.help import HelpScreen
from .screens.main import TABS, MainScreen
from .screens.modals import ConfirmModal
from .widgets.logpane import LogPane
from .widgets.progress import ProgressPanel
from .widgets.status import StatusClock, StatusLine
from .widgets.tables import LiveTable, Row

# the panes whose list is read only while they are open (runs, audit and batches grow)
READ_WHEN_OPEN = ("runs", "audit", "batches")


class SnapshotReady(Message):
    def __init__(self, snapshot: Snapshot, pane: str, batches: list[Record] | None = None) -> None:
        super().__init__()
        self.snapshot, self.pane, self.batches = snapshot, pane, batches


class CronsoleApp(Actions):
    CSS_PATH = "app.tcss"
    TITLE = "cronsole"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+p,colon", "command_palette", "Palette", show=False),
        Binding("slash", "filter", "Filter"),
        *[
            Binding(str(n), f"tab('{tab}')", tab.title(), show=False)
            for n, tab in enumerate(TABS, start=1)
        ],
        Binding("t", "fire", "Fire"),
        Binding("T", "fire_with", "Fire with…", show=False),
        Binding("p", "pause", "Pause"),
        Binding("r", "resume", "Resume"),
        Binding("P", "pause_all", "Pause all", show=False),
        Binding("e", "edit_period", "Period"),
        Binding("plus", "step_period(1)", "+1 month", show=False),
        Binding("minus", "step_period(-1)", "-1 month", show=False),
        Binding("b", "backfill", "Backfill", show=False),
        Binding("x", "cancel_run", "Cancel run", show=False),
        Binding("R", "retry_run", "Retry failed", show=False),
        Binding("y", "copy_id", "Copy id", show=False),
        Binding("q,ctrl+q", "quit", "Quit"),
    ]
    REFRESH_SECONDS = 1.0

    def __init__(self, engine: Engine, host: Host | None, notice: str = "") -> None:
        super().__init__()
        self.engine, self.host = engine, host
        self.notice = notice  # said once when the console opens (why it observes, SSH)
        self.commands = Commands(engine, start_run=host.start_run if host else None)
        self.snapshot: Snapshot | None = None
        self.pane = "jobs"  # the pane in view: only its history list (runs, audit) is read
        self.snapshot_pane = ""  # the pane the last snapshot was read for
        self.last_log_id = 0
        self.backlog: dict[str, deque[int]] = {}
        self.job_rows: dict[str, tuple[object, Row]] = {}
        self.batches: list[Record] = []  # as last read for the Batches pane
        self.backlog_at: datetime | None = None
        self.refresh_pending = False
        self.unsubscribe: Callable[[], None] = lambda: None

    def on_mount(self) -> None:
        self.unsubscribe = self.engine.hub.subscribe(self.on_engine_event)
        role = "hosting" if self.host else "observing"
        self.push_screen(MainScreen(role, self.engine.store.describe(), self.engine.node_id))
        self.refresh_snapshot()
        self.set_interval(self.REFRESH_SECONDS, self.refresh_snapshot)
        if self.notice:
            self.notify(self.notice, timeout=60)  # said once: long enough to be read

    def on_unmount(self) -> None:
        self.unsubscribe()

    # data

    def on_engine_event(self, event: Event) -> None:
        """Called on engine threads, which must never wait for the UI: post and return."""
        if isinstance(event, RunStarted | RunFinished | CommandApplied):
            self.post_message(RefreshRequested())

    def on_refresh_requested(self, message: RefreshRequested) -> None:
        self.request_refresh()

    def request_refresh(self) -> None:
        if not self.refresh_pending:
            self.refresh_pending = True
            self.set_timer(0.1, self.refresh_snapshot)

    @work(thread=True, exclusive=True, group="snapshot", exit_on_error=False)
    def refresh_snapshot(self) -> None:
        self.refresh_pending = False
        pane = self.pane
        snapshot = take_snapshot(
            self.engine,
            self.last_log_id,
            runs=200 if pane == "runs" else 0,
            commands=100 if pane == "audit" else 0,
        )
        batches = (  # the batch checker's tracked batches, read only for their pane
            self.engine.store.query_records("batch", limit=200, newest_first=True)
            if pane == "batches"
            else None
        )
        self.post_message(SnapshotReady(snapshot, pane, batches))

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snapshot = self.snapshot = message.snapshot
        self.snapshot_pane = message.pane
        if message.batches is not None:
            self.batches = message.batches
        main = self.main_screen()
        if main is None:
            if any(isinstance(s, MainScreen) for s in self.screen_stack):  # still composing
                again = SnapshotReady(snapshot, message.pane)
                self.set_timer(0.05, lambda: self.post_message(again))
            return  # or shutting down
        if snapshot.at != self.backlog_at:  # one sparkline point per moment, not per read
            self.backlog_at = snapshot.at
            for t in snapshot.tenants:
                self.backlog.setdefault(f"{t.job}/{t.tenant}", deque(maxlen=30)).append(t.pending)
        try:
            main.query_one(StatusLine).snapshot = snapshot
        except NoMatches:
            return  # the app is closing: its screen's widgets are already gone
        main.query_one(StatusClock).show(snapshot.at)
        self.show_pane(main, main.query_one(TabbedContent).active)
        main.query_one(ProgressPanel).show(snapshot.active, snapshot.at)
        if snapshot.logs:
            self.last_log_id = snapshot.logs[-1].id
            main.query_one(LogPane).add_entries(snapshot.logs)

    def main_screen(self) -> MainScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, MainScreen) and s.ready), None)

    def show_pane(self, main: MainScreen, tab: str) -> None:
        """Fill the table of the pane in view; the hidden ones are filled when they are opened,
        so a refresh builds and compares only the rows on screen."""
        snapshot = self.snapshot
        if snapshot is None or tab == "logs":
            return
        if tab in READ_WHEN_OPEN and self.snapshot_pane != tab:
            return  # read without that list: the table keeps its rows until the next read
        now = snapshot.at
        rows: dict[str, Row]
        if tab == "jobs":
            idle = self.host is None and not snapshot.scheduler_up  # no countdown pretends
            rows = {
                v.name: self._job_row(replace(v, next_run=None) if idle else v, now)
                for v in snapshot.jobs
            }
        elif tab == "tenants":
            rows = {
                f"{t.job}/{t.tenant}": cells(
                    TENANT_COLUMNS,
                    (t, list(self.backlog.get(f"{t.job}/{t.tenant}", [t.pending]))),
                    now,
                )
                for t in snapshot.tenants
            }
        elif tab == "runs":
            rows = {str(r.id): cells(RUN_COLUMNS, r, now) for r in snapshot.runs}
        elif tab == "nodes":
            running = Counter(r.node for r in snapshot.active if r.status is RunStatus.RUNNING)
            this = self.engine.node_id
            rows = {
                n.id: cells(NODE_COLUMNS, (n, n.id == this, running[n.id]), now)
                for n in snapshot.nodes
            }
        elif tab == "batches":
            rows = {r.key: cells(BATCH_COLUMNS, r, now) for r in self.batches}
        else:
            rows = {str(c.id): cells(AUDIT_COLUMNS, c, now) for c in snapshot.commands}
        table = main.query_one(f"#{tab}-table", LiveTable)
        table.show(rows)
        table.measure()

    def _job_row(self, view: JobView, now: datetime) -> Row:
        """The same row object while nothing it shows has changed, which the table skips:
        most refreshes change no job, only the minute of a countdown now and then."""
        key = (view, moving(JOB_COLUMNS, view, now))
        cached = self.job_rows.get(view.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        row = cells(JOB_COLUMNS, view, now)
        self.job_rows[view.name] = (key, row)
        return row

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported; the console keeps going."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.toast(
                f"{event.worker.name or 'background task'} failed: "
                f"{type(event.worker.error).__name__}: {event.worker.error}",
                True,
            )

    # navigation

    def action_tab(self, tab: str) -> None:
        if isinstance(self.screen, MainScreen):
            self.pane = tab
            self.show_pane(self.screen, tab)  # filled before it shows, not a frame later
            self.screen.query_one(TabbedContent).active = tab
            target = self.screen.query_one("#log" if tab == "logs" else f"#{tab}-table")
            target.focus()

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = self.pane = event.pane.id or "jobs"
        main = self.main_screen()
        if main is not None:
            self.show_pane(main, pane)
        if pane in READ_WHEN_OPEN:
            self.refresh_snapshot()
        self.screen.query_one("#log" if pane == "logs" else f"#{pane}-table").focus()

    @on(DataTable.RowSelected)
    def open_row(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "jobs-table":
            self.push_screen(JobScreen(self.engine, key))
        elif event.data_table.id == "runs-table":
            self.push_screen(RunScreen(self.engine, key))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        if not isinstance(self.screen, MainScreen):
            return
        box = self.screen.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        tab = self.current_tab()
        if tab == "logs":
            self.screen.query_one(LogPane).set_filter(event.value)
        else:
            self.screen.query_one(f"#{tab}-table", LiveTable).set_filter(event.value)

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        box = self.screen.query("#filter")
        if key == "escape" and box and self.focused is box.first():
            box.first(Input).value = ""
            box.first().add_class("hidden")
            self.action_tab(self.current_tab())

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.action_tab(self.current_tab())

    # quitting

    async def action_quit(self) -> None:
        running = [r for r in self.engine.runner.active()] if self.host else []
        if not running:
            self.exit(0)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        names = ", ".join(f"#{r.id} {r.job}" for r in running[:5])
        self.push_screen(
            ConfirmModal(
                f"Quit? {len(running)} run(s) in flight: {names}",
                "They get the grace period to finish, then are marked interrupted.",
            ),
            done,
        )
