"""The panes' columns: each one's header next to the cell it shows, built from escaped data.

A cell that changes as time passes (a countdown, an age, a live rate) says so with `moves`:
what, besides the row's own data, it depends on. The console rebuilds a cached row when any
column's `moves` changes, so a time-dependent column cannot silently go stale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from rich.text import Text

from cronsole.core.models import Command, Node, Record, Run
from cronsole.core.snapshot import JobState, JobView, TenantView
from cronsole.jobs.batches.results import note_text, on_disk_text, requests_text

from .text import countdown, health, literal, short_ago, status
from .widgets.progress import progress_cells

T = TypeVar("T")
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Column(Generic[T]):
    name: str
    cell: Callable[[T, datetime], Text]
    moves: Callable[[T, datetime], object] | None = None  # None: the row's data alone


def names(columns: Sequence[Column[T]]) -> list[str]:
    return [c.name for c in columns]


def cells(columns: Sequence[Column[T]], value: T, now: datetime) -> list[Text]:
    return [c.cell(value, now) for c in columns]


def moving(columns: Sequence[Column[T]], value: T, now: datetime) -> tuple[object, ...]:
    """What the time-dependent cells of this row depend on at `now` (a row cache's key)."""
    return tuple(c.moves(value, now) for c in columns if c.moves is not None)


# jobs

STATE_STYLE = {
    JobState.PAUSED: "bold yellow",
    JobState.RUNNING: "cyan",
    JobState.HELD: "yellow",
    JobState.STUCK: "bold red",
}


def _job_next(view: JobView, now: datetime) -> Text:
    cell = Text(countdown(view.next_run, now))
    if view.dst_note:
        cell.append(" DST", style="bold magenta")
    return cell


def _job_state(view: JobView, now: datetime) -> Text:
    cell = Text(view.state.value, style=STATE_STYLE.get(view.state, ""))
    if view.state is JobState.PAUSED:
        until = f" until {view.pause_until.astimezone():%H:%M}" if view.pause_until else ""
        cell.append(literal(f": {view.pause_reason or 'no reason'}{until}", 40))
    return cell


def _job_queue(view: JobView, now: datetime) -> Text:
    cell = Text(f"{view.pending}/{view.running}/")
    cell.append(str(view.failed), style="red" if view.failed else "")
    return cell


def _job_last(view: JobView, now: datetime) -> Text:
    if view.last is None:
        return Text("-")
    return Text.assemble(
        status(view.last.status.value), f" {short_ago(view.last.finished_at, now)}"
    )


JOB_COLUMNS: list[Column[JobView]] = [
    Column("job", lambda v, now: literal(v.name, 40, style="bold")),
    Column("next", _job_next, moves=lambda v, now: countdown(v.next_run, now)),
    Column("state", _job_state),
    Column("queue p/r/f", _job_queue),
    Column("period", lambda v, now: literal(v.period or "-")),
    Column(
        "last",
        _job_last,
        moves=lambda v, now: short_ago(v.last.finished_at, now) if v.last else "",
    ),
    Column(
        "progress",
        lambda v, now: progress_cells(v.active, now) if v.active else Text(""),
        moves=lambda v, now: now if v.active else None,  # a run's rate and ETA move each second
    ),
    Column("schedule", lambda v, now: literal(f"{v.description}  [{v.schedule}]", 80)),
]


# tenants: a tenant with its recent backlog (the sparkline)

TenantRow = tuple[TenantView, Sequence[int]]


def sparkline(values: Sequence[int]) -> Text:
    if not values:
        return Text("")
    top = max(values) or 1
    return Text("".join(SPARK[min(7, int(v / top * 7))] for v in values[-20:]), style="cyan")


def ago_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _oldest(row: TenantRow, now: datetime) -> Text:
    age = row[0].oldest_pending_age
    return Text("-" if age is None else ago_seconds(age))


def _failed(row: TenantRow, now: datetime) -> Text:
    failed = row[0].failed_24h
    return Text(str(failed), style="red" if failed else "")


TENANT_COLUMNS: list[Column[TenantRow]] = [
    Column("tenant", lambda r, now: literal(r[0].tenant, 40)),
    Column("health", lambda r, now: health(r[0].status)),
    Column("why", lambda r, now: literal(r[0].reason, 60)),
    Column("pending", lambda r, now: Text(str(r[0].pending))),
    Column("running", lambda r, now: Text(str(r[0].running))),
    Column("failed 24h", _failed),
    Column("oldest", _oldest),
    Column("backlog", lambda r, now: sparkline(r[1])),
    Column("job", lambda r, now: literal(r[0].job)),
]


# runs


def _took(run: Run, now: datetime) -> Text:
    if not run.started_at:
        return Text("-")
    return Text(ago_seconds(((run.finished_at or now) - run.started_at).total_seconds()))


def _counts(run: Run, now: datetime) -> Text:
    counts = f"{run.processed}/{run.failed}/{'-' if run.total is None else run.total}"
    if run.left:
        counts += f" (stopped early, {run.left} left)"
    return Text(counts)


RUN_COLUMNS: list[Column[Run]] = [
    Column("run", lambda r, now: Text(f"#{r.id}")),
    Column("job", lambda r, now: literal(r.job, 30)),
    Column("reason", lambda r, now: Text(r.reason.value)),
    Column("tick", lambda r, now: Text(f"{r.scheduled_for.astimezone():%m-%d %H:%M:%S}")),
    Column("status", lambda r, now: status(r.status.value)),
    Column("took", _took, moves=lambda r, now: None if r.finished_at else now),
    Column("done/failed/total", _counts),
    Column("node", lambda r, now: literal(r.node or "-", 40, style="dim")),
    Column("error", lambda r, now: literal(r.error or "", 80, style="red")),
]


# audit


def _target(command: Command, now: datetime) -> Text:
    target = command.job or ""
    if command.run_id:
        target += f" #{command.run_id}"
    return literal(target, 40)


AUDIT_COLUMNS: list[Column[Command]] = [
    Column("when", lambda c, now: Text(f"{c.created_at.astimezone():%m-%d %H:%M:%S}")),
    Column("who", lambda c, now: literal(c.who, 30)),
    Column("action", lambda c, now: Text(c.action)),
    Column("target", _target),
    Column("why", lambda c, now: literal(c.reason or "", 40)),
    Column("result", lambda c, now: literal(c.result or c.status.value, 80)),
]


# nodes: a live node, whether it is this console's, and how many runs it has going

NodeRow = tuple[Node, bool, int]


def _node_name(row: NodeRow, now: datetime) -> Text:
    node, this, _ = row
    name = literal(node.id, 40, style="bold" if this else "")
    if this:
        name.append(" (this console)", style="dim")
    return name


NODE_COLUMNS: list[Column[NodeRow]] = [
    Column("node", _node_name),
    Column("role", lambda r, now: Text(r[0].role, style="cyan" if r[0].role == "host" else "")),
    Column("host", lambda r, now: literal(r[0].hostname, 30)),
    Column("pid", lambda r, now: Text(str(r[0].pid))),
    Column(
        "heartbeat",
        lambda r, now: Text(short_ago(r[0].heartbeat_at, now)),
        moves=lambda r, now: short_ago(r[0].heartbeat_at, now),
    ),
    Column(
        "up",
        lambda r, now: Text(short_ago(r[0].started_at, now)),
        moves=lambda r, now: short_ago(r[0].started_at, now),
    ),
    Column("running", lambda r, now: Text(str(r[2]))),
    Column("version", lambda r, now: literal(r[0].version, 20)),
]


# batches: the batch checker's tracked batches (its records)

BATCH_COLUMNS: list[Column[Record]] = [
    Column("batch", lambda r, now: literal(r.key, 40, style="bold")),
    Column("provider", lambda r, now: literal(r.data.get("provider"), 12)),
    Column("endpoint", lambda r, now: literal(r.data.get("endpoint") or "-", 30)),
    Column("status", lambda r, now: status(r.status)),
    Column("requests", lambda r, now: Text(requests_text(r.data))),
    Column("on disk", lambda r, now: Text(on_disk_text(r.data))),
    Column("note", lambda r, now: literal(note_text(r.data), 80, style="red")),
]
