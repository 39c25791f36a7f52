"""The scheduler host: APScheduler 3 decides when; the store decides who runs each tick.

APScheduler keeps only in-memory triggers. When one fires, our executor receives the nominal
tick times and claims each tick by inserting its run under UNIQUE(job, scheduled_for); only the
process whose insert succeeds runs it.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from ..alerting import Alerter
from ..clock import iso
from ..commands import Commands
from ..engine import Engine
from ..errors import StoreWriteFailed
from ..events import TickSkipped
from ..faults import fault
from ..logs import Incident
from ..models import Run, RunReason, RunStatus
from ..recovery import recover_dead_nodes
from ..registry import Job
from ..snapshot import stuck_runs
from .catchup import plan_catch_up
from .once import mark_claimed
from .triggers import build_trigger

log = logging.getLogger(__name__)
PRESTART = 100  # workers started with the host, at most (idle ones end after a minute)


class TickExecutor(BaseExecutor):  # type: ignore[misc]
    """Hands (job id, nominal run times) to the host instead of running anything itself.
    Overriding `submit_job` also skips APScheduler's instance count: overlap is the host's."""

    def __init__(self, on_tick: Any) -> None:
        super().__init__()
        self.on_tick = on_tick

    def submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self.on_tick(job.id, run_times)

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self.on_tick(job.id, run_times)


def _noop() -> None:
    """APScheduler needs a callable; our executor never calls it."""


class Host:
    POLL_SECONDS = 0.5

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.commands = Commands(engine, start_run=self.start_run)
        engine.runner.on_finished = self._after_run
        self._claims = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim")
        self._pending: queue.SimpleQueue[tuple[str, list[datetime]]] = queue.SimpleQueue()
        self._scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        self._latest_now: datetime | None = None
        self._clock_lock = threading.Lock()
        self.stopping = False
        self._incidents: dict[str, Incident] = {}  # a failing step's, by name: said once
        self.alerter = Alerter(engine, engine.settings.alerts) if engine.settings.alerts else None

    def start(self) -> None:
        """Register, recover, catch up, then let APScheduler's ticks come. Should a step fail
        (a full disk, say), what it started is stopped and closed before the error goes on."""
        self.engine.start_node("host")
        try:
            self._start()
        except BaseException:
            self.stop(0, "interrupted: the scheduler failed to start")
            raise

    def _start(self) -> None:
        # a worker per job, up to PRESTART, its connection open: the first tick of many jobs
        # due together (and the catch-up) does not wait for threads and connections to start
        self.engine.runner.prestart(min(len(self.engine.jobs), PRESTART))
        self.recover()
        if self.alerter is not None:
            self.alerter.start()
        self.catch_up()
        fault("after_catch_up")
        scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": TickExecutor(self._on_tick)},
            job_defaults={"coalesce": False, "misfire_grace_time": None},
        )
        for job in self.engine.jobs.values():
            scheduler.add_job(
                _noop, trigger=build_trigger(job.schedule), id=job.name, name=job.name
            )
        scheduler.start()
        self._scheduler = scheduler
        self._loop = threading.Thread(target=self._maintain, name="host-loop", daemon=True)
        self._loop.start()

    @property
    def running(self) -> bool:
        """True while the scheduler is started and not stopping."""
        return bool(self._scheduler and self._scheduler.running and not self.stopping)

    # ticks

    def _on_tick(self, name: str, run_times: list[datetime]) -> None:
        self._pending.put((name, run_times))
        self._claims.submit(self._guarded, self._claim_pending)

    def _claim_pending(self) -> None:
        """Claim every tick that has arrived so far, together (often many are due at once)."""
        ticks: list[tuple[str, list[datetime]]] = []
        while True:
            try:
                ticks.append(self._pending.get_nowait())
            except queue.Empty:
                break
        if ticks:
            self.claim_many(ticks)

    def _guarded(self, fn: Any, *args: Any) -> None:
        name = getattr(fn, "__name__", str(fn))
        incident = self._incidents.setdefault(name, Incident(log, name))
        try:
            fn(*args)
        except StoreWriteFailed as exc:  # disk full or locked: said once, tried again
            incident.failed(exc)
            return
        except Exception:
            log.exception("%s failed", name)
            return
        incident.ok()

    def claim_ticks(self, name: str, run_times: list[datetime]) -> None:
        """Claim the newest tick; older ones (a stalled scheduler) are counted as missed."""
        self.claim_many([(name, run_times)])

    def claim_many(self, ticks: list[tuple[str, list[datetime]]]) -> None:
        """Claim ticks together (one statement per step), then start the runs won. Should the
        claim fail, each tick is tried on its own, so one cannot cost the others their tick."""
        self.watch_clock(self.engine.clock.now())
        if self.stopping:
            return
        try:
            won = self._claim(ticks)
        except Exception:
            if len(ticks) == 1:
                raise
            won = []
            for tick in ticks:
                try:
                    won += self._claim([tick])
                except Exception:
                    log.exception("claiming the tick of %s failed", tick[0])
        for job, run in won:
            self._started(job, run)

    def _claim(self, ticks: list[tuple[str, list[datetime]]]) -> list[tuple[Job, Run]]:
        store, now = self.engine.store, self.engine.clock.now()
        with store.batch():
            for name, run_times in ticks:
                if len(run_times) > 1:
                    store.record_missed(name, run_times[:-1], now, "scheduler was late; coalesced")
            paused = self._paused_reasons([name for name, _ in ticks], now)
            claims = [
                (
                    name,
                    run_times[-1],
                    None if name in paused else self.engine.jobs[name].policy.overlap,
                )
                for name, run_times in ticks
            ]
            runs = store.claim_ticks(claims, self.engine.node_id, now)
            for run in runs:
                mark_claimed(store, self.engine.jobs[run.job], run.scheduled_for, now)
        for name, run_times in ticks:
            if name in paused:
                self.engine.hub.publish(TickSkipped(now, name, run_times[-1], paused[name]))
        return [(self.engine.jobs[run.job], run) for run in runs]

    def _started(self, job: Job, run: Run | None) -> None:
        if run is None:
            return  # another process holds this tick
        if run.status is RunStatus.RUNNING:
            self.start_run(job, run)
        elif run.status is RunStatus.SKIPPED:
            log.info("%s: tick %s skipped: %s", job.name, iso(run.scheduled_for), run.error)
            self.engine.hub.publish(
                TickSkipped(
                    self.engine.clock.now(), job.name, run.scheduled_for, run.error or "skipped"
                )
            )

    def watch_clock(self, now: datetime) -> None:
        """When the system clock steps back: warn once, and plan every job's next fire from
        the new time (APScheduler would wait for the old one). Recorded ticks never run twice
        (the tick's row is unique)."""
        with self._clock_lock:
            latest = self._latest_now
            stepped = latest is not None and now < latest - timedelta(seconds=1)
            self._latest_now = now if latest is None or stepped else max(latest, now)
        if not stepped:
            return
        assert latest is not None
        log.warning(
            "the system clock went back %s (from %s to %s); ticks already run will not run again",
            latest - now,
            iso(latest),
            iso(now),
        )
        if self._scheduler is not None:
            for job in self._scheduler.get_jobs():
                fire = job.trigger.get_next_fire_time(None, now)
                if fire is not None:
                    job.modify(next_run_time=fire)

    def paused_reason(self, name: str, now: datetime) -> str | None:
        return self._paused_reasons([name], now).get(name)

    def _paused_reasons(self, names: list[str], now: datetime) -> dict[str, str]:
        """Why each of these jobs may not start a run now, for those paused (two reads)."""
        store = self.engine.store
        if store.get_control("paused_all"):
            return dict.fromkeys(names, "scheduler paused")
        states = store.job_states(names)
        found = {}
        for name in names:
            state = states.get(name)
            if state and state.paused and not (state.pause_until and state.pause_until <= now):
                found[name] = f"paused: {state.pause_reason or 'no reason given'}"
        return found

    def start_run(self, job: Job, run: Run) -> None:
        if self.stopping:
            self.engine.store.finish_run(
                run.id, RunStatus.INTERRUPTED, self.engine.clock.now(), "scheduler stopping"
            )
            return
        self.engine.runner.start(job, run)

    def _after_run(self, run: Run) -> None:
        """Start the run queued behind this one; until then the runner counts it as busy."""
        if self.stopping:
            return
        finished = self.engine.runner.follow_up()
        try:
            future = self._claims.submit(self._guarded, self.start_queued, run.job)
        except RuntimeError:  # the claim thread is shut down: the host is stopping
            finished()
            return
        future.add_done_callback(lambda _: finished())  # also when cancelled at shutdown

    def start_queued(self, name: str) -> None:
        job = self.engine.jobs.get(name)
        if job is None or self.stopping or self.paused_reason(name, self.engine.clock.now()):
            return
        run = self.engine.store.start_queued_run(
            name,
            self.engine.node_id,
            self.engine.clock.now(),
            allow=job.policy.overlap.value == "allow",
        )
        if run is not None:
            self.start_run(job, run)

    # recovery and catch-up

    def recover(self) -> None:
        """Runs of dead processes become `abandoned`; their claimed items become eligible."""
        recover_dead_nodes(self.engine)

    def catch_up(self) -> None:
        """Ticks that passed while no scheduler ran: run per policy, count the rest as missed.
        A paused job replays nothing. From `now` on, APScheduler's own ticks take over."""
        store, now = self.engine.store, self.engine.clock.now()
        behind: list[timedelta] = []
        for job in self.engine.jobs.values():
            state = store.job_state(job.name)
            last = state.last_tick if state else None
            if last is not None and now < last - timedelta(seconds=1):
                behind.append(last - now)
            store.record_tick(job.name, now)
            if self.paused_reason(job.name, now):
                continue
            plan = plan_catch_up(
                job.schedule, job.policy.catch_up, job.policy.catch_up_window, last, now
            )
            if plan.missed:
                store.record_missed(
                    job.name,
                    plan.missed,
                    now,
                    f"missed while stopped (catch-up {job.policy.catch_up})",
                )
            for tick in plan.run:
                store.queue_run(job.name, tick, RunReason.CATCH_UP, now)
                mark_claimed(store, job, tick, now)
            if plan.run:
                self.start_queued(job.name)
        if behind:
            log.warning(
                "the clock is up to %s behind the last recorded tick of %d job(s); "
                "those ticks will not run again",
                max(behind),
                len(behind),
            )

    # maintenance

    def _maintain(self) -> None:
        """Every step guarded: a database away (reads fail too) must not end this loop."""
        passes = 0
        while not self._stop.wait(self.POLL_SECONDS):
            passes += 1
            self.watch_clock(self.engine.clock.now())
            self._guarded(self.commands.apply_pending)
            if passes % 4 == 0:
                self._guarded(self.commands.expire_pauses)
                self._guarded(self.start_all_queued)
                self._guarded(self.recover)  # every 2 s: a dead process of this host is seen
            if passes % 120 == 0:
                self._guarded(self.sweep)
            if passes % 60 == 0 and self.alerter is not None:
                self._guarded(self.check_alerts)

    def check_alerts(self) -> None:
        """The alert rules that time, not an event, sets off: silent jobs and stuck runs."""
        assert self.alerter is not None
        now, store = self.engine.clock.now(), self.engine.store
        stuck = stuck_runs(self.engine, now, store.active_runs(), store.nodes())
        self.alerter.check(now, [(s.job, s.why) for s in stuck])

    def start_all_queued(self) -> None:
        for name in self.engine.store.queued_jobs():
            self._guarded(self.start_queued, name)

    def sweep(self) -> None:
        now = self.engine.clock.now()
        cutoff = now - timedelta(seconds=self.engine.settings.stale_timeout)
        swept = self.engine.store.sweep_stale_items(cutoff, now)
        if swept:
            log.warning(
                "released %d stale items (no heartbeat for %ss)",
                len(swept),
                int(self.engine.settings.stale_timeout),
            )

    # stopping

    def stop(
        self, grace: float, why: str = "interrupted: scheduler stopped before it finished"
    ) -> list[int]:
        """No new work; in-flight runs get `grace` seconds; the rest are marked interrupted."""
        self.stopping = True
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        self._claims.shutdown(wait=True, cancel_futures=True)
        self.engine.runner.interrupt_all()
        self.engine.runner.wait_idle(grace)
        left = self.interrupt_remaining(why)
        if self.alerter is not None:  # what the last runs said goes out first
            self.alerter.stop(timeout=5.0)
        return left

    def interrupt_remaining(self, why: str) -> list[int]:
        left = []
        for run in self.engine.runner.active():
            if self.engine.store.finish_run(
                run.id, RunStatus.INTERRUPTED, self.engine.clock.now(), why
            ):
                left.append(run.id)
        return left
