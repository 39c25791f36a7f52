"""Crontab fire times on the local wall clock, mapped to instants by one rule.

The rule (README, Schedules):
- fixed-time schedules (neither the minute nor the hour field starts with `*`): a wall time in
  a spring-forward gap fires once, shifted forward by the gap; a wall time in a repeated hour
  fires once, at its first occurrence;
- all other schedules follow real time: every instant whose local wall time matches, none in a
  gap, both copies of a repeated hour;
- fires that land on the same instant are one fire.

Real time is cut at the zone's offset changes into segments of constant offset. Inside a
segment wall time and real time move together, so its fires are the matching wall times in its
wall range, each minus the offset. What the rule adds happens at a segment's start: after a
fall-back a fixed-time schedule skips the walls it already had; after a spring-forward it also
takes the gap's walls, at their pre-change offset (that is the shift forward by the gap).
"""

from __future__ import annotations

import bisect
import functools
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .crontab import Crontab

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
PROBE = timedelta(hours=6)  # a zone's offset changes are taken to be further apart than this
HORIZON_YEARS = 100  # no fire within this many years: the schedule has none left
LAST_YEAR = 9000


@dataclass(frozen=True)
class Fire:
    at: datetime  # aware, in the schedule's zone
    note: str | None = None


@dataclass(frozen=True)
class Segment:
    """Instants [start, end) (aware UTC) at one UTC offset, with its neighbours' offsets."""

    start: datetime
    end: datetime
    offset: timedelta
    before: timedelta
    after: timedelta

    def wall(self, instant: datetime, offset: timedelta | None = None) -> datetime:
        """The naive wall time of an instant at this segment's offset (or another)."""
        return instant.replace(tzinfo=None) + (self.offset if offset is None else offset)


def crontab_fires(cron: Crontab, tz: ZoneInfo, after: datetime) -> Iterator[Fire]:
    """Fires strictly after `after` (aware), oldest first, for up to HORIZON_YEARS."""
    floor = after.astimezone(UTC)
    stop = datetime(min(floor.year + HORIZON_YEARS, LAST_YEAR), 1, 1, tzinfo=UTC)
    for segment in _segments(tz, floor):
        if segment.start >= stop:
            return
        for at, note in _segment_fires(cron, segment, floor):
            if at > floor:
                yield Fire(at.astimezone(tz), note)


def _segment_fires(
    cron: Crontab, seg: Segment, floor: datetime
) -> Iterator[tuple[datetime, str | None]]:
    """(UTC instant, DST note) of one segment's fires, in order, no instant twice."""
    start = seg.wall(seg.start)
    if cron.fixed_time and seg.before > seg.offset:
        start = seg.wall(seg.start, seg.before)  # repeated after a fall-back: had them already
    walls = _walls(cron, max(start, seg.wall(floor)), seg.wall(seg.end))
    fires: Iterator[tuple[datetime, str | None]] = (
        (_instant(wall, seg.offset), _repeat_note(cron, seg, wall)) for wall in walls
    )
    if cron.fixed_time and seg.before < seg.offset:  # a gap opened at seg.start
        gap = _walls(
            cron,
            max(seg.wall(seg.start, seg.before), seg.wall(floor, seg.before)),
            seg.wall(seg.start),
        )
        shifted = ((_instant(wall, seg.before), _gap_note(wall, seg)) for wall in gap)
        fires = heapq.merge(shifted, fires, key=lambda fire: fire[0])
    last = None
    for at, note in fires:
        if at != last:
            yield at, note
        last = at


def _instant(wall: datetime, offset: timedelta) -> datetime:
    return (wall - offset).replace(tzinfo=UTC)


def _repeat_note(cron: Crontab, seg: Segment, wall: datetime) -> str | None:
    if seg.after < seg.offset and wall >= seg.wall(seg.end, seg.after):
        if cron.fixed_time:
            return f"DST: {wall:%H:%M} happens twice on {wall:%Y-%m-%d}; fires at the first"
        return f"DST: the first {wall:%H:%M} of two on {wall:%Y-%m-%d}"
    if seg.before > seg.offset and wall < seg.wall(seg.start, seg.before):
        return f"DST: the second {wall:%H:%M} on {wall:%Y-%m-%d} (clocks went back)"
    return None


def _gap_note(wall: datetime, seg: Segment) -> str:
    real = wall + (seg.offset - seg.before)
    return f"DST gap: {wall:%H:%M} does not exist on {wall:%Y-%m-%d}; fires at {real:%H:%M}"


def _walls(cron: Crontab, low: datetime, high: datetime) -> Iterator[datetime]:
    """Matching wall times (naive, whole minutes) in [low, high)."""
    wall: datetime | None = _ceil_minute(low)
    while wall is not None and (wall := next_wall(cron, wall, high)) is not None:
        yield wall
        wall = wall + MINUTE


def _ceil_minute(when: datetime) -> datetime:
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + MINUTE


def next_wall(cron: Crontab, wall: datetime, high: datetime) -> datetime | None:
    """The first wall time at or after `wall` (whole minutes) that matches, if before `high`."""
    while wall < high:
        if wall.month not in cron.months:
            wall = _next_month(cron, wall)
        elif not cron.day_matches(wall.date()):
            wall = _midnight(wall) + DAY
        elif wall.hour not in cron.hours:
            wall = _later(wall, cron.hours, wall.hour, "hour")
        elif wall.minute not in cron.minutes:
            wall = _later(wall, cron.minutes, wall.minute, "minute")
        else:
            return wall
    return None


def _next_month(cron: Crontab, wall: datetime) -> datetime:
    later = bisect.bisect_right(cron.months, wall.month)
    first = wall.replace(day=1, hour=0, minute=0)
    if later < len(cron.months):
        return first.replace(month=cron.months[later])
    return first.replace(year=wall.year + 1, month=cron.months[0])


def _midnight(wall: datetime) -> datetime:
    return wall.replace(hour=0, minute=0)


def _later(wall: datetime, allowed: tuple[int, ...], current: int, unit: str) -> datetime:
    """The next allowed hour (or minute) later in the day (or hour), else the next day (hour)."""
    later = bisect.bisect_right(allowed, current)
    if unit == "hour":
        if later < len(allowed):
            return wall.replace(hour=allowed[later], minute=0)
        return _midnight(wall) + DAY
    if later < len(allowed):
        return wall.replace(minute=allowed[later])
    return wall.replace(minute=0) + timedelta(hours=1)


def _segments(tz: ZoneInfo, floor: datetime) -> Iterator[Segment]:
    """The segments from the one holding `floor` on. Year ends cut segments too (the offset
    stays), so a zone without changes still yields bounded segments."""
    year = max(floor.year - 1, 1)
    start = datetime(year, 1, 1, tzinfo=UTC)
    offset = before = _offset(tz, start)
    for at, new in _changes(tz, year) + _changes(tz, year + 1):
        if at <= floor:
            start, before, offset = at, offset, new
    for year in range(floor.year, LAST_YEAR + 1):
        for at, changed in (*_changes(tz, year), (datetime(year + 1, 1, 1, tzinfo=UTC), None)):
            if at <= start:
                continue
            following = offset if changed is None else changed
            yield Segment(start, at, offset, before, following)
            start, before, offset = at, offset, following


@functools.lru_cache(maxsize=4096)
def _changes(tz: ZoneInfo, year: int) -> tuple[tuple[datetime, timedelta], ...]:
    """(instant, new offset) of each offset change in the UTC year, found by probing every
    PROBE and bisecting to the second (zoneinfo does not list its transitions)."""
    found: list[tuple[datetime, timedelta]] = []
    probe, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    offset = _offset(tz, probe)
    while probe < end:
        ahead = min(probe + PROBE, end)
        new = _offset(tz, ahead)
        if new != offset:
            found.append((_first_change(tz, probe, ahead, offset), new))
            offset = new
        probe = ahead
    return tuple(found)


def _first_change(tz: ZoneInfo, low: datetime, high: datetime, offset: timedelta) -> datetime:
    """The first second in (low, high] whose offset is not `offset`."""
    while high - low > SECOND:
        middle = low + SECOND * ((high - low) // SECOND // 2)
        if _offset(tz, middle) == offset:
            low = middle
        else:
            high = middle
    return high


def _offset(tz: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None
    return offset
