"""Executing runs: building the context, isolating failures, recording the outcome."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clock import Clock
from .context import JobContext, error_text, traceback_text
from .durations import format_duration
from .errors import CronsoleError, JobFailed, StoreWriteFailed
from .events import EventHub, RunFinished, RunStarted
from .models import Run, RunReason, RunStatus
from .registry import Job
from .retry import RANDOM, backoff
from .store import Store

log = logging.getLogger(__name__)
QUIET = {RunStatus.SUCCEEDED, RunStatus.STOPPED_EARLY}
JITTERED = {RunReason.SCHEDULE, RunReason.CATCH_UP}  # the reasons a start may be delayed
CANCEL_GRACE = 5.0  # seconds a cancelled run has to stop before it is closed for it
RETRY_SECONDS = 2.0  # an outcome the store refused is tried again this often (the heartbeat)


class Workers:
    """Daemon threads that run runs. An idle one takes the next run (its database connection
    already open), a new one starts when all are busy, and one idle for a minute ends. Starting
    a thread and a connection per run made 100 runs due together start one after another."""

    IDLE_SECONDS = 60.0

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a task that no submit has counted on yet

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            reuse = self._idle > 0
            if reuse:
                self._idle -= 1
        self._tasks.put((fn, args))
        if not reuse:
            threading.Thread(target=self._work, name="runner-idle", daemon=True).start()

    def prestart(self, count: int, warm: Callable[[], None]) -> None:
        """Start `count` idle workers now, each calling `warm` first (to open its database
        connection), so the first runs of many jobs due together find them ready."""
        with self._lock:
            self._idle += count
        for _ in range(count):
            threading.Thread(
                target=self._work, args=(warm,), name="runner-idle", daemon=True
            ).start()

    def _work(self, warm: Callable[[], None] | None = None) -> None:
        if warm is not None:
            try:
                warm()
            except Exception:  # the first run on this worker meets the same error and says it
                log.debug("a worker could not open its connection", exc_info=True)
        while True:
            try:
                fn, args = self._tasks.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody counts on this worker: it may end
                        self._idle -= 1
                        return
                continue  # a submit counted on an idle worker just now: stay for its task
            try:
                fn(*args)
            except BaseException:  # _execute records every failure; never lose a worker
                log.exception("runner worker failed")
            with self._lock:
                self._idle += 1


@dataclass
class ActiveRun:
    run: Run
    cancel: threading.Event
    interrupted: bool = False
    closed: bool = False  # closed for it (timeout, a cancel it ignored) while it still ran
    deadline: threading.Timer | None = None


class Runner:
    """Runs jobs in threads of their own and keeps track of what is in flight."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        hub: EventHub,
        node: str,
        base_dir: Path,
        on_finished: Callable[[Run], None] | None = None,
    ) -> None:
        self.store, self.clock, self.hub, self.node = store, clock, hub, node
        self.base_dir = base_dir
        self.lapses: Callable[[], int] = lambda: 0  # the engine's, once it beats
        self.on_finished = on_finished
        # start jitter and item backoff draw from it (tests give a seeded one)
        self.rng: random.Random = RANDOM
        self._active: dict[int, ActiveRun] = {}
        # Re-entrant: a second SIGTERM's handler asks for the active runs on the main thread,
        # which may already hold this lock.
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._workers = Workers()
        self._follow_ups = 0  # starts a finished run asked for (the host's queued run) not yet made
        # outcomes the store refused: run id -> (job, the write, whether to log the outcome)
        self._unstored: dict[int, tuple[str, Callable[[], None], bool]] = {}

    def prestart(self, count: int) -> None:
        """Workers for `count` runs at once, each with its store connection open."""
        self._workers.prestart(count, self.store.connect)

    def start(self, job: Job, run: Run) -> None:
        """Run in a worker thread; `wait_idle` waits for it."""
        self._workers.submit(self._execute_named, job, self._track(run))

    def _execute_named(self, job: Job, active: ActiveRun) -> None:
        threading.current_thread().name = f"run-{active.run.id}-{job.name}"
        try:
            self._execute(job, active)
        finally:
            threading.current_thread().name = "runner-idle"

    def execute(self, job: Job, run: Run) -> Run:
        """Run in this thread and return the finished run."""
        return self._execute(job, self._track(run))

    def _track(self, run: Run) -> ActiveRun:
        active = ActiveRun(run, threading.Event())
        with self._lock:
            self._active[run.id] = active
        return active

    def active(self) -> list[Run]:
        with self._lock:
            return [a.run for a in self._active.values()]

    def cancel(self, run_id: int, interrupt: bool = False) -> bool:
        """Ask the run to stop. A cancelled one (not one interrupted by a stop, which has the
        grace period) that has not stopped within CANCEL_GRACE is closed for it."""
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return False
        active.interrupted = active.interrupted or interrupt
        active.cancel.set()
        if not active.interrupted and active.deadline is None:
            self._arm(
                active,
                CANCEL_GRACE,
                RunStatus.CANCELLED,
                f"cancelled: did not stop within {CANCEL_GRACE:g}s",
            )
        return True

    def _arm(self, active: ActiveRun, seconds: float, status: RunStatus, why: str) -> None:
        if active.deadline is not None:
            active.deadline.cancel()
        active.deadline = threading.Timer(seconds, self._close_for, (active, status, why))
        active.deadline.daemon = True
        active.deadline.start()

    def _close_for(self, active: ActiveRun, status: RunStatus, why: str) -> None:
        """Close a run whose thread does not end: its claims are released (the attempt counts)
        and the store refuses whatever that thread reports later (the claims are not its)."""
        run = active.run
        with self._idle:
            if self._active.get(run.id) is not active:
                return  # it ended meanwhile
            active.closed = True
            self._active.pop(run.id)
            self._idle.notify_all()
        active.cancel.set()

        def close() -> None:
            now = self.clock.now()
            with self.store.batch():
                self.store.release_run_claims(run.id, now, f"released: {why}")
                self.store.finish_run(run.id, status, now, why)

        log.warning(
            "run #%s of %s %s; its claims are released, and what it reports later is refused",
            run.id,
            run.job,
            why,
        )
        self._store_outcome(run, run.job, close, announce=False)

    def interrupt_all(self) -> None:
        for run in self.active():
            self.cancel(run.id, interrupt=True)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is in flight and no follow-up start is pending."""
        with self._idle:
            return self._idle.wait_for(
                lambda: not self._active and not self._follow_ups, timeout=timeout
            )

    def follow_up(self) -> Callable[[], None]:
        """Count a start a finished run asked for (made on another thread) as in flight until
        the returned function is called; call it once, whether or not a run started."""
        with self._idle:
            self._follow_ups += 1

        def finished() -> None:
            with self._idle:
                self._follow_ups -= 1
                self._idle.notify_all()

        return finished

    def _execute(self, job: Job, active: ActiveRun) -> Run:
        run = active.run
        if job.policy.timeout:
            self._arm(
                active,
                job.policy.timeout,
                RunStatus.TIMED_OUT,
                f"timed out after {format_duration(job.policy.timeout)}",
            )
        try:
            return self._close(job, active)
        finally:  # whatever happened, this run is no longer in flight here
            if active.deadline is not None:
                active.deadline.cancel()
            with self._idle:
                if self._active.get(run.id) is active:
                    self._active.pop(run.id)
                self._idle.notify_all()

    def _close(self, job: Job, active: ActiveRun) -> Run:
        """Run the job and record its outcome; a failure of either is the run's failure."""
        run = active.run
        try:
            status, error, summary, left = self._call(job, active)
        except BaseException as exc:  # the run must be closed whatever happened
            status, error, summary, left = RunStatus.FAILED, error_text(exc), {}, 0
        if active.closed:  # closed for it already, and said so then
            log.info("run #%s of %s returned after it was closed for it", run.id, job.name)
            return self.store.get_run(run.id) or run
        return self._store_outcome(
            run, job.name, lambda: self._finish(run, job, status, error, summary, left)
        )

    def _store_outcome(
        self, run: Run, job: str, write: Callable[[], None], announce: bool = True
    ) -> Run:
        """Store a run's outcome, then say it. One the store keeps refusing (a full disk) is
        kept and tried again on every heartbeat while this process lives (`retry_unstored`):
        until then the run stays `running` in the store, as it is."""
        if not self._stored(write):
            log.error(
                "run #%s of %s: its outcome could not be stored; trying again every "
                "%gs while this process runs",
                run.id,
                job,
                RETRY_SECONDS,
            )
            with self._lock:
                self._unstored[run.id] = (job, write, announce)
            return run
        return self._stored_now(run, job, announce)

    def _stored_now(self, run: Run, job: str, announce: bool) -> Run:
        final = self.store.get_run(run.id) or run
        if announce:
            self._log_outcome(job, final)
        self.hub.publish(RunFinished(self.clock.now(), final))
        if self.on_finished:
            self.on_finished(final)
        return final

    def unstored(self) -> list[int]:
        """Runs whose outcome the store refused so far, oldest first."""
        with self._lock:
            return sorted(self._unstored)

    def retry_unstored(self) -> None:
        """Try each kept outcome once more (the engine calls this with every heartbeat)."""
        with self._lock:
            kept = sorted(self._unstored.items())
        for run_id, (job, write, announce) in kept:
            try:
                write()
            except StoreWriteFailed:
                continue
            with self._lock:
                self._unstored.pop(run_id, None)
            log.warning("run #%s of %s: its outcome is stored now", run_id, job)
            run = self.store.get_run(run_id)
            if run is not None:
                self._stored_now(run, job, announce)

    def _finish(
        self,
        run: Run,
        job: Job,
        status: RunStatus,
        error: str | None,
        summary: dict[str, Any],
        left: int,
    ) -> None:
        now = self.clock.now()
        with self.store.batch():  # one transaction: tried again whole when it fails
            released = self.store.release_run_claims(
                run.id, now, "released: the run ended with its outcome unrecorded"
            )
            if released and status is RunStatus.SUCCEEDED:
                status = RunStatus.PARTIAL
            closed = self.store.finish_run(run.id, status, now, error, summary, left)
        if not closed:
            log.warning(
                "run #%s of %s was closed by someone else (abandoned?); outcome %s not recorded",
                run.id,
                job.name,
                status,
            )

    def _stored(self, write: Callable[[], None], attempts: int = 8) -> bool:
        """A write that outlives a short outage (a database server restarting): tried again
        with backoff (0.25 s doubling to 8 s, about 24 s in all) before giving up."""
        for attempt in range(attempts):
            try:
                write()
                return True
            except StoreWriteFailed as exc:
                log.warning("store write failed (attempt %d of %d): %s", attempt + 1, attempts, exc)
                if attempt + 1 < attempts:
                    time.sleep(backoff(attempt + 1, 0.25, 8.0, spread=0))
        return False

    def _call(
        self, job: Job, active: ActiveRun
    ) -> tuple[RunStatus, str | None, dict[str, Any], int]:
        run = active.run
        bound = logging.LoggerAdapter(
            logging.getLogger(f"cronsole.job.{job.name}"), {"job": job.name, "run_id": run.id}
        )
        state = self.store.job_state(job.name)
        try:
            settings = job.settings(state.settings if state else {}, run.overrides)
        except CronsoleError as exc:
            return RunStatus.FAILED, str(exc), {}, 0
        self.hub.publish(RunStarted(self.clock.now(), run))
        # jitter spreads scheduled starts; an operator's fire, retry or backfill starts now, and
        # the wait is never charged to the time budget (the context's clock starts after it)
        if (
            job.policy.jitter
            and run.reason in JITTERED
            and active.cancel.wait(self.rng.uniform(0, job.policy.jitter))
        ):
            return self._stopped(active), "stopped before it started", {}, 0
        ctx = JobContext(
            job=job,
            run=run,
            settings=settings,
            store=self.store,
            clock=self.clock,
            hub=self.hub,
            node=self.node,
            cancel=active.cancel,
            log=bound,
            base_dir=self.base_dir,
            lapses=self.lapses,
            rng=self.rng,
        )
        tick = run.scheduled_for.astimezone(job.schedule.tz)
        bound.info("started (%s, tick %s)", run.reason, tick.strftime("%Y-%m-%d %H:%M:%S %Z"))
        try:
            try:
                summary = job.fn(ctx)
            finally:  # outcomes a group commit still holds (`commit_every`)
                ctx.items.flush()
        except Exception as exc:
            return (
                self._stopped(active) if active.cancel.is_set() else RunStatus.FAILED,
                str(exc) if isinstance(exc, JobFailed) else error_text(exc),
                exc.summary if isinstance(exc, JobFailed) else {"traceback": traceback_text()},
                ctx.left,
            )
        status = self._status(active, ctx)
        error = (
            f"{ctx.taken_over} items taken over by another node"
            if ctx.taken_over and status is RunStatus.PARTIAL
            else None
        )
        return status, error, summary if isinstance(summary, dict) else {}, ctx.left

    def _log_outcome(self, job: str, run: Run) -> None:
        took = (
            (run.finished_at - run.started_at).total_seconds()
            if run.finished_at and run.started_at
            else 0.0
        )
        text = f"{run.status.value} in {format_duration(took) if took >= 1 else f'{took:.2f}s'}"
        text += f": {run.processed} processed, {run.failed} failed"
        if run.left:
            text += f", stopped early, {run.left} left"
        level = logging.INFO if run.status in QUIET else logging.WARNING
        logging.getLogger(f"cronsole.job.{job}").log(
            level,
            "%s%s",
            text,
            f" ({run.error})" if run.error else "",
            extra={"job": job, "run_id": run.id},
        )

    def _stopped(self, active: ActiveRun) -> RunStatus:
        return RunStatus.INTERRUPTED if active.interrupted else RunStatus.CANCELLED

    def _status(self, active: ActiveRun, ctx: JobContext[Any]) -> RunStatus:
        if active.cancel.is_set():
            return self._stopped(active)
        if ctx.left:
            return RunStatus.STOPPED_EARLY
        run = self.store.get_run(active.run.id) or active.run
        if run.failed:
            return RunStatus.PARTIAL if run.processed else RunStatus.FAILED
        return RunStatus.PARTIAL if ctx.taken_over else RunStatus.SUCCEEDED
