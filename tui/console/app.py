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
from cronsole.core.reads import KeptReads
from cronsole.core.scheduling.host import Host
from cronsole.core.snapshot import JobView, Snapshot, take_snapshot

from .actions import Actions, CommandsApplied, RefreshRequested
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
    sort_keys,
)
from .screens.details import (
    DETAIL_KINDS,
    BatchScreen,
    CommandScreen,
    DetailScreen,
    JobScreen,
    NodeScreen,
    Place,
    RunScreen,
    TenantScreen,
)
from .screens.help import HelpScreen
from .screens.main import TABS, MainScreen, title
from .screens.modals import ConfirmModal
from .text import use_colour
from .widgets.logpane import LogPane
from .widgets.progress import ProgressPanel
from .widgets.status import StatusClock, StatusLine
from .widgets.tables import LiveTable, Row

# the panes whose list is read only while they are open (runs, audit and batches grow)
READ_WHEN_OPEN = ("runs", "audit", "batches")
# where each action acts: a pane of the main screen, or a detail screen's kind
JOB_ACTIONS = {"fire", "fire_with", "pause", "resume", "edit_period", "step_period", "backfill"}
RUN_ACTIONS = {"cancel_run", "retry_run"}
ACTS_IN = {
    **dict.fromkeys(JOB_ACTIONS, {"jobs", "job"}),
    **dict.fromkeys(RUN_ACTIONS, {"runs", "run"}),
    "filter": set(TABS),
    "copy_id": set(TABS) - {"logs"},
    "logs_of": set(TABS) - {"logs"},
    "pause_all": set(TABS) | DETAIL_KINDS,
}


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
        Binding("l", "logs_of", "Logs"),
        Binding("q,ctrl+q", "quit", "Quit"),
    ]
    REFRESH_SECONDS = 1.0

    def __init__(self, engine: Engine, host: Host | None, notice: str = "") -> None:
        super().__init__()
        self.engine, self.host = engine, host
        self.notice = notice  # said once when the console opens (why it observes, SSH)
        self.commands = Commands(engine, start_run=host.start_run if host else None)
        self.reads = KeptReads(engine.store)  # what did not change is not read again
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
        self.filters: dict[str, str] = {}  # each pane's own filter
        use_colour(not self.no_color)

    def on_mount(self) -> None:
        self.unsubscribe = self.engine.hub.subscribe(self.on_engine_event)
        role = "hosting" if self.host else "observing"
        self.push_screen(MainScreen(role, self.engine.store.describe(), self.engine.node_id))
        self.refresh_snapshot()
        self.set_interval(self.REFRESH_SECONDS, self.refresh_snapshot)
        if self.notice:
            self.notify(self.notice, timeout=60, markup=False)  # once: long enough to read

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
        store = self.reads.begin()
        snapshot = take_snapshot(
            self.engine,
            self.last_log_id,
            runs=200 if pane == "runs" else 0,
            commands=100 if pane == "audit" else 0,
            store=store,
        )
        batches = (  # the batch checker's tracked batches, read only for their pane
            store.query_records("batch", limit=200, newest_first=True)
            if pane == "batches"
            else None
        )
        self.post_message(SnapshotReady(snapshot, pane, batches))
        applied = self.applied() if self.awaiting else []
        if applied:
            self.post_message(CommandsApplied(applied))

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
            main.query_one(StatusLine)
        except NoMatches:
            return  # the app is closing: its screen's widgets are already gone
        for screen in self.screen_stack:  # every screen has the status line
            for line in screen.query(StatusLine):
                line.snapshot = snapshot
            for clock in screen.query(StatusClock):
                clock.show(snapshot.at)
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
        keys: dict[str, list[object]] = {}
        if tab == "jobs":
            idle = self.host is None and not snapshot.scheduler_up  # no countdown pretends
            views = [replace(v, next_run=None) if idle else v for v in snapshot.jobs]
            rows = {v.name: self._job_row(v, now) for v in views}
            keys = {v.name: sort_keys(JOB_COLUMNS, v, now) for v in views}
        elif tab == "tenants":
            backlog = {
                f"{t.job}/{t.tenant}": list(self.backlog.get(f"{t.job}/{t.tenant}", [t.pending]))
                for t in snapshot.tenants
            }
            points = [v for values in backlog.values() for v in values] or [0]
            span = (min(points), max(points))  # each sparkline is drawn to the pane's range
            tenants = {
                f"{t.job}/{t.tenant}": (t, backlog[f"{t.job}/{t.tenant}"], span)
                for t in snapshot.tenants
            }
            rows = {key: cells(TENANT_COLUMNS, row, now) for key, row in tenants.items()}
            keys = {key: sort_keys(TENANT_COLUMNS, row, now) for key, row in tenants.items()}
        elif tab == "runs":
            rows = {str(r.id): cells(RUN_COLUMNS, r, now) for r in snapshot.runs}
            keys = {str(r.id): sort_keys(RUN_COLUMNS, r, now) for r in snapshot.runs}
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
        main.query_one(f"#{tab}-table", LiveTable).show(rows, keys)

    def retitle(self, tab: str) -> None:
        """The pane's tab says its filter and the rows that arrived above the cursor."""
        main = self.main_screen()
        if main is None:
            return
        tabs = main.query_one(TabbedContent)
        caption = "" if tab == "logs" else main.query_one(f"#{tab}-table", LiveTable).caption()
        shown = self.filters.get(tab, "")
        tabs.get_tab(tab).label = title(tab, f"/{shown}" if shown else "", caption)

    def on_live_table_captioned(self, message: LiveTable.Captioned) -> None:
        if message.table.id:
            self.retitle(message.table.id.removesuffix("-table"))

    # where the operator is, and which keys act there

    def where(self) -> str:
        """The pane in view on the main screen, a detail screen's kind, or "" (a modal)."""
        if isinstance(self.screen, MainScreen):
            return self.current_tab()
        if isinstance(self.screen, DetailScreen):
            return self.screen.kind
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key is offered (and acts) only where it acts: the footer lists no dead keys."""
        acts_in = ACTS_IN.get(action)
        return acts_in is None or self.where() in acts_in

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
        """Show a pane (from a detail screen too: back to the main screen first)."""
        while isinstance(self.screen, DetailScreen):
            self.pop_screen()
        if isinstance(self.screen, MainScreen):
            self.pane = tab
            self.show_pane(self.screen, tab)  # filled before it shows, not a frame later
            self.screen.query_one(TabbedContent).active = tab
            self.hide_filter()
            self.pane_widget(tab).focus()

    def pane_widget(self, tab: str) -> LiveTable | LogPane:
        if tab == "logs":
            return self.screen.query_one("#log", LogPane)
        return self.screen.query_one(f"#{tab}-table", LiveTable)

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = self.pane = event.pane.id or "jobs"
        main = self.main_screen()
        if main is not None:
            self.show_pane(main, pane)
        if pane in READ_WHEN_OPEN:
            self.refresh_snapshot()
        self.hide_filter()
        self.pane_widget(pane).focus()
        self.refresh_bindings()  # the footer offers this pane's keys

    def place(self, tab: str) -> Place:
        """Where a detail screen opened from this pane is opened from."""
        role = "hosting" if self.host else "observing"
        return Place(role, self.engine.store.describe(), self.engine.node_id, [tab.title()])

    @on(DataTable.RowSelected)
    def open_row(self, event: DataTable.RowSelected) -> None:
        """enter on a row drills down into it."""
        key = event.row_key.value
        opens: dict[str, tuple[type[DetailScreen], Callable[[str], str]]] = {
            "jobs-table": (JobScreen, lambda k: k),
            "runs-table": (RunScreen, lambda k: f"run #{k}"),
            "tenants-table": (TenantScreen, lambda k: f"tenant {k.split('/', 1)[1]}"),
            "audit-table": (CommandScreen, lambda k: f"command #{k}"),
            "nodes-table": (NodeScreen, lambda k: f"node {k}"),
            "batches-table": (BatchScreen, lambda k: f"batch {k}"),
        }
        table = event.data_table.id or ""
        found = opens.get(table)
        if key is None or found is None or not isinstance(self.screen, MainScreen):
            return
        screen, crumb = found
        place = self.place(table.removesuffix("-table")).then(crumb(key))
        self.push_screen(screen(self.engine, key, place))

    def action_logs_of(self) -> None:
        """The Logs pane, filtered to the selection: a job, a run, a tenant, a node."""
        where, screen = self.where(), self.screen
        key = screen.key if isinstance(screen, DetailScreen) else self.table(where).selected_key
        if key is None:
            self.notify("nothing selected", severity="warning")
            return
        runs: frozenset[int] | None = None
        if where in ("runs", "run"):
            label, runs = f"run #{key}", frozenset({int(key)})
        elif where in ("nodes", "node"):
            label = f"node {key}"
            runs = frozenset(r.id for r in self.engine.store.list_runs(limit=500) if r.node == key)
        elif where in ("tenants", "tenant"):
            label = key.split("/", 1)[1]  # its name, wherever a record mentions it
        elif where in ("audit", "command"):
            command = self.engine.store.get_command(int(key))
            label = (command.job if command else None) or ""
        elif where == "item":
            label = key.split("\0", 1)[1]
        else:
            label = key  # a job, a batch
        self.action_tab("logs")
        self.set_filter("logs", label, runs)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # the filter: one per pane, said in the pane's tab while it is set

    def action_filter(self) -> None:
        if not isinstance(self.screen, MainScreen):
            return
        box = self.screen.query_one("#filter", Input)
        box.value = self.filters.get(self.current_tab(), "")
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        if not event.input.has_class("hidden"):
            self.set_filter(self.current_tab(), event.value)

    def set_filter(self, tab: str, text: str, runs: frozenset[int] | None = None) -> None:
        """The pane's filter; for the Logs pane, `runs` (when given) are the runs whose
        records it shows, and `text` only names them."""
        if self.filters.get(tab, "") == text and runs is None:
            return
        self.filters[tab] = text
        widget = self.pane_widget(tab)
        if isinstance(widget, LogPane):
            widget.set_filter(text, runs)
        else:
            widget.set_filter(text)
        self.retitle(tab)

    def hide_filter(self) -> None:
        for box in self.screen.query("#filter").results(Input):
            box.add_class("hidden")

    def on_key(self, event: object) -> None:
        """esc clears the pane's filter, from the filter box or from the pane itself."""
        if getattr(event, "key", "") != "escape" or not isinstance(self.screen, MainScreen):
            return
        tab = self.current_tab()
        if self.filters.get(tab) or self.screen.query_one("#filter").has_focus:
            self.set_filter(tab, "")
            self.hide_filter()
            self.pane_widget(tab).focus()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.hide_filter()  # the tab still says the filter; esc in the pane clears it
        self.pane_widget(self.current_tab()).focus()

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
