"""What a console shows, read in one bounded pass: O(jobs + tenants + a page), never O(history)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .commands import retry_key
from .durations import format_duration
from .engine import Engine
from .errors import CronsoleError
from .health import Health, health_key, tenant_health
from .jobsettings import as_dict, field_types
from .models import Attempt, Command, Item, ItemStatus, LogEntry, Node, Run, RunStatus, TenantCounts
from .periods import current_period
from .registry import Job
from .scheduling.once import once_done
from .scheduling.triggers import Fire, next_fire, next_fire_times
from .store import Store

STUCK_SKIPS = 3  # ticks skipped behind one run before its job counts as stuck
STUCK_MARGIN = timedelta(seconds=30)  # past a deadline by this much: nobody is closing it


class JobState(StrEnum):
    """A job as every shell shows it, most pressing first."""

    PAUSED = "paused"
    HELD = "held"  # the whole scheduler is paused
    STUCK = "stuck"
    RUNNING = "running"
    DONE = "done"  # a one-off whose tick has run
    IDLE = "idle"


@dataclass(frozen=True)
class JobView:
    name: str
    schedule: str
    description: str
    timezone: str
    next_run: datetime | None
    dst_note: str | None
    state: JobState
    pause_reason: str | None
    pause_until: datetime | None
    pending: int
    running: int
    failed: int
    period: str | None
    last: Run | None
    active: Run | None
    settings: dict[str, Any] = field(default_factory=dict)  # in force: code, config, operator


@dataclass(frozen=True)
class TenantView:
    job: str
    tenant: str
    pending: int
    running: int
    failed_24h: int
    oldest_pending_age: float | None
    status: Health
    failure_rate: float | None = None  # of the last day's outcomes
    reason: str = ""  # the signal that set the grade


@dataclass(frozen=True)
class Stuck:
    """A run that holds its job and that nothing is closing: the job makes no progress."""

    job: str
    run_id: int
    why: str


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    jobs: list[JobView]
    tenants: list[TenantView]
    active: list[Run]
    runs: list[Run]
    logs: list[LogEntry]
    commands: list[Command]
    nodes: list[Node]
    paused_all: dict[str, Any] | None
    health: Health
    last_host_beat: datetime | None = None  # the newest heartbeat of a host, live or not
    last_host_stopped: datetime | None = None  # when that host stopped cleanly, if it did
    stuck: list[Stuck] = field(default_factory=list)

    @property
    def scheduler_up(self) -> bool:
        """A live node hosts the scheduler (what `cronsole status` calls running)."""
        return any(n.role == "host" for n in self.nodes)


def take_snapshot(
    engine: Engine,
    after_log: int = 0,
    runs: int = 200,
    commands: int = 100,
    logs: int = 500,
    store: Store | None = None,
) -> Snapshot:
    """Everything the console shows, read at one moment; `runs` and `commands` bound the two
    history lists (0 skips reading them). `store` reads in the engine's place (a console's
    KeptReads)."""
    store, now = store or engine.store, engine.clock.now()
    registered, nodes, every_active, active = _in_flight(engine, store)
    last_host = max(
        (n for n in registered if n.role == "host"), key=lambda n: n.heartbeat_at, default=None
    )
    if not any(n.role == "host" for n in nodes):  # none live: when did the last one go?
        stopped = store.last_stopped_host()
        if stopped and (last_host is None or stopped.heartbeat_at > last_host.heartbeat_at):
            last_host = stopped
    paused_all = store.get_control("paused_all")
    counts = store.tenant_counts()  # read once: queues per job and the tenants pane
    tenants = _tenants(store, now, counts)
    stuck = stuck_runs(engine, now, every_active, registered, store)
    grade = Health.CRIT if stuck else Health.worst(t.status for t in tenants)
    return Snapshot(
        at=now,
        jobs=_jobs(engine, store, now, active, paused_all, counts, stuck),
        tenants=tenants,
        health=grade,
        stuck=stuck,
        active=active,
        runs=store.list_runs(limit=runs) if runs else [],
        logs=store.recent_logs(after_id=after_log, limit=logs),
        commands=store.list_commands(limit=commands) if commands else [],
        nodes=nodes,
        paused_all=paused_all,
        last_host_beat=last_host.heartbeat_at if last_host else None,
        last_host_stopped=last_host.stopped_at if last_host else None,
    )


def stuck_runs(
    engine: Engine,
    now: datetime,
    active: list[Run],
    registered: list[Node],
    store: Store | None = None,
) -> list[Stuck]:
    """Runs that hold their job while nothing closes them: ticks keep being skipped behind
    them, they are well past their timeout, or their node has stopped writing (a full disk,
    say) for longer than recovery would take to close them."""
    beats = {n.id: n.heartbeat_at for n in registered}
    silent_since = now - timedelta(seconds=engine.settings.node_timeout) - STUCK_MARGIN
    found = []
    for run in active:
        job = engine.jobs.get(run.job)
        if run.status is not RunStatus.RUNNING or job is None:
            continue
        beat = beats.get(run.node or "")
        why = None
        if beat is None or beat < silent_since:
            silent = format_duration((now - beat).total_seconds()) if beat else "ever"
            why = f"run #{run.id}: its node {run.node} has not written for {silent}"
        elif (
            job.policy.timeout
            and run.started_at
            and now - run.started_at > timedelta(seconds=job.policy.timeout) + STUCK_MARGIN
        ):
            why = (
                f"run #{run.id} is running past its timeout ({format_duration(job.policy.timeout)})"
            )
        elif (store or engine.store).skipped_after(run.job, run.id, STUCK_SKIPS) >= STUCK_SKIPS:
            why = f"run #{run.id} has had {STUCK_SKIPS} or more ticks skipped behind it"
        if why:
            found.append(Stuck(run.job, run.id, why))
    return found


def job_views(engine: Engine, name: str | None = None) -> list[JobView]:
    """Every job as the shells show it (or the one named), without the rest of a snapshot."""
    now, store = engine.clock.now(), engine.store
    registered, _, every_active, active = _in_flight(engine, store)
    stuck = stuck_runs(engine, now, every_active, registered)
    counts = store.tenant_counts(job=name)
    views = _jobs(engine, store, now, active, store.get_control("paused_all"), counts, stuck)
    return [v for v in views if name is None or v.name == name]


def _in_flight(engine: Engine, store: Store) -> tuple[list[Node], list[Node], list[Run], list[Run]]:
    """The registered nodes, those alive, every run in flight, and those whose node lives
    (shown so); each node's life is probed once."""
    registered = store.nodes()
    nodes = [n for n in registered if engine.lives(n)]
    live = {n.id for n in nodes}
    every_active = store.active_runs()
    dead = {n.id for n in registered} - live
    return registered, nodes, every_active, [r for r in every_active if r.node not in dead]


def _jobs(
    engine: Engine,
    store: Store,
    now: datetime,
    active: list[Run],
    paused_all: dict[str, Any] | None,
    tenant_counts: list[TenantCounts],
    stuck: Sequence[Stuck] = (),
) -> list[JobView]:
    states = store.job_states()
    last = store.last_runs()
    counts: dict[str, list[int]] = {}
    for c in tenant_counts:
        total = counts.setdefault(c.job, [0, 0, 0])
        total[0] += c.pending
        total[1] += c.claimed
        total[2] += c.failed + c.dead
    running = {r.job: r for r in active if r.status is RunStatus.RUNNING}
    held = {s.job for s in stuck}
    views = []
    for job in engine.jobs.values():
        state = states.get(job.name)
        paused = bool(state and state.paused)
        overrides = state.settings if state else {}
        settings = _settings(job, overrides)
        period = _period(job, overrides, now)
        fire = next_fire(job.schedule, now)
        queue = counts.get(job.name, [0, 0, 0])
        views.append(
            JobView(
                name=job.name,
                schedule=job.schedule.text,
                description=job.schedule_text,
                timezone=job.schedule.timezone,
                next_run=fire.at if fire and not paused and not paused_all else None,
                dst_note=fire.note if fire else None,
                state=_state(
                    job, paused, paused_all, job.name in held, job.name in running, fire, store
                ),
                pause_reason=state.pause_reason if state else None,
                pause_until=state.pause_until if state else None,
                pending=queue[0],
                running=queue[1],
                failed=queue[2],
                period=period,
                last=last.get(job.name),
                active=running.get(job.name),
                settings=settings,
            )
        )
    return views


def _state(
    job: Job,
    paused: bool,
    paused_all: object,
    stuck: bool,
    running: bool,
    fire: Fire | None,
    store: Store,
) -> JobState:
    if paused:
        return JobState.PAUSED
    if paused_all:
        return JobState.HELD
    if stuck:
        return JobState.STUCK
    if running:
        return JobState.RUNNING
    if fire is None and once_done(store, job):
        return JobState.DONE
    return JobState.IDLE


def _settings(job: Job, overrides: dict[str, Any]) -> dict[str, Any]:
    """The settings in force, typed; as stored when they no longer check (a changed config)."""
    try:
        return as_dict(job.settings(overrides))
    except CronsoleError:
        return {**job.config_settings, **overrides}


def _period(job: Job, overrides: dict[str, Any], now: datetime) -> str | None:
    """The processing period in force: the setting, or the current month when it is empty."""
    if "period" not in field_types(job.settings_cls):
        return None
    try:
        period = getattr(job.settings(overrides), "period", None)
    except CronsoleError:
        return None
    if period is None:
        return None
    return period or current_period(now, job.schedule.timezone)


def _tenants(store: Store, now: datetime, counts: list[TenantCounts]) -> list[TenantView]:
    """The stored health report of each job with tenants; when none is stored yet, graded
    here with the defaults on backlog and age alone: the last day's failure rate reads every
    outcome of that day, too much to read every second (the health job stores it)."""
    found: list[TenantView] = []
    with_tenants = {c.job for c in counts if c.tenant}
    for job in sorted(with_tenants):
        report = store.get_control(health_key(job))
        if report is None:
            rows = tenant_health(store, job, now, outcomes=False)
            report = {
                "computed_at": now.isoformat(),
                "tenants": [{**vars(r), "status": r.status.value} for r in rows],
            }
        since = (now - datetime.fromisoformat(report["computed_at"])).total_seconds()
        found += [
            TenantView(
                job,
                t["tenant"],
                t["pending"],
                t["running"],
                t["failed_24h"],
                None if t["oldest_pending_age"] is None else t["oldest_pending_age"] + since,
                Health(t["status"]),
                t.get("failure_rate"),
                t.get("reason", ""),
            )
            for t in report["tenants"]
        ]
    return sorted(found, key=lambda t: (-t.status.rank, -t.pending, t.tenant))


@dataclass(frozen=True)
class RunDetail:
    run: Run
    failed: list[Item]
    items: list[Item]
    logs: list[LogEntry]
    archived: bool = False  # retention moved the run's row to the archive
    retry_of: int | None = None  # the run whose failed items this retry run retried


def run_detail(engine: Engine, run_id: int, limit: int = 300) -> RunDetail | None:
    """A run with its ledger (failed items first) and its log, each page bounded; a run that
    retention archived is read back from the archive, with its archived (done) items."""
    store = engine.store
    run, archived = store.get_run(run_id), False
    if run is None:
        run, archived = store.archived_run(run_id), True
    if run is None:
        return None
    # the run's own history: its failures, even after a later run took the item again; the
    # items it completed (a done item keeps its run) and those it still holds
    tried = [_as_item(a) for a in store.run_attempts(run_id, limit)]
    seen = {i.id for i in tried}
    items = tried + [
        i
        for status in (ItemStatus.DONE, ItemStatus.CLAIMED)
        for i in store.list_items(run_id=run_id, status=status, limit=limit)
        if i.id not in seen
    ]
    if len(items) < limit:
        items += [i for i in store.archived_items(run_id, limit - len(items)) if i.id not in seen]
    failed = [i for i in items if i.status in (ItemStatus.FAILED, ItemStatus.DEAD)]
    return RunDetail(
        run,
        failed,
        items,
        store.recent_logs(run_id=run_id, limit=limit),
        archived,
        store.get_control(retry_key(run_id)),
    )


def _as_item(attempt: Attempt) -> Item:
    """A try of an item, shown as the item stood after it."""
    return Item(
        id=attempt.item_id,
        job=attempt.job,
        key=attempt.key,
        status=attempt.outcome,
        tenant=attempt.tenant,
        attempts=attempt.attempt,
        run_id=attempt.run_id,
        error=attempt.error,
        updated_at=attempt.at,
    )


@dataclass(frozen=True)
class JobDetail:
    view: JobView
    fires: list[Fire]
    policy: dict[str, Any]
    state: dict[str, Any]
    runs: list[Run]
    commands: list[Command]


def job_detail(engine: Engine, name: str) -> JobDetail | None:
    job = engine.jobs.get(name)
    if job is None:
        return None
    now = engine.clock.now()
    [view] = job_views(engine, name)
    policy = {**job.policy.shown(), "module": job.module}
    return JobDetail(
        view,
        next_fire_times(job.schedule, now, 5),
        policy,
        engine.store.all_state(name),
        engine.store.list_runs(job=name, limit=50),
        engine.store.list_commands(job=name, limit=50),
    )


@dataclass(frozen=True)
class ItemDetail:
    item: Item
    attempts: list[Attempt]  # its failed tries, oldest first, whichever run made them
    run: Run | None  # the run that holds it, did it, or tried it last


def item_detail(engine: Engine, job: str, key: str) -> ItemDetail | None:
    item = engine.store.get_item(job, key)
    if item is None:
        return None
    run = engine.store.get_run(item.run_id) if item.run_id is not None else None
    return ItemDetail(item, engine.store.item_attempts(item.id), run)


@dataclass(frozen=True)
class TenantDetail:
    counts: TenantCounts
    items: dict[ItemStatus, list[Item]]  # pending, claimed (running), failed and dead: a page each
    runs: list[Run]  # the runs that hold, did or last tried its items shown, newest first


def tenant_detail(engine: Engine, job: str, tenant: str, limit: int = 50) -> TenantDetail | None:
    store = engine.store
    counts = next((c for c in store.tenant_counts(job) if c.tenant == tenant), None)
    if counts is None:
        return None
    shown = (ItemStatus.PENDING, ItemStatus.CLAIMED, ItemStatus.FAILED, ItemStatus.DEAD)
    items = {s: store.list_items(job, status=s, limit=limit, tenant=tenant) for s in shown}
    done = store.list_items(job, status=ItemStatus.DONE, limit=limit, tenant=tenant)
    ids = {i.run_id for page in [*items.values(), done] for i in page if i.run_id is not None}
    runs = [run for run in map(store.get_run, sorted(ids, reverse=True)[:20]) if run is not None]
    return TenantDetail(counts, items, runs)
