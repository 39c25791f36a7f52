"""An independent reference for crontab fire times, to check cronsole's trigger against.

It shares no code with cronsole.core.scheduling and uses another algorithm: fields are
predicates evaluated on each value (no value sets), days are walked one by one, and on a day
whose UTC offset is not constant it walks every real minute of UTC time, reads the local wall
clock through zoneinfo and applies the README's rule to what it saw:

- fixed-time (the minute and hour fields do not start with `*`): a wall time that occurred
  fires at its first occurrence; one that the clock jumped over fires at the instant of the jump
  plus its distance from the jump's start (shifted forward by the gap);
- otherwise every real minute whose wall time matches fires;
- one fire per instant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DAYS = "sun mon tue wed thu fri sat".split()
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MIN = timedelta(minutes=1)


def _number(text: str, names: list[str], base: int) -> int:
    low = text.lower()
    return names.index(low) + base if low in names else int(text)


def _predicate(
    text: str, low: int, high: int, names: Sequence[str] = (), base: int = 0
) -> Callable[[int], bool]:
    checks = []
    for element in text.split(","):
        span, slash, step = element.partition("/")
        every = int(step) if slash else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, b = span.split("-")
            first, last = _number(a, list(names), base), _number(b, list(names), base)
        else:
            first = _number(span, list(names), base)
            last = high if slash else first
        checks.append((first, last, every))
    return lambda v: any(a <= v <= b and (v - a) % s == 0 for a, b, s in checks)


class Reference:
    def __init__(self, expression: str, zone: str) -> None:
        fields = MACROS.get(expression.lower(), expression).split()
        self.tz = ZoneInfo(zone)
        minute = _predicate(fields[0], 0, 59)
        hour = _predicate(fields[1], 0, 23)
        self.dom = _predicate(fields[2], 1, 31)
        self.month = _predicate(fields[3], 1, 12, MONTHS, 1)
        dow = _predicate(fields[4], 0, 7, DAYS, 0)
        self.dow: Callable[[int], bool] = lambda d: dow(d) or (d == 0 and dow(7))
        self.either = not (fields[2].startswith("*") or fields[4].startswith("*"))
        self.fixed = not (fields[0].startswith("*") or fields[1].startswith("*"))
        hours, minutes = [h for h in range(24) if hour(h)], [m for m in range(60) if minute(m)]
        self.times = [(h, m) for h in hours for m in minutes]

    def day_ok(self, day: date) -> bool:
        if not self.month(day.month):
            return False
        dom, dow = self.dom(day.day), self.dow(day.isoweekday() % 7)
        return dom or dow if self.either else dom and dow

    def fires(self, after: datetime, count: int, years: int = 8) -> list[datetime]:
        """Up to `count` fires strictly after `after` (UTC instants), within `years`."""
        start = after.astimezone(UTC)
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        end = day + timedelta(days=366 * years)
        found: set[datetime] = set()
        while day < end:
            if self.day_ok(day):
                found.update(i for i in self._day_fires(day) if i > start)
            day += timedelta(days=1)
            # instants of later days are at least (day - 15h) in UTC
            horizon = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=15)
            if len([i for i in found if i < horizon]) >= count:
                break
        return sorted(found)[:count]

    def _day_fires(self, day: date) -> list[datetime]:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        low, high = midnight - timedelta(hours=15), midnight + timedelta(hours=39)
        offsets = {(low + timedelta(hours=h)).astimezone(self.tz).utcoffset() for h in range(55)}
        if len(offsets) == 1 and None not in offsets:
            offset = next(o for o in offsets if o is not None)
            return [midnight.replace(hour=h, minute=m) - offset for h, m in self.times]
        return self._walk(day, low, high)

    def _walk(self, day: date, low: datetime, high: datetime) -> list[datetime]:
        seen: dict[tuple[int, int], list[datetime]] = {}
        jumped: dict[tuple[int, int], datetime] = {}
        instant, wall = low, low.astimezone(self.tz).replace(tzinfo=None)
        while instant < high:
            following = instant + MIN
            next_wall = following.astimezone(self.tz).replace(tzinfo=None)
            if wall.date() == day:
                seen.setdefault((wall.hour, wall.minute), []).append(instant)
            skipped = wall + MIN
            while skipped < next_wall:  # the clock jumped over these walls
                if skipped.date() == day:
                    jumped[(skipped.hour, skipped.minute)] = following + (skipped - wall - MIN)
                skipped += MIN
            instant, wall = following, next_wall
        out = []
        for hm in self.times:
            if hm in seen:
                out.extend(seen[hm][:1] if self.fixed else seen[hm])
            elif hm in jumped and self.fixed:
                out.append(jumped[hm])
        return out


@functools.lru_cache(maxsize=1024)
def transitions(zone: str, first_year: int, last_year: int) -> list[datetime]:
    """Instants (to the hour) after which the zone's UTC offset differs: days whose offset at
    the end differs from the start are walked hour by hour."""
    tz = ZoneInfo(zone)
    found, day = [], datetime(first_year, 1, 1, tzinfo=UTC)
    while day.year <= last_year:
        following = day + timedelta(days=1)
        offset = day.astimezone(tz).utcoffset()
        if following.astimezone(tz).utcoffset() != offset:
            for hour in range(1, 25):
                instant = day + timedelta(hours=hour)
                if instant.astimezone(tz).utcoffset() != offset:
                    found.append(instant)
                    break
        day = following
    return found
