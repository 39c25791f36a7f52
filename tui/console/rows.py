"""The panes' columns: each one's header next to the cell it shows, built from escaped data.

A cell that changes as time passes (a countdown, an age, a live rate) says so with `moves`:
what, besides the row's own data, it depends on. The console rebuilds a cached row when any
column's `moves` changes, so a time-dependent column cannot silently go stale. A column whose
text sorts wrongly (ages, countdowns) gives its sort key with `order`, and `fit` says how it
gives way when the pane is narrow.
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

from .text import countdown, health, literal, short_ago, status, tone
from .widgets.progress import progress_cells
from .widgets.tables import Fit

T = TypeVar("T")
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Column(Generic[T]):
    name: str
    cell: Callable[[T, datetime], Text]
    moves: Callable[[T, datetime], object] | None = None  # None: the row's data alone
    fit: Fit = Fit()
    order: Callable[[T, datetime], object] | None = None  # None: by its text, numbers as numbers


def names(columns: Sequence[Column[T]]) -> list[str]:
    return [c.name for c in columns]


def fits(columns: Sequence[Column[T]]) -> list[Fit]:
    return [c.fit for c in columns]


def sort_keys(columns: Sequence[Column[T]], value: T, now: datetime) -> list[object]:
    """One sort key per column: its `order`, or None (the table sorts by the cell's text)."""
    return [c.order(value, now) if c.order else None for c in columns]


def cells(columns: Sequence[Column[T]], value: T, now: datetime) -> list[Text]:
    return [c.cell(value, now) for c in columns]


def moving(columns: Sequence[Column[T]], value: T, now: datetime) -> tuple[object, ...]:
    """What the time-dependent cells of this row depend on at `now` (a row cache's key)."""
    return tuple(c.moves(value, now) for c in columns if c.moves is not None)


# jobs

STATE_TONE = {
    JobState.PAUSED: "alert",
    JobState.RUNNING: "busy",
    JobState.HELD: "warn",
    JobState.STUCK: "bad",
}


def _job_next(view: JobView, now: datetime) -> Text:
    cell = Text(countdown(view.next_run, now))
    if view.dst_note:
        cell.append(" DST", style=tone("note"))
    return cell


def _job_state(view: JobView, now: datetime) -> Text:
    kind = STATE_TONE.get(view.state)
    cell = Text(view.state.value, style=tone(kind) if kind else "")
    if view.state is JobState.PAUSED:
        until = f" until {view.pause_until.astimezone():%H:%M}" if view.pause_until else ""
        cell.append(literal(f": {view.pause_reason or 'no reason'}{until}", 40))
    return cell


def _job_queue(view: JobView, now: datetime) -> Text:
    cell = Text(f"{view.pending}/{view.running}/")
    cell.append(str(view.failed), style=tone("error") if view.failed else "")
    return cell


def _job_last(view: JobView, now: datetime) -> Text:
    if view.last is None:
        return Text("-")
    return Text.assemble(
        status(view.last.status.value), f" {short_ago(view.last.finished_at, now)}"
    )


def moment(at: datetime | None) -> tuple[bool, float]:
    """A sort key for a time that may be missing (missing sorts last)."""
    return (at is None, at.timestamp() if at else 0.0)


JOB_COLUMNS: list[Column[JobView]] = [
    Column("job", lambda v, now: literal(v.name, 40, style="bold"), fit=Fit(1, 14)),
    Column(
        "next",
        _job_next,
        moves=lambda v, now: countdown(v.next_run, now),
        order=lambda v, now: moment(v.next_run),
    ),
    Column("state", _job_state, fit=Fit(2, 12)),
    Column(
        "queue p/r/f",
        _job_queue,
        fit=Fit(2, 7),
        order=lambda v, now: (-v.failed, -v.pending, -v.running),
    ),
    Column("period", lambda v, now: literal(v.period or "-")),
    Column(
        "last",
        _job_last,
        moves=lambda v, now: short_ago(v.last.finished_at, now) if v.last else "",
        order=lambda v, now: moment(v.last.finished_at if v.last else None),
    ),
    Column(
        "progress",
        lambda v, now: progress_cells(v.active, now) if v.active else Text(""),
        moves=lambda v, now: now if v.active else None,  # a run's rate and ETA move each second
        fit=Fit(4, 10),
    ),
    Column(
        "schedule", lambda v, now: literal(f"{v.description}  [{v.schedule}]", 80), fit=Fit(5, 10)
    ),
]


# tenants: a tenant with its recent backlog (the sparkline)

# a tenant, its recent backlog (oldest first) and the lowest and highest backlog in the pane
TenantRow = tuple[TenantView, Sequence[int], tuple[int, int]]
POINTS = 8  # the newest points of the backlog drawn


def sparkline(values: Sequence[int], low: int, high: int) -> Text:
    """The newest points, scaled to the pane's range: a backlog that stays at 1 while another
    tenant has 40 draws low, not as full bars; when every value is the same, all are low."""
    span = high - low
    return Text(
        "".join(SPARK[round((v - low) / span * 7) if span else 0] for v in values[-POINTS:]),
        style=tone("busy"),
    )


def ago_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _oldest(row: TenantRow, now: datetime) -> Text:
    age = row[0].oldest_pending_age
    return Text("-" if age is None else ago_seconds(age))


def _failed(row: TenantRow, now: datetime) -> Text:
    failed = row[0].failed_24h
    return Text(str(failed), style=tone("error") if failed else "")


TENANT_COLUMNS: list[Column[TenantRow]] = [
    Column("tenant", lambda r, now: literal(r[0].tenant, 40), fit=Fit(1, 12)),
    Column("health", lambda r, now: health(r[0].status), order=lambda r, now: -r[0].status.rank),
    Column("why", lambda r, now: literal(r[0].reason, 60), fit=Fit(4, 10)),
    Column("pending", lambda r, now: Text(str(r[0].pending))),
    Column("running", lambda r, now: Text(str(r[0].running))),
    Column("failed 24h", _failed),
    Column("oldest", _oldest, order=lambda r, now: -(r[0].oldest_pending_age or -1)),
    Column("backlog", lambda r, now: sparkline(r[1], *r[2])),
    Column("job", lambda r, now: literal(r[0].job), fit=Fit(5, 8)),
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
    Column("job", lambda r, now: literal(r.job, 30), fit=Fit(2, 12)),
    Column("reason", lambda r, now: Text(r.reason.value)),
    Column("tick", lambda r, now: Text(f"{r.scheduled_for.astimezone():%m-%d %H:%M:%S}")),
    Column("status", lambda r, now: status(r.status.value)),
    Column(
        "took",
        _took,
        moves=lambda r, now: None if r.finished_at else now,
        order=lambda r, now: ((r.finished_at or now) - (r.started_at or now)).total_seconds(),
    ),
    Column("done/failed/total", _counts, fit=Fit(2, 9)),
    Column("node", lambda r, now: literal(r.node or "-", 40, style="dim"), fit=Fit(4, 6)),
    Column("error", lambda r, now: literal(r.error or "", 80, style=tone("error")), fit=Fit(5, 10)),
]


# audit


def _target(command: Command, now: datetime) -> Text:
    target = command.job or ""
    if command.run_id:
        target += f" #{command.run_id}"
    return literal(target, 40)


AUDIT_COLUMNS: list[Column[Command]] = [
    Column("when", lambda c, now: Text(f"{c.created_at.astimezone():%m-%d %H:%M:%S}")),
    Column("who", lambda c, now: literal(c.who, 30), fit=Fit(2, 8)),
    Column("action", lambda c, now: Text(c.action)),
    Column("target", _target, fit=Fit(2, 10)),
    Column("why", lambda c, now: literal(c.reason or "", 40), fit=Fit(4, 8)),
    Column("result", lambda c, now: literal(c.result or c.status.value, 80), fit=Fit(5, 10)),
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
    Column("node", _node_name, fit=Fit(1, 14)),
    Column(
        "role", lambda r, now: Text(r[0].role, style=tone("busy") if r[0].role == "host" else "")
    ),
    Column("host", lambda r, now: literal(r[0].hostname, 30), fit=Fit(2, 8)),
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
    Column("version", lambda r, now: literal(r[0].version, 20), fit=Fit(4, 7)),
]


# batches: the batch checker's tracked batches (its records)

BATCH_COLUMNS: list[Column[Record]] = [
    Column("batch", lambda r, now: literal(r.key, 40, style="bold"), fit=Fit(1, 14)),
    Column("provider", lambda r, now: literal(r.data.get("provider"), 12)),
    Column("endpoint", lambda r, now: literal(r.data.get("endpoint") or "-", 30), fit=Fit(2, 8)),
    Column("status", lambda r, now: status(r.status)),
    Column("requests", lambda r, now: Text(requests_text(r.data))),
    Column("on disk", lambda r, now: Text(on_disk_text(r.data))),
    Column(
        "note", lambda r, now: literal(note_text(r.data), 80, style=tone("error")), fit=Fit(5, 10)
    ),
]
