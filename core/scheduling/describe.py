"""Schedules in English, e.g. 'At 02:00, Monday through Friday (Europe/Sofia)'.

The time of day comes from cron-descriptor; the days and months are composed here from the
parsed value sets, because cron-descriptor reads the text, not the semantics: it does not know
the day-of-month OR day-of-week rule, that `mon/2` reaches Sunday, or that `0,7` is one day.
"""

from __future__ import annotations

import calendar
import functools

from cron_descriptor import ExpressionDescriptor, Options

from .crontab import Crontab, ordinal
from .triggers import Schedule

WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@functools.lru_cache(maxsize=4096)
def describe(schedule: Schedule) -> str:
    """The schedule in English with its time zone."""
    if schedule.every_seconds is not None:
        text = f"Every {duration_words(schedule.every_seconds)}"
    elif schedule.once_at is not None:
        text = f"Once, at {schedule.once_at.isoformat(sep=' ')}"
    else:
        assert schedule.crontab is not None
        text = describe_crontab(schedule.crontab)
    return f"{text} ({schedule.timezone})"


def describe_crontab(cron: Crontab) -> str:
    parts = [_time_of_day(cron), _days(cron), _months(cron)]
    return ", ".join(part for part in parts if part)


def _time_of_day(cron: Crontab) -> str:
    if cron.minute_star and cron.hour_star and len(cron.minutes) == 60 and len(cron.hours) == 24:
        return "Every minute"
    times = [f"{h:02d}:{m:02d}" for h in cron.hours for m in cron.minutes]
    if cron.fixed_time and len(times) <= 4:
        return "At " + _join(times)
    minute, hour = cron.fields[:2]
    options = Options()
    options.use_24hour_time_format = True
    text = ExpressionDescriptor(f"{minute} {hour} * * *", options).get_time_of_day_description()
    text = str(text).removesuffix(", every hour")
    return text[:1].upper() + text[1:]


def _days(cron: Crontab) -> str:
    all_days, all_weekdays = len(cron.days) == 31, len(cron.weekdays) == 7
    if cron.day_star or cron.weekday_star:  # both must match
        if all_days and all_weekdays:
            return ""
        if all_weekdays:
            return _month_days(cron.days)
        if all_days:
            return "on " + _weekdays(cron.weekdays)
        return f"{_month_days(cron.days)}, if it is a {_weekdays(cron.weekdays, 'or')}"
    if all_days or all_weekdays:  # either may match, and one always does
        return "every day"
    return f"{_month_days(cron.days)}, and on every {_weekdays(cron.weekdays)}"


def _month_days(days: tuple[int, ...]) -> str:
    step = _step(days)
    if step and step > 1:
        return (
            f"every {ordinal(step)} day of the month from the {ordinal(days[0])} "
            f"to the {ordinal(days[-1])}"
        )
    if len(days) == 1:
        return f"on the {ordinal(days[0])} of the month"
    return f"on days {_join(_runs(days, str))} of the month"


def _weekdays(weekdays: tuple[int, ...], last: str = "and") -> str:
    ordered = sorted(weekdays, key=lambda d: d if d or 6 not in weekdays else 7)
    return _join(_runs(tuple(ordered), lambda d: WEEKDAYS[d % 7], modulo=7), last)


def _months(cron: Crontab) -> str:
    if len(cron.months) == 12:
        return ""
    return "only in " + _join(_runs(cron.months, lambda m: calendar.month_name[m]))


def _step(values: tuple[int, ...]) -> int | None:
    """The common difference when the values are an evenly spaced run of three or more."""
    if len(values) < 3:
        return None
    step = values[1] - values[0]
    return step if all(b - a == step for a, b in zip(values, values[1:], strict=False)) else None


def _runs(values: tuple[int, ...], name: object, modulo: int = 0) -> list[str]:
    """Consecutive values of three or more read as 'A through B'."""
    named = name if callable(name) else str
    out: list[str] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i < len(values) and _next_to(values[i - 1], values[i], modulo):
            continue
        run = values[start:i]
        if len(run) >= 3:
            out.append(f"{named(run[0])} through {named(run[-1])}")
        else:
            out.extend(named(v) for v in run)
        start = i
    return out


def _next_to(a: int, b: int, modulo: int) -> bool:
    """b follows a; with a modulo (weekdays) Sunday (0) also follows Saturday (6)."""
    return b - a == 1 or bool(modulo) and (a, b) == (modulo - 1, 0)


def _join(words: list[str], last: str = "and") -> str:
    if len(words) <= 2:
        return f" {last} ".join(words)
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def duration_words(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}s" if count != 1 else unit
    return f"{seconds} seconds" if seconds != 1 else "second"
