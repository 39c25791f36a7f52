"""The help screen: every key, and what each pane shows."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("?  f1", "this help"),
    ("ctrl+p  :", "command palette: every action by name"),
    ("ctrl+p  :", "…with arguments: pause JOB 1h why, fire JOB k=v, period JOB 2025-02"),
    ("1 2 3 4 5 6 7", "Jobs, Tenants, Runs, Logs, Audit, Nodes, Batches"),
    ("j k g G ↑ ↓", "move (in tables, this help and detail screens)"),
    ("tab", "on a run or batch: from its table to its body and back"),
    ("← →", "scroll a wide table sideways"),
    ("/  esc", "filter this pane (its tab names the filter); esc in the pane clears"),
    ("enter  esc", "drill down into the row (job, run, item, tenant, audit, node, batch) / back"),
    ("s  S", "sort by the next column / reverse the sort"),
    ("l", "the logs of the selected job, run, tenant or node"),
    ("t  T", "fire the selected job now / with setting overrides"),
    ("p  r", "pause (reason, optional duration) / resume the selected job"),
    ("P", "pause or resume the whole scheduler"),
    ("e  +  -", "edit the processing period / step it by one month"),
    ("b", "backfill a range, with a preview of the runs it creates"),
    ("x  R", "cancel the selected run / retry its failed items"),
    ("space", "mark rows; the next action applies to all marked"),
    ("y", "copy the selected id (OSC 52 works over SSH)"),
    ("f  w  l", "logs: follow, wrap, minimum level"),
    ("q  ctrl+q", "quit (stops gracefully)"),
]
PANES = [
    (
        "Jobs",
        "schedule in English with its zone, next fire countdown, state, queue "
        "(pending/running/failed items), period, last run, progress",
    ),
    (
        "Tenants",
        "backlog per tenant, worst first: pending, running, failed in 24 h, oldest "
        "pending, health as a word",
    ),
    ("Runs", "recent runs: reason, tick, status, duration, processed/failed/total, node"),
    ("Logs", "live tail of job and engine records"),
    ("Audit", "who did what, when and why"),
    ("Nodes", "every live process on the database: role, host, pid, last heartbeat, runs"),
    ("Batches", "remote batches: provider, endpoint, state, requests ok/failed/total, on disk"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close"),
        Binding("j,down", "scroll(1)", "Down", show=False),
        Binding("k,up", "scroll(-1)", "Up", show=False),
    ]

    def compose(self) -> ComposeResult:
        keys = Table("key", "does", box=None, padding=(0, 2))
        for key, does in KEYS:
            keys.add_row(Text(key, style="bold cyan"), does)
        panes = Table("pane", "shows", box=None, padding=(0, 2))
        for pane, shows in PANES:
            panes.add_row(Text(pane, style="bold"), shows)
        with VerticalScroll(classes="dialog help"):
            yield Static(Text("cronsole — keys", style="bold"))
            yield Static(keys)
            yield Static(panes)
            yield Static(Text("esc closes", style="dim"))

    def action_scroll(self, lines: int) -> None:
        self.query_one(".help", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
