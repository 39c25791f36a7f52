"""What to do about ticks that passed while no scheduler ran: a pure plan, tested with a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..models import CatchUp
from .triggers import Schedule, fires_between


@dataclass(frozen=True)
class CatchUpPlan:
    run: list[datetime] = field(default_factory=list)  # ticks to run now, oldest first
    missed: list[datetime] = field(default_factory=list)  # ticks recorded as missed


def plan_catch_up(
    schedule: Schedule, policy: CatchUp, window: float, last_tick: datetime | None, now: datetime
) -> CatchUpPlan:
    """`latest` runs the newest missed tick once; `all` runs every tick inside the window;
    `none` runs nothing. Whatever is not run is reported as missed, never dropped silently."""
    if last_tick is None:
        return CatchUpPlan()
    ticks = list(fires_between(schedule, last_tick, now))
    if not ticks:
        return CatchUpPlan()
    if policy is CatchUp.LATEST:
        return CatchUpPlan(run=ticks[-1:], missed=ticks[:-1])
    if policy is CatchUp.ALL:
        start = now - timedelta(seconds=window)
        return CatchUpPlan(
            run=[t for t in ticks if t >= start], missed=[t for t in ticks if t < start]
        )
    return CatchUpPlan(missed=ticks)
