"""A `once` schedule's single tick: marked when claimed, so it is known done even after
retention has archived its run row, and a past one that never ran is refused, not run late."""

from __future__ import annotations

from datetime import datetime

from ..clock import iso
from ..errors import ConfigError
from ..registry import Job
from ..store.base import Store

KEY = "cronsole.once_claimed"


def mark_claimed(store: Store, job: Job, tick: datetime, now: datetime) -> None:
    """Called for every tick that got a run row; remembers the `once` one."""
    once = job.schedule.once_at
    if once is not None and iso(once) == iso(tick):
        store.set_state(job.name, KEY, iso(tick), now)


def once_done(store: Store | None, job: Job) -> bool:
    once = job.schedule.once_at
    if once is None or store is None:
        return False
    return store.get_state(job.name, KEY) == iso(once) or bool(store.runs_at(job.name, [once]))


def check_past_once(jobs: dict[str, Job], store: Store | None, now: datetime) -> None:
    """ConfigError for a `once` in the past that never ran: it would never run now."""
    for job in jobs.values():
        once = job.schedule.once_at
        if once is not None and once <= now and not once_done(store, job):
            raise ConfigError(
                f"job {job.name}: {job.schedule.text!r} is in the past and never "
                "ran; move it ahead or remove the job",
                job.schedule_where,
            )
