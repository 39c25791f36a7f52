"""Alerts are engine events said on a job's channels (`alert = ["ops"]`), one per incident, not
per tick. A run that fails (or times out, or ends partial) opens an incident for its job and
kind; later failures count in it and repeat it at most every channel's `repeat_after`; the next
success closes it with one "recovered". A job with `expect_every` that has not succeeded for
that long opens a "silent" incident (a dead-man's switch), and a stuck run opens "stuck".
Incidents are stored, so a restart sends nothing twice and one node of several opens each.
Decisions and sends happen on a thread of their own, sends retried with backoff: never in a
run's way. Each channel's last success and failure are kept for `cronsole alerts`."""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from .channels import Channel, SendFailed, send
from .clock import iso, parse_iso
from .durations import format_duration
from .events import AlertSent, Event, RunFinished
from .health import Health, health_key
from .models import Incident, Run, RunStatus
from .registry import Job
from .retry import backoff

log = logging.getLogger(__name__)

FAILED_AS = {
    RunStatus.FAILED: "failed",
    RunStatus.TIMED_OUT: "timed_out",
    RunStatus.PARTIAL: "partial",
}
CLOSED_BY_SUCCESS = ("failed", "timed_out", "partial", "stuck", "silent")
LAST_SUCCESS = "cronsole.last_success"  # job state: when a run of it last succeeded
WATCHED_SINCE = "cronsole.watched_since"  # job state: when its dead-man's switch was first armed
CHANNELS_KEY = "alerts:channels"  # control: each channel's last success and failure
ATTEMPTS = 8  # tries of one send (0.5 s doubling, capped at 5 minutes: about 10 minutes)


class Alerter:
    def __init__(self, engine: Any, channels: dict[str, Channel]) -> None:
        self.engine, self.channels = engine, channels
        self.tasks: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.unsubscribe: Callable[[], None] = lambda: None
        self.pending = 0  # tasks queued or being done, and retries waiting for their time
        self.lock = threading.Condition()

    def start(self) -> None:
        self.unsubscribe = self.engine.hub.subscribe(self.on_event)
        self.thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking events; sends still queued get `timeout` to go."""
        self.unsubscribe()
        self.wait_idle(timeout)
        self.tasks.put(("stop", None))

    def wait_idle(self, timeout: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: self.pending == 0, timeout)

    def on_event(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self._put("run", event.run)

    def check(self, now: datetime, stuck: Iterable[tuple[str, str]] = ()) -> None:
        """The periodic rules (the host calls this): silent jobs, and `stuck` (job, why)."""
        self._put("check", (now, list(stuck)))

    def _put(self, kind: str, value: Any) -> None:
        with self.lock:
            self.pending += 1
        self.tasks.put((kind, value))

    def _loop(self) -> None:
        while True:
            kind, value = self.tasks.get()
            if kind == "stop":
                return
            try:
                if kind == "run":
                    self._finished(value)
                elif kind == "check":
                    self._check(value)
                else:
                    self._send(value)
            except Exception:  # a database away, say: said, and the next event tries again
                log.exception("alerts: %s failed", kind)
            finally:
                with self.lock:
                    self.pending -= 1
                    self.lock.notify_all()

    # rules

    def _job(self, name: str) -> Job | None:
        job = self.engine.jobs.get(name)
        return job if job is not None and job.policy.alert else None

    def _finished(self, run: Run) -> None:
        job = self._job(run.job)
        if job is None:
            return
        store, now = self.engine.store, self.engine.clock.now()
        if run.status is RunStatus.SUCCEEDED:
            store.set_state(job.name, LAST_SUCCESS, iso(now), now)
            for incident in store.close_incidents(job.name, CLOSED_BY_SUCCESS, now):
                if "recovered" in job.policy.on:
                    took = format_duration((now - incident.opened_at).total_seconds())
                    self._say(job, incident, "recovered", f"{job.name} recovered after {took}", run)
            return
        store.close_incidents(job.name, ("stuck",), now)  # the stuck run has ended
        kind = FAILED_AS.get(run.status)
        if kind is not None and kind in job.policy.on:
            self._happened(job, kind, f"run #{run.id} {run.status.value}: {run.error or ''}", run)

    def _check(self, value: tuple[datetime, list[tuple[str, str]]]) -> None:
        now, stuck = value
        for name, why in stuck:
            job = self._job(name)
            if job is not None and "stuck" in job.policy.on:
                self._happened(job, "stuck", why)
        for job in self.engine.jobs.values():
            if job.policy.alert and job.policy.expect_every:
                self._silence(job, now)
            if job.policy.alert and "health" in job.policy.on:
                self._health(job, now)

    def _health(self, job: Job, now: datetime) -> None:
        """A tenant of the job graded WARN or CRIT by the stored health report (the health
        job's) opens an incident of its own; back to OK, or gone from the report, it closes."""
        store = self.engine.store
        report = store.get_control(health_key(job.name))
        if report is None:
            return  # no health job has graded the tenants yet
        bad = {
            f"{job.name}:health:{t['tenant']}": f"tenant {t['tenant']} {t['status']}: {t['reason']}"
            for t in report["tenants"]
            if t["status"] in (Health.WARN, Health.CRIT)
        }
        for key, said in bad.items():
            self._happened(job, "health", said, key=key)
        for incident in store.list_incidents(open_only=True, limit=10_000):
            if incident.job != job.name or incident.kind != "health" or incident.key in bad:
                continue
            closed = store.close_incident(incident.key, now)
            if closed is not None and "recovered" in job.policy.on:
                tenant = incident.key.split(":health:", 1)[1]
                self._say(job, closed, "recovered", f"{job.name}: tenant {tenant} is OK", None)

    def _silence(self, job: Job, now: datetime) -> None:
        store = self.engine.store
        since = store.get_state(job.name, LAST_SUCCESS) or store.get_state(job.name, WATCHED_SINCE)
        if since is None:  # armed now: a job never seen to succeed is given its interval
            store.set_state(job.name, WATCHED_SINCE, iso(now), now)
            return
        quiet = (now - parse_iso(since)).total_seconds()
        assert job.policy.expect_every is not None
        if quiet > job.policy.expect_every:
            expected = format_duration(job.policy.expect_every)
            said = f"has not succeeded for {format_duration(quiet)} (expected every {expected})"
            self._happened(job, "silent", f"{job.name} {said}")

    def _happened(
        self, job: Job, kind: str, message: str, run: Run | None = None, key: str = ""
    ) -> None:
        now = self.engine.clock.now()
        key = key or f"{job.name}:{kind}"
        incident, new = self.engine.store.open_incident(key, job.name, kind, message, now)
        if new:
            self._say(job, incident, "opened", f"{job.name} {kind}: {message}", run)
            return
        for name in job.policy.alert:  # still going: said again after `repeat_after`
            channel = self.channels[name]
            if incident.said_at is None or now - incident.said_at >= timedelta(
                seconds=channel.repeat_after
            ):
                self._say(
                    job, incident, "repeated", f"{job.name} still {kind}: {message}", run, [name]
                )

    def _say(
        self,
        job: Job,
        incident: Incident,
        event: str,
        summary: str,
        run: Run | None,
        only: list[str] | None = None,
    ) -> None:
        now = self.engine.clock.now()
        alert = {
            "event": event,
            "kind": incident.kind,
            "job": job.name,
            "summary": summary,
            "incident": incident.id,
            "occurrences": incident.occurrences,
            "opened_at": iso(incident.opened_at),
            "at": iso(now),
            "run": run.id if run else None,
            "host": socket.gethostname(),
        }
        self.engine.store.incident_said(incident.id, now)
        for name in only or job.policy.alert:
            self._queue_send(self.channels[name], alert, 1)

    # sending

    def test(self, channel: Channel) -> None:
        """`cronsole alerts test`: one message now, in this thread; SendFailed if it fails."""
        now = self.engine.clock.now()
        alert = {"event": "test", "kind": "test", "job": None, "at": iso(now)}
        alert["summary"] = f"a test of channel {channel.name} from {socket.gethostname()}"
        try:
            send(channel, alert)
        except SendFailed as exc:
            self._record(channel.name, str(exc))
            raise
        self._record(channel.name, None)

    def _queue_send(self, channel: Channel, alert: dict[str, Any], attempt: int) -> None:
        self._put("send", (channel, alert, attempt))

    def _retry(self, channel: Channel, alert: dict[str, Any], attempt: int) -> None:
        self._queue_send(channel, alert, attempt)
        with self.lock:  # the wait that the retry was counted for is over
            self.pending -= 1
            self.lock.notify_all()

    def _send(self, value: tuple[Channel, dict[str, Any], int]) -> None:
        channel, alert, attempt = value
        try:
            send(channel, alert, os.environ)
        except SendFailed as exc:
            self.engine.hub.publish(AlertSent(self.engine.clock.now(), channel.name, False))
            self._record(channel.name, str(exc))
            if attempt < ATTEMPTS:
                wait = backoff(attempt, 0.5, 300.0)
                log.warning(
                    "alert to %s failed (try %d): %s; again in %.1fs",
                    channel.name,
                    attempt,
                    exc,
                    wait,
                )
                with self.lock:
                    self.pending += 1
                timer = threading.Timer(wait, self._retry, (channel, alert, attempt + 1))
                timer.daemon = True
                timer.start()
            else:
                log.error("alert to %s given up after %d tries: %s", channel.name, attempt, exc)
        else:
            self.engine.hub.publish(AlertSent(self.engine.clock.now(), channel.name, True))
            self._record(channel.name, None)

    def _record(self, name: str, error: str | None) -> None:
        """Each channel's last success, last failure and failures in a row, for every shell."""
        store, now = self.engine.store, self.engine.clock.now()
        states = store.get_control(CHANNELS_KEY) or {}
        state = states.get(name, {"failures": 0})
        if error is None:
            state = {**state, "ok_at": iso(now), "failures": 0}
        else:
            state = {
                **state,
                "failed_at": iso(now),
                "error": error,
                "failures": state["failures"] + 1,
            }
        states[name] = state
        store.set_control(CHANNELS_KEY, states, now)
