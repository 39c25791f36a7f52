"""`cronsole --no-tui`: the engine with a log renderer, until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterable
from datetime import datetime
from types import FrameType

from cronsole.core.config import Settings
from cronsole.core.engine import build_engine
from cronsole.core.registry import Job
from cronsole.core.scheduling.host import Host
from cronsole.core.scheduling.triggers import next_fire_times
from cronsole.jobs import builtin_modules

from . import logsetup

log = logging.getLogger("cronsole.headless")


def run(settings: Settings, log_format: str, log_level: str) -> int:
    engine = build_engine(settings, builtin=builtin_modules())
    logsetup.configure(settings, log_format, log_level)
    host = Host(engine)
    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        if len(signals) == 1:
            log.info("received %s: stopping; in-flight runs get %ss", signal.Signals(signum).name,
                     int(settings.grace_period))
            stop.set()
            return
        left = host.interrupt_remaining("interrupted: stopped by a second signal")
        log.warning("second signal: aborting; %d run(s) marked interrupted", len(left))
        engine.flush_logs()
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    _announce(engine.jobs.values(), engine.clock.now(), engine.node_id, settings)
    host.start()
    while not stop.wait(1.0):
        pass
    left = host.stop(settings.grace_period)
    if left:
        log.warning("grace period over: run(s) %s marked interrupted", left)
    log.info("stopped")
    engine.close()
    return 0


def _announce(jobs: Iterable[Job], now: datetime, node: str, settings: Settings) -> None:
    log.info("cronsole started as node %s, database %s", node, settings.database)
    listed = list(jobs)
    if not listed:
        log.warning("no jobs are configured: name job modules in cronsole.toml")
    for job in listed:
        fires = next_fire_times(job.schedule, now, 1)
        when = fires[0].at.strftime("%Y-%m-%d %H:%M:%S %Z") if fires else "never"
        note = f" ({fires[0].dst_note})" if fires and fires[0].dst_note else ""
        log.info("job %s: %s, next at %s%s", job.name, job.schedule_text, when, note)
