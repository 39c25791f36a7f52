"""Crontab expressions with the semantics of `man 5 crontab`, parsed into explicit value sets.

Parsing ourselves (rather than handing the text to APScheduler) gives standard weekday numbers
(0 and 7 are Sunday; APScheduler 3 counts from Monday), the day-of-month OR day-of-week rule,
and one error message per mistake.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
LONGEST_MONTH = {m: (29 if m == 2 else calendar.monthrange(2001, m)[1]) for m in range(1, 13)}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


FIELDS = (
    FieldSpec("minute", 0, 59),
    FieldSpec("hour", 0, 23),
    FieldSpec("day of month", 1, 31),
    FieldSpec("month", 1, 12, tuple(MONTHS), 1),
    FieldSpec("day of week", 0, 7, tuple(DAYS), 0),
)


@dataclass(frozen=True)
class Crontab:
    """A parsed expression: the allowed values of each field, and which fields start with `*`."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Sunday .. 6 = Saturday (7 folded into 0)
    day_star: bool
    weekday_star: bool
    minute_star: bool = False
    hour_star: bool = False

    @property
    def fixed_time(self) -> bool:
        """Debian cron's "fixed-time job": neither the minute nor the hour field starts with `*`.
        Such a job fires once when DST skips or repeats its time (README, Schedules)."""
        return not (self.minute_star or self.hour_star)

    @property
    def fields(self) -> list[str]:
        """The five fields as written, macros expanded."""
        return MACROS.get(self.text.lower(), self.text).split()

    def day_matches(self, day: date) -> bool:
        """man 5 crontab: when either day field starts with `*`, both must match (AND);
        when both are restricted, either may (OR)."""
        dom = day.day in self._day_set
        dow = (day.weekday() + 1) % 7 in self._weekday_set
        return dom and dow if self.day_star or self.weekday_star else dom or dow

    @functools.cached_property
    def _day_set(self) -> frozenset[int]:
        return frozenset(self.days)

    @functools.cached_property
    def _weekday_set(self) -> frozenset[int]:
        return frozenset(self.weekdays)


class CrontabError(ValueError):
    pass


def parse_crontab(text: str) -> Crontab:
    stripped = text.strip()
    if stripped.startswith("@") and stripped.lower() not in MACROS:
        if stripped.lower() == "@reboot":
            raise CrontabError(
                "@reboot is not supported: cronsole runs jobs on a schedule "
                "(use catch_up for runs missed while it was stopped)"
            )
        raise CrontabError(f"unknown macro {stripped!r} (known: {', '.join(MACROS)})")
    parts = MACROS.get(stripped.lower(), stripped).split()
    if len(parts) != 5:
        raise CrontabError(
            f"a crontab expression has 5 fields (minute hour day month weekday), got {len(parts)}"
        )
    values = [_parse_field(part, spec) for part, spec in zip(parts, FIELDS, strict=True)]
    cron = Crontab(
        text=stripped,
        minutes=tuple(values[0]),
        hours=tuple(values[1]),
        days=tuple(values[2]),
        months=tuple(values[3]),
        weekdays=tuple(sorted({v % 7 for v in values[4]})),
        day_star=parts[2].startswith("*"),
        weekday_star=parts[4].startswith("*"),
        minute_star=parts[0].startswith("*"),
        hour_star=parts[1].startswith("*"),
    )
    _check_can_fire(cron)
    return cron


def _check_can_fire(cron: Crontab) -> None:
    """With the day fields ANDed (one starts with `*`), a day must exist in a chosen month.
    Every date falls on every weekday in some year, so the weekday cannot rule a date out."""
    if not (cron.day_star or cron.weekday_star):
        return
    if any(cron.days[0] <= LONGEST_MONTH[m] for m in cron.months):
        return
    names = [calendar.month_name[m] for m in cron.months]
    months = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    have = "has" if len(names) == 1 else "have"
    raise CrontabError(f"never fires: {months} {have} no {ordinal(cron.days[0])}")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _parse_field(text: str, spec: FieldSpec) -> list[int]:
    result: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CrontabError(f"empty list element in {spec.name} field {text!r}")
        result.update(_parse_part(part, spec))
    return sorted(result)


def _parse_part(part: str, spec: FieldSpec) -> range:
    body, slash, step_text = part.partition("/")
    if slash and not step_text:
        raise CrontabError(f"empty step in {spec.name} field {part!r}: write e.g. */5")
    step = _number(step_text, spec, "step") if step_text else 1
    if step < 1:
        raise CrontabError(f"step must be at least 1 in {spec.name} field {part!r}")
    if body == "*":
        low, high = spec.low, spec.high
    elif "-" in body:
        first, _, last = body.partition("-")
        low, high = _value(first, spec), _value(last, spec)
        if low > high:
            raise CrontabError(f"range {body!r} runs backwards in the {spec.name} field")
    else:
        low = high = _value(body, spec)
        if slash:
            high = spec.high  # "5/15" means from 5 to the end, every 15
    return range(low, high + 1, step)


def _value(text: str, spec: FieldSpec) -> int:
    lowered = text.lower()
    if lowered in spec.names:
        return spec.names.index(lowered) + spec.name_base
    number = _number(text, spec, "value")
    if not spec.low <= number <= spec.high:
        raise CrontabError(f"{spec.name} value {number} is out of range {spec.low}-{spec.high}")
    return number


def _number(text: str, spec: FieldSpec, what: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise CrontabError(f"{text!r} is not a valid {spec.name} {what}")
    return int(text)
