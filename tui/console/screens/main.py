"""The main screen: status line, Jobs / Tenants / Runs / Logs / Audit / Nodes / Batches, and
live progress."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from ..rows import (
    AUDIT_COLUMNS,
    BATCH_COLUMNS,
    JOB_COLUMNS,
    NODE_COLUMNS,
    RUN_COLUMNS,
    TENANT_COLUMNS,
    names,
)
from ..widgets.logpane import LogPane
from ..widgets.progress import ProgressPanel
from ..widgets.status import StatusClock, StatusLine
from ..widgets.tables import LiveTable

TABS = ["jobs", "tenants", "runs", "logs", "audit", "nodes", "batches"]
MIN_WIDTH, MIN_HEIGHT = 80, 24


class MainScreen(Screen[None]):
    def __init__(self, role: str, database: str, node: str) -> None:
        super().__init__()
        self.role, self.database, self.node = role, database, node
        self.ready = False  # its widgets exist (a snapshot can arrive before they do)

    def compose(self) -> ComposeResult:
        yield Static("", id="too-small", classes="hidden")
        with Horizontal(id="status-bar"):
            yield StatusLine(self.role, self.database, self.node, id="status")
            yield StatusClock(id="clock")
        with TabbedContent(id="tabs", initial="jobs"):
            with TabPane("1 Jobs", id="jobs"):
                yield LiveTable(names(JOB_COLUMNS), id="jobs-table")
            with TabPane("2 Tenants", id="tenants"):
                yield LiveTable(names(TENANT_COLUMNS), id="tenants-table")
            with TabPane("3 Runs", id="runs"):
                yield LiveTable(names(RUN_COLUMNS), id="runs-table")
            with TabPane("4 Logs", id="logs"):
                yield LogPane(id="log")
            with TabPane("5 Audit", id="audit"):
                yield LiveTable(names(AUDIT_COLUMNS), id="audit-table")
            with TabPane("6 Nodes", id="nodes"):
                yield LiveTable(names(NODE_COLUMNS), id="nodes-table")
            with TabPane("7 Batches", id="batches"):
                yield LiveTable(names(BATCH_COLUMNS), id="batches-table")
        yield ProgressPanel(id="progress")
        yield Input(placeholder="filter… (esc clears)", id="filter", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        self.ready = True
        self.query_one("#jobs-table", LiveTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        """Below 80x24 the panes cannot be laid out legibly: say so instead of garbling."""
        width, height = event.size
        banner = self.query_one("#too-small", Static)
        banner.set_class(width >= MIN_WIDTH and height >= MIN_HEIGHT, "hidden")
        banner.update(
            f"Terminal too small: {width}x{height}. cronsole needs at least "
            f"{MIN_WIDTH}x{MIN_HEIGHT}."
        )
