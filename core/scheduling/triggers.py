"""Schedules: `crontab`, `every <N>s|m|h|d`, `once <ISO datetime>`; their fire times; the trigger
APScheduler times them with.

Every path that needs a fire time (the live host, catch-up, backfill, `job`, `jobs`, the
console's countdowns, `cronsole schedule`) asks `iter_fires`, so they cannot disagree. DST is
handled by wallclock.py's rule, written in the README's Schedules section.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger

from ..clock import parse_moment
from ..errors import UsageError
from .crontab import Crontab, CrontabError, parse_crontab
from .wallclock import Fire, crontab_fires

# Interval ticks are counted from a fixed anchor so every process computes the same ticks.
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
EVERY = re.compile(r"^every\s+(\d+)\s*([smhd])$", re.IGNORECASE)
LONGEST_INTERVAL = 3650 * 86400  # ten years; longer ones are a typo, and overflow datetimes
TICK = timedelta(microseconds=1)

__all__ = [
    "Fire",
    "Schedule",
    "ScheduleError",
    "build_trigger",
    "fire_times",
    "fires_between",
    "iter_fires",
    "load_zone",
    "next_fire",
    "next_fire_times",
    "parse_schedule",
]


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    text: str
    timezone: str
    crontab: Crontab | None = None
    every_seconds: int | None = None
    once_at: datetime | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}") from None


def parse_schedule(text: str, timezone: str = "UTC") -> Schedule:
    tz = load_zone(timezone)
    stripped = text.strip()
    if not stripped:
        raise ScheduleError(
            "empty schedule: write a crontab expression, every <N>s|m|h|d or once <ISO datetime>"
        )
    word = stripped.split()[0].lower()
    if word == "every":
        return Schedule(stripped, timezone, every_seconds=_parse_every(stripped))
    if word == "once":
        return Schedule(stripped, timezone, once_at=_parse_once(stripped[4:].strip(), tz))
    try:
        return Schedule(stripped, timezone, crontab=parse_crontab(stripped))
    except CrontabError as exc:
        raise ScheduleError(f"bad schedule {text!r}: {exc}") from None


def _parse_every(text: str) -> int:
    match = EVERY.match(text)
    if not match:
        raise ScheduleError(f"bad interval {text!r}: use every <N>s|m|h|d with a whole N")
    seconds = int(match.group(1)) * UNITS[match.group(2).lower()]
    if seconds < 1:
        raise ScheduleError(f"interval must be positive in {text!r}")
    if seconds > LONGEST_INTERVAL:
        raise ScheduleError(f"interval too large in {text!r}: at most every 3650d")
    return seconds


def _parse_once(text: str, tz: ZoneInfo) -> datetime:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(
            f"bad date in {f'once {text}'.strip()!r}: use an ISO datetime, e.g. "
            "once 2027-01-31T09:00"
        ) from None
    try:
        return parse_moment(text, "once", tz)
    except UsageError as exc:  # a date too far out: one line, as a schedule error
        raise ScheduleError(str(exc)) from None


def iter_fires(schedule: Schedule, after: datetime) -> Iterator[Fire]:
    """Every fire strictly after `after`, oldest first, as aware datetimes in the job's zone."""
    if schedule.crontab is not None:
        return crontab_fires(schedule.crontab, schedule.tz, after)
    if schedule.every_seconds is not None:
        return _interval_fires(schedule.every_seconds, schedule.tz, after)
    assert schedule.once_at is not None
    once = schedule.once_at.astimezone(schedule.tz)
    return iter([Fire(once)] if once > after else [])


def _interval_fires(seconds: int, tz: ZoneInfo, after: datetime) -> Iterator[Fire]:
    step = timedelta(seconds=seconds)
    done = (after - ANCHOR) // step
    for n in itertools.count(done + 1):
        yield Fire((ANCHOR + n * step).astimezone(tz))


def fire_times(schedule: str, timezone: str, after: datetime, count: int) -> list[Fire]:
    """The next `count` fires of a schedule text strictly after `after` (aware); each has `.at`
    (an aware datetime in `timezone`) and `.note` (what a DST change did to it, or None).
    Compare `.at` with other zones' datetimes through `.astimezone(UTC)`: Python never calls a
    time in a repeated hour equal to another zone's (PEP 495), though `<` and `>` work.
    ScheduleError says what is wrong with a bad schedule or zone."""
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    return next_fire_times(parse_schedule(schedule, timezone), after, count)


def next_fire_times(schedule: Schedule, after: datetime, count: int = 5) -> list[Fire]:
    return list(itertools.islice(iter_fires(schedule, after), count))


_NEXT: dict[Schedule, tuple[datetime, Fire | None]] = {}


def next_fire(schedule: Schedule, after: datetime) -> Fire | None:
    """The next fire time after `after`; remembered until it passes, since the console asks for
    every job's once a second."""
    known = _NEXT.get(schedule)
    if known is not None and known[0] <= after and (known[1] is None or after < known[1].at):
        return known[1]
    fire = next(iter_fires(schedule, after), None)
    if len(_NEXT) > 4096:
        _NEXT.clear()
    _NEXT[schedule] = (after, fire)
    return fire


def fires_between(
    schedule: Schedule, start: datetime, end: datetime, cap: int = 100_000
) -> Iterator[datetime]:
    """Ticks strictly after `start` up to and including `end`, at most `cap` of them."""
    for fire in itertools.islice(iter_fires(schedule, start), cap):
        if fire.at > end:
            return
        yield fire.at


@functools.lru_cache(maxsize=4096)
def build_trigger(schedule: Schedule) -> BaseTrigger:
    """The trigger of a schedule; it holds no state, so one per schedule is kept."""
    return ScheduleTrigger(schedule)


class ScheduleTrigger(BaseTrigger):  # type: ignore[misc]
    """APScheduler's timer asks this trigger; the fire times are cronsole's own."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first fire at or after `now`; after a fire, the one right after it (when the
        scheduler is late, APScheduler gathers the ticks up to `now` this way)."""
        after = now - TICK if previous_fire_time is None else previous_fire_time
        fire = next(iter_fires(self.schedule, after), None)
        return fire.at if fire else None

    def __str__(self) -> str:
        return f"schedule[{self.schedule.text} {self.schedule.timezone}]"
