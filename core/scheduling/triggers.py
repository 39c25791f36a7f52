"""Schedules: `crontab`, `every <N>s|m|h|d`, `once <ISO datetime>`, and their APScheduler triggers.

DST, documented in the README: a fixed time that falls in a spring-forward gap fires once, shifted
forward by the gap (03:30 becomes 04:30); in a fall-back hour a fixed-time job fires once (the
first occurrence, as cron does) while wildcard schedules follow real time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from cron_descriptor import ExpressionDescriptor, Options

from .crontab import DAYS, MACROS, Crontab, CrontabError, parse_crontab

# Interval ticks are counted from a fixed anchor so every process computes the same ticks.
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
EVERY = re.compile(r"^every\s+(\d+)\s*([smhd])$", re.IGNORECASE)


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


@dataclass(frozen=True)
class FireTime:
    at: datetime
    dst_note: str | None = None


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}") from None


def parse_schedule(text: str, timezone: str = "UTC") -> Schedule:
    tz = load_zone(timezone)
    stripped = text.strip()
    if match := EVERY.match(stripped):
        seconds = int(match.group(1)) * UNITS[match.group(2).lower()]
        if seconds < 1:
            raise ScheduleError(f"interval must be positive in {text!r}")
        return Schedule(stripped, timezone, every_seconds=seconds)
    if stripped.lower().startswith("once "):
        return Schedule(stripped, timezone, once_at=_parse_once(stripped[5:].strip(), tz))
    try:
        return Schedule(stripped, timezone, crontab=parse_crontab(stripped))
    except CrontabError as exc:
        raise ScheduleError(f"bad schedule {text!r}: {exc}") from None


def _parse_once(text: str, tz: ZoneInfo) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(f"bad date in 'once {text}': use an ISO datetime") from None
    return when if when.tzinfo else when.replace(tzinfo=tz)


@functools.lru_cache(maxsize=4096)
def build_trigger(schedule: Schedule) -> BaseTrigger:
    """The trigger of a schedule; triggers hold no state, so one per schedule is kept."""
    tz = schedule.tz
    if schedule.every_seconds is not None:
        return IntervalTrigger(seconds=schedule.every_seconds, start_date=ANCHOR, timezone=tz)
    if schedule.once_at is not None:
        return DateTrigger(run_date=schedule.once_at, timezone=tz)
    assert schedule.crontab is not None
    return CrontabTrigger(schedule.crontab, tz)


class CrontabTrigger(BaseTrigger):  # type: ignore[misc]
    """Standard cron on top of APScheduler's CronTrigger (which ANDs day and weekday)."""

    def __init__(self, cron: Crontab, tz: ZoneInfo) -> None:
        self.cron = cron
        self.tz = tz
        common = {
            "minute": _csv(cron.minutes),
            "hour": _csv(cron.hours),
            "month": _csv(cron.months),
            "timezone": tz,
        }
        weekdays = ",".join(DAYS[d] for d in cron.weekdays)
        if cron.day_star or cron.weekday_star:
            day = "*" if cron.day_star else _csv(cron.days)
            dow = "*" if cron.weekday_star else weekdays
            self.inner: BaseTrigger = CronTrigger(day=day, day_of_week=dow, **common)
        else:  # both restricted: cron fires when either matches
            self.inner = OrTrigger(
                [CronTrigger(day=_csv(cron.days), **common),
                 CronTrigger(day_of_week=weekdays, **common)]
            )

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        candidate = self.inner.get_next_fire_time(previous_fire_time, now)
        while candidate is not None and self.cron.fixed_time and _second_occurrence(candidate):
            candidate = self.inner.get_next_fire_time(candidate, candidate)
        return candidate  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return f"crontab[{self.cron.text}]"


def _csv(values: tuple[int, ...]) -> str:
    return ",".join(str(v) for v in values)


def _second_occurrence(when: datetime) -> bool:
    wall = when.replace(tzinfo=None)
    tz = when.tzinfo
    first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    return first != second and when.utcoffset() == second


def dst_note(when: datetime) -> str | None:
    """Say so when a fire time was moved by a DST gap (its wall time does not exist)."""
    if when.tzinfo is None:
        return None
    wall = when.replace(tzinfo=None)
    real = when.astimezone(UTC).astimezone(when.tzinfo).replace(tzinfo=None)
    if wall != real:
        return f"DST gap: {wall:%H:%M} does not exist that day; fires at {real:%H:%M}"
    return None


def next_fire_times(schedule: Schedule, after: datetime, count: int = 5) -> list[FireTime]:
    return [FireTime(_real(at), dst_note(at)) for at in _iter_fires(schedule, after, count)]


_NEXT: dict[Schedule, tuple[datetime, FireTime | None]] = {}


def next_fire(schedule: Schedule, after: datetime) -> FireTime | None:
    """The next fire time after `after`; remembered until it passes, since the console asks for
    every job's once a second (computing a cron fire time is the costly part)."""
    known = _NEXT.get(schedule)
    if known is not None and known[0] <= after and (known[1] is None or after < known[1].at):
        return known[1]
    fires = next_fire_times(schedule, after, 1)
    if len(_NEXT) > 4096:
        _NEXT.clear()
    _NEXT[schedule] = (after, fires[0] if fires else None)
    return fires[0] if fires else None


def _real(at: datetime) -> datetime:
    """The instant a fire time stands for, with a wall time that exists (DST gaps)."""
    return at.astimezone(UTC).astimezone(at.tzinfo)


def fires_between(
    schedule: Schedule, start: datetime, end: datetime, cap: int = 100_000
) -> Iterator[datetime]:
    """Ticks strictly after `start` up to and including `end`, at most `cap` of them."""
    for at in _iter_fires(schedule, start + timedelta(microseconds=1), cap):
        if at > end:
            return
        yield _real(at)


def _iter_fires(schedule: Schedule, after: datetime, count: int) -> Iterator[datetime]:
    trigger = build_trigger(schedule)
    previous: datetime | None = None
    now = after.astimezone(schedule.tz)
    for _ in range(count):
        at = trigger.get_next_fire_time(previous, now)
        if at is None:
            return
        yield at
        previous, now = at, at


@functools.lru_cache(maxsize=4096)
def describe(schedule: Schedule) -> str:
    """The schedule in English with its time zone, e.g. 'At 02:00 (Europe/Sofia)'."""
    if schedule.every_seconds is not None:
        text = f"Every {_duration_words(schedule.every_seconds)}"
    elif schedule.once_at is not None:
        text = f"Once, at {schedule.once_at.isoformat(sep=' ')}"
    else:
        assert schedule.crontab is not None
        text = _describe_crontab(schedule.crontab)
    return f"{text} ({schedule.timezone})"


def _describe_crontab(cron: Crontab) -> str:
    fields = MACROS.get(cron.text.lower(), cron.text).split()
    if len(cron.weekdays) == 7:
        fields[4] = "*"  # "0-7" reads as "Sunday through Sunday" otherwise
    options = Options()
    options.use_24hour_time_format = True
    return str(ExpressionDescriptor(" ".join(fields), options).get_description())


def _duration_words(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}s" if count != 1 else unit
    return f"{seconds} seconds" if seconds != 1 else "second"
