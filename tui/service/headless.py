"""`cronsole --no-tui`: the engine with a log renderer, until SIGTERM, SIGINT or SIGHUP."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import threading
from collections.abc import Iterable
from datetime import datetime
from http.server import ThreadingHTTPServer
from types import FrameType
from typing import Any

from cronsole.core.config import Settings
from cronsole.core.engine import Engine, build_engine
from cronsole.core.registry import Job
from cronsole.core.scheduling.host import Host
from cronsole.core.scheduling.triggers import next_fire_times
from cronsole.core.snapshot import JobState, take_snapshot
from cronsole.jobs import builtin_modules

from .. import logsetup
from .metrics import Metrics, serve
from .notify import Notifier, Watchdog

log = logging.getLogger("cronsole.headless")


def run(
    settings: Settings, log_format: str, log_level: str, metrics_addr: str | None = None
) -> int:
    logsetup.log_file(settings)  # a bad log path is said before the database is made
    engine = build_engine(settings, builtin=builtin_modules())
    logsetup.configure(settings, log_format, log_level)
    host = Host(engine)
    notifier = Notifier()
    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        if len(signals) == 1:
            log.info(
                "received %s: stopping; in-flight runs get %ss",
                signal.Signals(signum).name,
                int(settings.grace_period),
            )
            stop.set()
            return
        left = host.interrupt_remaining("interrupted: stopped by a second signal")
        log.warning("second signal: aborting; %d run(s) marked interrupted", len(left))
        engine.flush_logs()
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # a closed terminal or SSH
        signal.signal(sig, on_signal)
    # `kill -USR1`: every thread's stack on stderr (the journal), for a node that seems stuck
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    _announce(engine.jobs.values(), engine.clock.now(), engine.node_id, settings)
    try:
        host.start()
    except BaseException:  # its runs are closed already; the node is marked stopped here
        engine.close()
        raise
    server = _serve_metrics(metrics_addr, engine, host) if metrics_addr else None
    watchdog = Watchdog(notifier, lambda: _probe(engine, host))
    notifier.send(ready="1", status=_probe(engine, host) or "starting")
    watchdog.start()
    while not stop.wait(1.0):
        pass
    notifier.send(stopping="1", status="stopping: runs in flight get the grace period")
    watchdog.stop()
    if server:
        server.shutdown()
    left = host.stop(settings.grace_period)
    if left:
        log.warning("grace period over: run(s) %s marked interrupted", left)
    log.info("stopped")
    engine.close()
    return 0


def _probe(engine: Engine, host: Host) -> str | None:
    """A one-line status while the scheduler runs and the database answers; else None."""
    if not host.running:
        return None
    snap = take_snapshot(engine, logs=0, runs=0)
    running = sum(1 for j in snap.jobs if j.state is JobState.RUNNING)
    paused = " PAUSED ALL" if snap.paused_all else ""
    stuck = f", {len(snap.stuck)} stuck" if snap.stuck else ""
    unstored = engine.runner.unstored()
    waiting = f", {len(unstored)} outcome(s) waiting for the store" if unstored else ""
    return f"{len(snap.jobs)} jobs, {running} running{stuck}, health {snap.health}{paused}{waiting}"


def _serve_metrics(addr: str, engine: Engine, host: Host) -> ThreadingHTTPServer:
    def health() -> dict[str, Any]:
        try:
            engine.store.get_control("paused_all")
        except Exception as exc:  # the database not answering is what we report
            return {"ok": False, "database": str(exc)}
        return {"ok": True, "node": engine.node_id}

    def ready() -> dict[str, Any]:
        found = health()
        return {**found, "ok": found["ok"] and host.running, "scheduler": host.running}

    server = serve(addr, Metrics(engine, lambda: host.running), health, ready)
    log.info("metrics on http://%s/metrics (also /healthz, /readyz)", addr)
    return server


def _announce(jobs: Iterable[Job], now: datetime, node: str, settings: Settings) -> None:
    from cronsole.core.store import redacted

    log.info("cronsole started as node %s, database %s", node, redacted(settings.database))
    listed = list(jobs)
    if not listed:
        log.warning("no jobs are configured: name job modules in cronsole.toml")
    for job in listed:
        fires = next_fire_times(job.schedule, now, 1)
        when = fires[0].at.strftime("%Y-%m-%d %H:%M:%S %Z") if fires else "never"
        note = f" ({fires[0].note})" if fires and fires[0].note else ""
        log.info("job %s: %s, next at %s%s", job.name, job.schedule_text, when, note)
