"""Operator commands: validated, written as audit rows, applied exactly once.

Commands that only change stored state (pause, resume, set, cancel) are applied by the process
that issues them, through the same claim as any other; commands that execute work (fire, retry,
backfill) are applied by a process hosting a scheduler, which polls for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .engine import Engine, operator
from .errors import CronsoleError, NoScheduler, UsageError
from .events import CommandApplied, JobPaused, JobResumed
from .jobsettings import as_dict
from .models import Command, CommandStatus, Overlap, Run, RunReason, RunStatus, Watermark
from .periods import current_period, step_period
from .registry import Job, require_job
from .scheduling.triggers import fires_between

log = logging.getLogger(__name__)
LOCAL = {"pause", "resume", "pause-all", "resume-all", "set", "cancel", "watermark"}
MAX_BACKFILL = 1000
StartRun = Callable[[Job, Run], None]


@dataclass(frozen=True)
class BackfillTick:
    at: datetime
    existing_run: int | None


class Commands:
    def __init__(self, engine: Engine, start_run: StartRun | None = None) -> None:
        self.engine = engine
        self.start_run = start_run  # set in a process hosting a scheduler

    @property
    def _now(self) -> datetime:
        return self.engine.clock.now()

    def pause(
        self,
        job: str,
        reason: str | None = None,
        duration: float | None = None,
        who: str | None = None,
    ) -> Command:
        require_job(self.engine.jobs, job)
        until = self._now + timedelta(seconds=duration) if duration else None
        args = {"until": until.isoformat() if until else None}
        return self.submit("pause", who, job=job, args=args, reason=reason)

    def resume(self, job: str, who: str | None = None, reason: str | None = None) -> Command:
        require_job(self.engine.jobs, job)
        return self.submit("resume", who, job=job, reason=reason)

    def pause_all(self, reason: str | None = None, who: str | None = None) -> Command:
        return self.submit("pause-all", who, reason=reason)

    def resume_all(self, who: str | None = None, reason: str | None = None) -> Command:
        return self.submit("resume-all", who, reason=reason)

    def set(
        self, job: str, values: dict[str, Any], who: str | None = None, reason: str | None = None
    ) -> Command:
        spec = require_job(self.engine.jobs, job)
        state = self.engine.store.job_state(job)
        spec.settings({**(state.settings if state else {}), **values})  # refuse before writing
        return self.submit("set", who, job=job, args={"values": values}, reason=reason)

    def watermark(
        self, job: str, mark: Watermark | None, who: str | None = None, reason: str | None = None
    ) -> Command:
        """Set a job's watermark to `mark` exactly (backwards too), or reset it with None:
        the job then looks from the start again (for ingest: every file of the period is
        checked against the ledger; files already recorded are not done again)."""
        require_job(self.engine.jobs, job)
        args = {"at": mark.at, "key": mark.key} if mark else {"reset": True}
        return self.submit("watermark", who, job=job, args=args, reason=reason)

    def current_period(self, job: str) -> str:
        """The processing period in force: the setting, or the current month when empty."""
        spec = require_job(self.engine.jobs, job)
        state = self.engine.store.job_state(job)
        period = getattr(spec.settings(state.settings if state else {}), "period", None)
        if period is None:
            raise UsageError(f"{job} has no processing period")
        return str(period) or current_period(self._now, spec.schedule.timezone)

    def step_period(
        self, job: str, months: int, who: str | None = None, reason: str | None = None
    ) -> Command:
        """Move the period by whole months from the value stored now (not a stale view)."""
        return self.set(job, {"period": step_period(self.current_period(job), months)}, who, reason)

    def fire(
        self,
        job: str,
        overrides: dict[str, Any] | None = None,
        who: str | None = None,
        reason: str | None = None,
    ) -> Command:
        spec = require_job(self.engine.jobs, job)
        spec.settings(overrides or {})
        return self.submit("fire", who, job=job, args={"overrides": overrides or {}}, reason=reason)

    def cancel(self, run_id: int, who: str | None = None, reason: str | None = None) -> Command:
        run = self._require_run(run_id)
        return self.submit("cancel", who, job=run.job, run_id=run_id, reason=reason)

    def retry(self, run_id: int, who: str | None = None, reason: str | None = None) -> Command:
        run = self._require_run(run_id)
        require_job(self.engine.jobs, run.job)
        return self.submit("retry", who, job=run.job, run_id=run_id, reason=reason)

    def backfill(
        self,
        job: str,
        start: datetime,
        end: datetime,
        who: str | None = None,
        reason: str | None = None,
    ) -> Command:
        self.backfill_preview(job, start, end)
        return self.submit(
            "backfill",
            who,
            job=job,
            args={"from": start.isoformat(), "to": end.isoformat()},
            reason=reason,
        )

    def backfill_preview(self, job: str, start: datetime, end: datetime) -> list[BackfillTick]:
        """The ticks a backfill would run, each with the run that already covers it, if any."""
        spec = require_job(self.engine.jobs, job)
        if end < start:
            raise UsageError("backfill range ends before it starts")
        if end > self._now:
            raise UsageError(
                f"backfill range ends in the future ({end.isoformat()}); the "
                "scheduler runs those ticks when they come"
            )
        ticks = list(
            fires_between(
                spec.schedule, start - timedelta(microseconds=1), end, cap=MAX_BACKFILL + 1
            )
        )
        if len(ticks) > MAX_BACKFILL:
            raise UsageError(f"backfill range holds more than {MAX_BACKFILL} ticks; narrow it")
        existing = self.engine.store.runs_at(job, ticks)
        return [BackfillTick(t, existing.get(t)) for t in ticks]

    def action(
        self,
        job: str,
        name: str,
        args: list[str],
        who: str | None = None,
        reason: str | None = None,
    ) -> Command:
        """Run a job's operator action here (e.g. `batches submit`) and audit what it did.
        A refused action (bad input) raises as it is and leaves no trace."""
        result = self.engine.action(job, name, args)
        store = self.engine.store
        command = store.add_command(
            name,
            who or operator(),
            self.engine.node_id,
            self._now,
            job=job,
            args={"args": args},
            reason=reason,
        )
        store.claim_command(command.id, self.engine.node_id, self._now)
        return store.finish_command(command.id, CommandStatus.APPLIED, result, self._now)

    def _owners(self) -> frozenset[str]:
        """Nodes that may still be running a run: the live ones and this one."""
        return frozenset({n.id for n in self.engine.live_nodes()} | {self.engine.node_id})

    def _require_run(self, run_id: int) -> Run:
        run = self.engine.store.get_run(run_id)
        if run is None:
            raise UsageError(f"no run #{run_id}")
        return run

    def submit(
        self,
        action: str,
        who: str | None,
        job: str | None = None,
        run_id: int | None = None,
        args: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> Command:
        if action not in LOCAL and self.start_run is None and not self.engine.live_nodes("host"):
            raise NoScheduler(
                f"no scheduler is running to apply {action!r}; start "
                "`cronsole --no-tui` (or use --here to run it in this process)"
            )
        command = self.engine.store.add_command(
            action,
            who or operator(),
            self.engine.node_id,
            self._now,
            job=job,
            run_id=run_id,
            args=args,
            reason=reason,
        )
        if action in LOCAL or self.start_run is not None:
            return self.apply(command)
        return command

    def apply(self, command: Command) -> Command:
        """Claim and apply a pending command; returns it as finished (or as found)."""
        store = self.engine.store
        if not store.claim_command(command.id, self.engine.node_id, self._now):
            return store.get_command(command.id) or command
        try:
            result, run_id = HANDLERS[command.action](self, command)
            status = CommandStatus.APPLIED
        except CronsoleError as exc:
            result, run_id, status = str(exc), None, CommandStatus.FAILED
        except Exception as exc:  # an unexpected failure is recorded, never lost
            log.exception("command #%s (%s) failed", command.id, command.action)
            result, run_id, status = f"{type(exc).__name__}: {exc}", None, CommandStatus.FAILED
        finished = store.finish_command(command.id, status, result, self._now, run_id)
        self.engine.hub.publish(CommandApplied(self._now, finished))
        target = (command.job or "") + (f" #{command.run_id}" if command.run_id else "")
        log.info(  # who did what, in the host's log too (a headless service's journal)
            "command #%s %s %s by %s%s: %s",
            command.id,
            command.action,
            target or "(all)",
            command.who,
            f" ({command.reason})" if command.reason else "",
            result,
        )
        return finished

    def apply_pending(self) -> list[Command]:
        return [self.apply(c) for c in self.engine.store.pending_commands()]

    def expire_pauses(self) -> None:
        for state in self.engine.store.job_states().values():
            if state.paused and state.pause_until and state.pause_until <= self._now:
                if state.name in self.engine.jobs:
                    self.resume(state.name, who="cronsole", reason="pause expired")


Result = tuple[str, int | None]


def _pause(self: Commands, c: Command) -> Result:
    until = datetime.fromisoformat(c.args["until"]) if c.args.get("until") else None
    assert c.job
    self.engine.store.set_paused(c.job, True, self._now, c.reason, until, c.who)
    self.engine.hub.publish(JobPaused(self._now, c.job, c.reason, until))
    return (f"paused {c.job}" + (f" until {until:%Y-%m-%d %H:%M} UTC" if until else "")), None


def _resume(self: Commands, c: Command) -> Result:
    assert c.job
    if not self.engine.store.set_paused(c.job, False, self._now):
        return f"{c.job} was not paused", None
    self.engine.hub.publish(JobResumed(self._now, c.job))
    return f"resumed {c.job}", None


def _pause_all(self: Commands, c: Command) -> Result:
    value = {"by": c.who, "reason": c.reason, "at": self._now.isoformat()}
    self.engine.store.set_control("paused_all", value, self._now)
    return "scheduler paused: no job starts until resumed", None


def _resume_all(self: Commands, c: Command) -> Result:
    was = self.engine.store.get_control("paused_all")
    self.engine.store.set_control("paused_all", None, self._now)
    return ("scheduler resumed" if was else "scheduler was not paused"), None


def _set(self: Commands, c: Command) -> Result:
    assert c.job
    job = require_job(self.engine.jobs, c.job)
    state = self.engine.store.job_state(c.job)
    current = state.settings if state else {}
    merged = {**current, **c.args["values"]}
    before, after = as_dict(job.settings(current)), as_dict(job.settings(merged))
    changed = [k for k in c.args["values"] if before.get(k) != after.get(k)]
    reset = [k for k in changed if k in job.resets_watermark]
    self.engine.store.set_job_settings(
        c.job, merged, self._now, clear_state=("watermark",) if reset else ()
    )
    text = ", ".join(f"{k} → {after[k]}" for k in changed) or "no change"
    return text + (" (watermark reset)" if reset else ""), None


def _watermark(self: Commands, c: Command) -> Result:
    assert c.job
    store = self.engine.store
    was = store.get_watermark(c.job)
    before = f" (was {_mark_text(was)})" if was else " (it had none)"
    if c.args.get("reset"):
        store.delete_state(c.job, "watermark")
        return f"watermark of {c.job} reset{before}", None
    store.set_state(c.job, "watermark", {"at": c.args["at"], "key": c.args["key"]}, self._now)
    return (
        f"watermark of {c.job} set to {_mark_text(Watermark(c.args['at'], c.args['key']))}{before}"
    ), None


def _mark_text(mark: Watermark) -> str:
    return f"{mark.at!r}" + (f" {mark.key!r}" if mark.key else "")


def _cancel(self: Commands, c: Command) -> Result:
    assert c.run_id is not None
    run = self.engine.store.request_cancel(c.run_id, self._now)
    if run is None:
        raise UsageError(f"no run #{c.run_id}")
    if run.status is RunStatus.RUNNING and run.node not in self._owners():
        store = self.engine.store  # no live process runs it: nobody else would close it
        store.finish_run(
            run.id, RunStatus.CANCELLED, self._now, "cancelled: no live process owned it"
        )
        store.release_run_claims(run.id, self._now, "released: its run was cancelled")
        return f"run #{run.id} cancelled (no live process owned it)", run.id
    if run.status is RunStatus.RUNNING:
        self.engine.runner.cancel(run.id)
        return f"cancel requested for run #{run.id}", run.id
    if run.status is RunStatus.CANCELLED:
        return f"run #{run.id} cancelled", run.id
    return f"run #{run.id} already finished ({run.status})", run.id


def _start(
    self: Commands,
    job: Job,
    reason: RunReason,
    overrides: dict[str, Any],
    prepare: Callable[[Run], None] | None = None,
) -> Result:
    """Insert the run (queued behind one in flight unless the job allows overlap), let
    `prepare` set it up, then start it."""
    assert self.start_run is not None
    overlap = Overlap.ALLOW if job.policy.overlap is Overlap.ALLOW else Overlap.QUEUE
    run = self.engine.store.insert_run(
        job.name, self._now, reason, self.engine.node_id, overlap, self._now, overrides
    )
    if run is None:
        raise UsageError("another run was created in the same instant; fire again")
    if prepare is not None and run.status in (RunStatus.RUNNING, RunStatus.QUEUED):
        prepare(run)
    if run.status is RunStatus.RUNNING:
        self.start_run(job, run)
        return f"run #{run.id} started", run.id
    if run.status is RunStatus.QUEUED:
        return f"queued as run #{run.id}: a run of {job.name} is in flight", run.id
    return f"not started: {run.error}", run.id


def _fire(self: Commands, c: Command) -> Result:
    assert c.job
    return _start(
        self, require_job(self.engine.jobs, c.job), RunReason.MANUAL, c.args.get("overrides", {})
    )


def retry_key(run_id: int) -> str:
    """The control key linking a retry run to the run whose failures it retries."""
    return f"retry_of:{run_id}"


def _retry(self: Commands, c: Command) -> Result:
    """Exactly the items that failed in run #N and were not done since, in a run of their
    own (reason retry), their attempts kept; nothing to do when there are none."""
    assert c.job and c.run_id is not None
    store = self.engine.store
    if not store.failed_of_run(c.run_id):
        return f"nothing to retry: run #{c.run_id} has no failed items left", None
    reserved: list[int] = []

    def reserve(run: Run) -> None:
        assert c.run_id is not None
        reserved.append(
            store.retry_items(c.job or "", self._now, run_id=c.run_id, reserve_for=run.id)
        )
        store.set_control(retry_key(run.id), c.run_id, self._now)

    text, run_id = _start(self, require_job(self.engine.jobs, c.job), RunReason.RETRY, {}, reserve)
    count = reserved[0] if reserved else 0
    return f"{count} failed items of run #{c.run_id} to retry; {text}", run_id


def _backfill(self: Commands, c: Command) -> Result:
    assert c.job
    start, end = datetime.fromisoformat(c.args["from"]), datetime.fromisoformat(c.args["to"])
    ticks = self.backfill_preview(c.job, start, end)
    created = [
        run
        for t in ticks
        if t.existing_run is None
        and (run := self.engine.store.queue_run(c.job, t.at, RunReason.BACKFILL, self._now))
    ]
    return (
        f"{len(created)} backfill runs queued, {len(ticks) - len(created)} ticks already had runs"
    ), (created[0].id if created else None)


HANDLERS: dict[str, Callable[[Commands, Command], Result]] = {
    "pause": _pause,
    "resume": _resume,
    "pause-all": _pause_all,
    "resume-all": _resume_all,
    "set": _set,
    "cancel": _cancel,
    "fire": _fire,
    "retry": _retry,
    "backfill": _backfill,
    "watermark": _watermark,
}
