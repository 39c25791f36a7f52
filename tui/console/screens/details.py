"""The run screen and the job screen: details read in a worker, refreshed while open."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from cronsole.core.engine import Engine
from cronsole.core.snapshot import JobDetail, JobState, RunDetail, job_detail, run_detail

from ...output import ago
from ..text import literal, status
from ..widgets.logpane import format_entry
from ..widgets.progress import progress_cells


class DetailRead(Message):
    """A detail screen's data, read on a worker thread."""

    def __init__(self, detail: Any) -> None:
        super().__init__()
        self.detail = detail


class DetailScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("y", "copy_id", "Copy id")]

    def __init__(self, engine: Engine, key: str) -> None:
        super().__init__()
        self.engine, self.key = engine, key

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("loading…", id="body")
        yield Footer()

    def on_mount(self) -> None:
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

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.key)
        self.notify(f"copied {self.key}", markup=False)


def section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


class RunScreen(DetailScreen):
    BINDINGS = [
        Binding("R", "app.retry_run", "Retry failed"),
        Binding("x", "app.cancel_run", "Cancel"),
    ]

    def read(self) -> RunDetail | None:
        return run_detail(self.engine, int(self.key))

    def render_detail(self, detail: RunDetail) -> Table:
        run, now = detail.run, self.engine.clock.now()
        out = Table.grid(padding=(0, 1))
        out.add_row(
            Text(f"Run #{run.id}", style="bold"),
            literal(run.job, style="bold"),
            status(run.status.value),
        )
        out.add_row("reason", run.reason.value, f"tick {run.scheduled_for.astimezone():%c}")
        out.add_row("node", literal(run.node), f"started {ago(run.started_at, now)}")
        out.add_row("progress", progress_cells(run, now), "")
        if run.error:
            out.add_row("error", literal(run.error, 2000, style="red"), "")
        if run.summary:
            out.add_row("summary", literal(json.dumps(run.summary, default=str), 2000), "")
        out.add_row(section("Items (failed first)"), "", "")
        failed_ids = {i.id for i in detail.failed}
        for item in detail.failed + [i for i in detail.items if i.id not in failed_ids]:
            out.add_row(
                literal(item.key, 60),
                status(item.status.value),
                literal(item.error or "", 200, style="red"),
            )
        out.add_row(section("Log"), "", "")
        for entry in detail.logs:
            out.add_row(format_entry(entry), "", "")
        return out


class JobScreen(DetailScreen):
    def read(self) -> JobDetail | None:
        return job_detail(self.engine, self.key)

    def render_detail(self, detail: JobDetail) -> Table:
        view, now = detail.view, self.engine.clock.now()
        out = Table.grid(padding=(0, 1))
        out.add_row(Text(view.name, style="bold"), Text(view.state.value, style="bold"))
        out.add_row("schedule", literal(f"{view.schedule}  —  {view.description}"))
        if view.state is JobState.PAUSED:
            until = f"  until {view.pause_until:%Y-%m-%d %H:%M}" if view.pause_until else ""
            out.add_row("paused", literal(f"{view.pause_reason or 'no reason given'}{until}"))
        out.add_row(section("Next fire times"), "")
        for fire in detail.fires:
            out.add_row(f"{fire.at:%Y-%m-%d %H:%M:%S %Z}", literal(fire.note or ""))
        out.add_row(section("Policy"), "")
        for key, value in detail.policy.items():
            out.add_row(key, literal(value))
        out.add_row(section("Settings"), "")
        for key, value in sorted(view.settings.items()):
            out.add_row(key, literal(value))
        out.add_row(section("State (watermark, cursors)"), "")
        for key, value in detail.state.items():
            out.add_row(literal(key), literal(json.dumps(value, default=str)))
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
                literal(f"{command.who}: {command.reason or ''} → {command.result or ''}"),
            )
        return out
