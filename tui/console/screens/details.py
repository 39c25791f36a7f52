"""Detail screens: a job, a run, an item, a tenant, an audit entry, a node. Each is read in a
worker and refreshed while open, under the status line and a breadcrumb of where it was
opened from (`Jobs › invoice-ingest › run #84 › item`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from cronsole.core.engine import Engine
from cronsole.core.models import Command, Item, ItemStatus, Record, Run
from cronsole.core.snapshot import (
    ItemDetail,
    JobDetail,
    JobState,
    RunDetail,
    TenantDetail,
    item_detail,
    job_detail,
    run_detail,
    tenant_detail,
)
from cronsole.core.text import visible
from cronsole.jobs.batches.results import (
    note_text,
    on_disk_text,
    outcomes,
    request_error,
    requests_text,
)

from ...output import ago
from ..text import literal, middle, status, tone, wrapped
from ..widgets.logpane import format_entry
from ..widgets.progress import progress_cells
from ..widgets.status import StatusClock, StatusLine
from ..widgets.tables import Fit, LiveTable

DETAIL_KINDS = {"job", "run", "item", "tenant", "command", "node", "batch"}


class DetailRead(Message):
    """A detail screen's data, read on a worker thread."""

    def __init__(self, detail: Any) -> None:
        super().__init__()
        self.detail = detail


@dataclass(frozen=True)
class Place:
    """What every screen shows on top: the status line's parts and the trail to here."""

    role: str
    database: str
    node: str
    trail: list[str]

    def then(self, crumb: str) -> Place:
        return replace(self, trail=[*self.trail, crumb])


class DetailScreen(Screen[None]):
    kind = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("y", "copy_id", "Copy id"),
        Binding("l", "app.logs_of", "Logs"),
        Binding("j", "scroll('down')", "Down", show=False),
        Binding("k", "scroll('up')", "Up", show=False),
        Binding("g", "scroll('home')", "Top", show=False),
        Binding("G", "scroll('end')", "Bottom", show=False),
    ]

    def __init__(self, engine: Engine, key: str, place: Place) -> None:
        super().__init__()
        self.engine, self.key, self.place = engine, key, place
        self.whole: dict[str, Text] = {}  # what a row of the table below cuts, by row key

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-bar"):
            yield StatusLine(self.place.role, self.place.database, self.place.node, id="status")
            yield StatusClock(id="clock")
        yield Static(Text(" › ".join(visible(c, 80) for c in self.place.trail)), id="trail")
        with VerticalScroll(id="detail"):
            yield Static("loading…", id="body")
        yield from self.more()
        yield Footer()

    def more(self) -> ComposeResult:
        """Widgets under the body (a table of the run's items: `table()`)."""
        yield from ()

    def table(self, columns: list[str], fits: list[Fit], name: str) -> ComposeResult:
        """A table under the body, and under it the highlighted row's cut cells, whole."""
        yield LiveTable(columns, fits, id=name)
        yield Static("", id="preview")

    def show_rows(self, rows: dict[str, list[Text]], whole: dict[str, Text]) -> None:
        self.whole = whole
        self.query_one(LiveTable).show(rows)
        self.preview()

    @on(DataTable.RowHighlighted)
    def preview(self) -> None:
        text = self.whole.get(self.query_one(LiveTable).selected_key or "")
        shown = self.query_one("#preview", Static)
        shown.display = text is not None
        if text is not None:
            shown.update(text)

    def on_mount(self) -> None:
        snapshot = getattr(self.app, "snapshot", None)  # the last read, until the next one
        self.query_one(StatusLine).snapshot = snapshot
        if snapshot is not None:
            self.query_one(StatusClock).show(snapshot.at)
        for table in self.query(LiveTable):  # j/k move its rows; tab moves to the body
            table.focus()
        self.load()
        self.set_interval(1.0, self.load)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        self.post_message(DetailRead(self.read()))

    def on_detail_read(self, message: DetailRead) -> None:
        self.show(message.detail)

    def read(self) -> Any:
        raise NotImplementedError

    def show(self, detail: Any) -> None:
        body = self.query_one("#body", Static)
        body.update(self.render_detail(detail) if detail else Text(f"{self.key}: not found"))

    def render_detail(self, detail: Any) -> Table:
        raise NotImplementedError

    def action_scroll(self, where: str) -> None:
        scroll = self.query_one("#detail", VerticalScroll)
        {
            "down": scroll.scroll_down,
            "up": scroll.scroll_up,
            "home": scroll.scroll_home,
            "end": scroll.scroll_end,
        }[where](animate=False)

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.key)
        self.notify(f"copied {self.key}", markup=False)

    def open(self, screen: type[DetailScreen], key: str, crumb: str) -> None:
        self.app.push_screen(screen(self.engine, key, self.place.then(crumb)))


def section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


def grid() -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    return table


def run_line(run: Run, now: Any) -> Text:
    return Text.assemble(
        f"#{run.id} {run.job} {run.reason.value} {ago(run.finished_at or run.started_at, now)} ",
        status(run.status.value),
        " ",
        progress_cells(run, now),
    )


class JobScreen(DetailScreen):
    """A job; its keys act on it (fire, pause, resume, period, backfill)."""

    kind = "job"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "app.fire", "Fire"),
        Binding("p", "app.pause", "Pause"),
        Binding("r", "app.resume", "Resume"),
        Binding("e", "app.edit_period", "Period"),
        Binding("b", "app.backfill", "Backfill"),
    ]

    def read(self) -> JobDetail | None:
        return job_detail(self.engine, self.key)

    def render_detail(self, detail: JobDetail) -> Table:
        view, now = detail.view, self.engine.clock.now()
        out = grid()
        out.add_row(Text(view.name, style="bold"), Text(view.state.value, style="bold"))
        out.add_row("schedule", wrapped(f"{view.schedule}  —  {view.description}"))
        if view.state is JobState.PAUSED:
            until = f"  until {view.pause_until:%Y-%m-%d %H:%M}" if view.pause_until else ""
            out.add_row("paused", wrapped(f"{view.pause_reason or 'no reason given'}{until}"))
        out.add_row(section("Next fire times"), "")
        for fire in detail.fires:
            out.add_row(f"{fire.at:%Y-%m-%d %H:%M:%S %Z}", wrapped(fire.note or ""))
        out.add_row(section("Policy"), "")
        for key, value in detail.policy.items():
            out.add_row(key, wrapped(value))
        out.add_row(section("Settings"), "")
        for key, value in sorted(view.settings.items()):
            out.add_row(key, wrapped(value))
        out.add_row(section("State (watermark, cursors)"), "")
        for key, value in detail.state.items():
            out.add_row(literal(key), wrapped(json.dumps(value, default=str)))
        out.add_row(section("Recent runs"), "")
        for run in detail.runs[:15]:
            out.add_row(
                f"#{run.id} {run.reason.value} {ago(run.finished_at, now)}",
                Text.assemble(status(run.status.value), " ", progress_cells(run, now)),
            )
        out.add_row(section("Audit"), "")
        for command in detail.commands[:15]:
            out.add_row(
                f"{command.created_at.astimezone():%m-%d %H:%M} {command.action}",
                wrapped(f"{command.who}: {command.reason or ''} → {command.result or ''}"),
            )
        return out


ITEM_FITS = [Fit(0), Fit(), Fit(), Fit(5, 12)]


class RunScreen(DetailScreen):
    """A run: its numbers and error (whole), its items (the highlighted one whole under the
    table; enter opens it) and its log."""

    kind = "run"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("R", "app.retry_run", "Retry failed"),
        Binding("x", "app.cancel_run", "Cancel"),
        Binding("enter", "open_item", "Item", show=False),
    ]
    job = ""

    def more(self) -> ComposeResult:
        columns = ["item (failed first)", "status", "tries", "error"]
        yield from self.table(columns, ITEM_FITS, "items")

    def read(self) -> RunDetail | None:
        return run_detail(self.engine, int(self.key))

    def show(self, detail: Any) -> None:
        super().show(detail)
        if detail is None:
            return
        self.job = detail.run.job
        width = max(30, self.size.width - 40)  # the key's end (a file name) is kept
        failed_ids = {i.id for i in detail.failed}
        items: dict[str, Item] = {}
        for item in detail.failed + [i for i in detail.items if i.id not in failed_ids]:
            items.setdefault(item.key, item)
        rows = {
            key: [
                middle(key, width),
                status(item.status.value),
                Text(str(item.attempts)),
                literal(item.error or "", 200, style=tone("error")),
            ]
            for key, item in items.items()
        }
        self.show_rows(rows, {key: whole(key, item.error) for key, item in items.items()})

    def render_detail(self, detail: RunDetail) -> Table:
        run, now = detail.run, self.engine.clock.now()
        out = grid()
        out.add_row(
            Text(f"Run #{run.id}", style="bold"),
            Text.assemble(literal(run.job, style="bold"), "  ", status(run.status.value)),
        )
        out.add_row("reason", f"{run.reason.value}, tick {run.scheduled_for.astimezone():%c}")
        out.add_row(
            "node", Text.assemble(literal(run.node), f", started {ago(run.started_at, now)}")
        )
        out.add_row("progress", progress_cells(run, now))
        if run.error:
            out.add_row("error", wrapped(run.error, tone("error")))
        summary = dict(run.summary)
        output = summary.pop("output", None)  # a command job's last lines, with its exit code
        if "exit_code" in summary:
            code = summary.pop("exit_code")
            out.add_row(
                "exit code",
                f"{code}" + (f" ({summary.pop('signal')})" if "signal" in summary else ""),
            )
        if summary:
            out.add_row("summary", wrapped(json.dumps(summary, default=str)))
        if isinstance(output, list) and output:
            out.add_row(section("Output (last lines)"), "")
            for line in output:
                out.add_row("", wrapped(line))
        if detail.logs:
            out.add_row(section("Log (newest last)"), "")
            for entry in detail.logs[-8:]:
                out.add_row("", format_entry(entry))
        return out

    @on(DataTable.RowSelected, "#items")
    def item_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_item()

    def action_open_item(self) -> None:
        key = self.query_one("#items", LiveTable).selected_key
        if key is not None and self.job:
            self.open(ItemScreen, f"{self.job}\0{key}", "item")


class ItemScreen(DetailScreen):
    """One item: its whole key, payload and result, and every failed try with its error and
    traceback."""

    kind = "item"

    def read(self) -> ItemDetail | None:
        job, key = self.key.split("\0", 1)
        return item_detail(self.engine, job, key)

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.key.split("\0", 1)[1])
        self.notify("copied the item's key")

    def render_detail(self, detail: ItemDetail) -> Table:
        item, now = detail.item, self.engine.clock.now()
        out = grid()
        out.add_row(Text("Item", style="bold"), wrapped(item.key, "bold"))
        out.add_row(
            "status", Text.assemble(status(item.status.value), f", {ago(item.updated_at, now)}")
        )
        out.add_row("job", literal(item.job))
        out.add_row("tenant", literal(item.tenant or "-"))
        out.add_row("tries", f"{item.attempts} of {item.max_attempts}")
        if item.not_before:
            out.add_row("next try", f"{item.not_before.astimezone():%Y-%m-%d %H:%M:%S}")
        if item.claim_owner:
            out.add_row("held by", literal(item.claim_owner))
        if detail.run:
            out.add_row("run", run_line(detail.run, now))
        if item.error:
            out.add_row("error", wrapped(item.error, tone("error")))
        out.add_row("payload", wrapped(json.dumps(item.payload, default=str, indent=1)))
        if item.result is not None:
            out.add_row("result", wrapped(json.dumps(item.result, default=str, indent=1)))
        out.add_row(section("Failed tries"), "")
        if not detail.attempts:
            out.add_row("", "none")
        for attempt in detail.attempts:
            out.add_row(
                f"#{attempt.attempt} {attempt.at.astimezone():%m-%d %H:%M:%S}",
                Text.assemble(
                    f"run #{attempt.run_id} ",
                    status(attempt.outcome.value),
                    " ",
                    wrapped(attempt.error or "", tone("error")),
                ),
            )
            if attempt.traceback:
                out.add_row("", wrapped(attempt.traceback.rstrip(), "dim"))
        return out


class TenantScreen(DetailScreen):
    """A tenant: its pending, running and failed items and the runs that touched them."""

    kind = "tenant"

    def read(self) -> TenantDetail | None:
        job, tenant = self.key.split("/", 1)
        return tenant_detail(self.engine, job, tenant)

    def render_detail(self, detail: TenantDetail) -> Table:
        c, now = detail.counts, self.engine.clock.now()
        out = grid()
        out.add_row(Text("Tenant", style="bold"), literal(f"{c.tenant or '(none)'} of {c.job}"))
        out.add_row(
            "items",
            f"{c.pending} pending, {c.claimed} running, {c.done} done, {c.failed} failed, "
            f"{c.dead} dead",
        )
        titles = {
            ItemStatus.PENDING: "Pending (oldest first)",
            ItemStatus.CLAIMED: "Running",
            ItemStatus.FAILED: "Failed (to be retried)",
            ItemStatus.DEAD: "Dead (out of tries)",
        }
        for state, items in detail.items.items():
            if not items:
                continue
            out.add_row(section(titles[state]), "")
            for item in items:
                out.add_row(
                    middle(item.key, max(30, self.size.width - 30)),
                    Text.assemble(
                        f"try {item.attempts} ",
                        f"run #{item.run_id} " if item.run_id else "",
                        wrapped(item.error or "", tone("error")),
                    ),
                )
        out.add_row(section("Runs that touched it"), "")
        for run in detail.runs:
            out.add_row("", run_line(run, now))
        return out


class CommandScreen(DetailScreen):
    """An audit entry: who asked for what, on which target, with which arguments, and what
    came of it."""

    kind = "command"

    def read(self) -> Command | None:
        return self.engine.store.get_command(int(self.key))

    def render_detail(self, command: Command) -> Table:
        out = grid()
        out.add_row(
            Text(f"Command #{command.id}", style="bold"), Text(command.action, style="bold")
        )
        out.add_row("when", f"{command.created_at.astimezone():%Y-%m-%d %H:%M:%S %Z}")
        out.add_row("who", literal(command.who))
        target = (command.job or "-") + (f" run #{command.run_id}" if command.run_id else "")
        out.add_row("target", literal(target))
        out.add_row("why", wrapped(command.reason or "-"))
        out.add_row("arguments", wrapped(json.dumps(command.args, default=str, sort_keys=True)))
        out.add_row("status", status(command.status.value))
        out.add_row("result", wrapped(command.result or "-"))
        return out


class NodeScreen(DetailScreen):
    """A node: what it is and the runs it made (of the recent ones)."""

    kind = "node"

    def read(self) -> tuple[Any, list[Run]] | None:
        node = next((n for n in self.engine.store.nodes() if n.id == self.key), None)
        if node is None:
            return None
        runs = [r for r in self.engine.store.list_runs(limit=500) if r.node == self.key]
        return node, runs[:50]

    def render_detail(self, detail: tuple[Any, list[Run]]) -> Table:
        node, runs = detail
        now = self.engine.clock.now()
        out = grid()
        out.add_row(Text("Node", style="bold"), literal(node.id, style="bold"))
        out.add_row("role", node.role)
        out.add_row("host", literal(f"{node.hostname}, pid {node.pid}, version {node.version}"))
        out.add_row("up", f"since {node.started_at.astimezone():%Y-%m-%d %H:%M:%S}")
        out.add_row("heartbeat", ago(node.heartbeat_at, now))
        if node.stopped_at:
            out.add_row("stopped", ago(node.stopped_at, now))
        out.add_row(section("Its runs (of the last 500)"), "")
        for run in runs:
            out.add_row("", run_line(run, now))
        return out


def whole(key: str, error: str | None) -> Text:
    """A row's key and error as the table cannot show them: whole, wrapped."""
    shown = wrapped(key, "bold")
    return Text.assemble(shown, "\n", wrapped(error, tone("error"))) if error else shown


BatchDetail = tuple[Record, list[dict[str, Any]]]  # the record, its requests as downloaded
SHOWN = {"provider", "endpoint", "requests", "results", "result_errors", "stuck", "error"}
REQUEST_FITS = [Fit(1, 14), Fit(), Fit(), Fit(4, 8), Fit(5, 10)]


class BatchScreen(DetailScreen):
    """A remote batch the checker tracks: its state, counts and note whole, everything else
    its record keeps, and each request as downloaded, failed first (`cronsole batches show`)."""

    kind = "batch"

    def more(self) -> ComposeResult:
        columns = ["request (failed first)", "outcome", "status", "request id", "error"]
        yield from self.table(columns, REQUEST_FITS, "requests")

    def read(self) -> BatchDetail | None:
        record = self.engine.store.get_record("batch", self.key)
        if record is None:
            return None
        folder = record.data.get("folder")
        return record, outcomes(Path(folder)) if isinstance(folder, str) else []

    def show(self, detail: Any) -> None:
        super().show(detail)
        if detail is None:
            return
        requests = sorted(detail[1], key=lambda r: r["outcome"] != "failed")
        errors = {r["custom_id"]: request_error(r["error"]) for r in requests}
        rows = {
            r["custom_id"]: [
                literal(r["custom_id"], 200),
                status(r["outcome"]),
                Text(str(r["status_code"] or "-")),
                literal(r["request_id"] or "-", 80),
                literal(errors[r["custom_id"]] or "", 200, style=tone("error")),
            ]
            for r in requests
        }
        self.show_rows(rows, {key: whole(key, error) for key, error in errors.items()})

    def render_detail(self, detail: BatchDetail) -> Table:
        record, requests = detail
        data = record.data
        out = grid()
        out.add_row(
            Text("Batch", style="bold"),
            Text.assemble(literal(record.key, style="bold"), "  ", status(record.status)),
        )
        out.add_row("provider", literal(data.get("provider")))
        out.add_row("endpoint", literal(data.get("endpoint") or "unknown"))
        out.add_row("requests", f"{requests_text(data)} (ok/failed/total)")
        out.add_row("on disk", f"{on_disk_text(data)}, {len(requests)} read back")
        if note := note_text(data):
            out.add_row("note", wrapped(note, tone("error")))
        for key, value in sorted(data.items()):
            if key not in SHOWN:
                out.add_row(literal(key), wrapped(json.dumps(value, default=str)))
        return out
