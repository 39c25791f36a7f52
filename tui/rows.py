"""Snapshot views to table rows: every cell is Text built from escaped data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

from cronsole.core.models import Command, Node, Run
from cronsole.core.snapshot import JobState, JobView, TenantView

from .text import countdown, health, literal, short_ago, status
from .widgets.progress import progress_cells

JOB_COLUMNS = ["job", "next", "state", "queue p/r/f", "period", "last", "progress", "schedule"]
TENANT_COLUMNS = [
    "tenant",
    "health",
    "why",
    "pending",
    "running",
    "failed 24h",
    "oldest",
    "backlog",
    "job",
]
RUN_COLUMNS = [
    "run",
    "job",
    "reason",
    "tick",
    "status",
    "took",
    "done/failed/total",
    "node",
    "error",
]
AUDIT_COLUMNS = ["when", "who", "action", "target", "why", "result"]
NODE_COLUMNS = ["node", "role", "host", "pid", "heartbeat", "up", "running", "version"]
SPARK = "▁▂▃▄▅▆▇█"


STATE_STYLE = {
    JobState.PAUSED: "bold yellow",
    JobState.RUNNING: "cyan",
    JobState.HELD: "yellow",
    JobState.STUCK: "bold red",
}


def job_row(view: JobView, now: datetime) -> list[Text]:
    state = Text(view.state.value, style=STATE_STYLE.get(view.state, ""))
    if view.state is JobState.PAUSED:
        until = f" until {view.pause_until.astimezone():%H:%M}" if view.pause_until else ""
        state.append(literal(f": {view.pause_reason or 'no reason'}{until}", 40))
    nxt = Text(countdown(view.next_run, now))
    if view.dst_note:
        nxt.append(" DST", style="bold magenta")
    last = (
        Text("-")
        if view.last is None
        else Text.assemble(
            status(view.last.status.value), f" {short_ago(view.last.finished_at, now)}"
        )
    )
    queue = Text(f"{view.pending}/{view.running}/")
    queue.append(str(view.failed), style="red" if view.failed else "")
    active = progress_cells(view.active, now) if view.active else Text("")
    return [
        literal(view.name, 40, style="bold"),
        nxt,
        state,
        queue,
        literal(view.period or "-"),
        last,
        active,
        literal(f"{view.description}  [{view.schedule}]", 80),
    ]


def sparkline(values: Sequence[int]) -> Text:
    if not values:
        return Text("")
    top = max(values) or 1
    return Text("".join(SPARK[min(7, int(v / top * 7))] for v in values[-20:]), style="cyan")


def tenant_row(view: TenantView, history: Sequence[int]) -> list[Text]:
    oldest = "-" if view.oldest_pending_age is None else ago_seconds(view.oldest_pending_age)
    return [
        literal(view.tenant, 40),
        health(view.status),
        literal(view.reason, 60),
        Text(str(view.pending)),
        Text(str(view.running)),
        Text(str(view.failed_24h), style="red" if view.failed_24h else ""),
        Text(oldest),
        sparkline(history),
        literal(view.job),
    ]


def ago_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def run_row(run: Run, now: datetime) -> list[Text]:
    took = "-"
    if run.started_at:
        took = ago_seconds(((run.finished_at or now) - run.started_at).total_seconds())
    counts = f"{run.processed}/{run.failed}/{'-' if run.total is None else run.total}"
    if run.left:
        counts += f" (stopped early, {run.left} left)"
    return [
        Text(f"#{run.id}"),
        literal(run.job, 30),
        Text(run.reason.value),
        Text(f"{run.scheduled_for.astimezone():%m-%d %H:%M:%S}"),
        status(run.status.value),
        Text(took),
        Text(counts),
        literal(run.node or "-", 40, style="dim"),
        literal(run.error or "", 80, style="red"),
    ]


def command_row(command: Command) -> list[Text]:
    target = command.job or ""
    if command.run_id:
        target += f" #{command.run_id}"
    return [
        Text(f"{command.created_at.astimezone():%m-%d %H:%M:%S}"),
        literal(command.who, 30),
        Text(command.action),
        literal(target, 40),
        literal(command.reason or "", 40),
        literal(command.result or command.status.value, 80),
    ]


def node_row(node: Node, this: str, running: int, now: datetime) -> list[Text]:
    """A live node: which one this console is, its role, where it runs, when it last beat."""
    name = literal(node.id, 40, style="bold" if node.id == this else "")
    if node.id == this:
        name.append(" (this console)", style="dim")
    return [
        name,
        Text(node.role, style="cyan" if node.role == "host" else ""),
        literal(node.hostname, 30),
        Text(str(node.pid)),
        Text(short_ago(node.heartbeat_at, now)),
        Text(short_ago(node.started_at, now)),
        Text(str(running)),
        literal(node.version, 20),
    ]
