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
    fits,
    names,
)
from ..widgets.logpane import LogPane
from ..widgets.progress import ProgressPanel
from ..widgets.status import StatusClock, StatusLine
from ..widgets.tables import LiveTable

TABS = ["jobs", "tenants", "runs", "logs", "audit", "nodes", "batches"]
MIN_WIDTH, MIN_HEIGHT = 80, 24


def title(tab: str, *notes: str) -> str:
    """A pane's tab: its key and name, then what is special about it now (a filter, rows
    that arrived above the cursor)."""
    return "  ".join([f"{TABS.index(tab) + 1} {tab.title()}", *[n for n in notes if n]])


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
            with TabPane(title("jobs"), id="jobs"):
                yield LiveTable(names(JOB_COLUMNS), fits(JOB_COLUMNS), id="jobs-table")
            with TabPane(title("tenants"), id="tenants"):
                yield LiveTable(names(TENANT_COLUMNS), fits(TENANT_COLUMNS), id="tenants-table")
            with TabPane(title("runs"), id="runs"):
                yield LiveTable(names(RUN_COLUMNS), fits(RUN_COLUMNS), True, id="runs-table")
            with TabPane(title("logs"), id="logs"):
                yield LogPane(id="log")
            with TabPane(title("audit"), id="audit"):
                yield LiveTable(names(AUDIT_COLUMNS), fits(AUDIT_COLUMNS), True, id="audit-table")
            with TabPane(title("nodes"), id="nodes"):
                yield LiveTable(names(NODE_COLUMNS), fits(NODE_COLUMNS), id="nodes-table")
            with TabPane(title("batches"), id="batches"):
                yield LiveTable(names(BATCH_COLUMNS), fits(BATCH_COLUMNS), True, id="batches-table")
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
