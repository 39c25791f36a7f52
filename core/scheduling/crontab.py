"""Crontab expressions with the semantics of `man 5 crontab`, parsed into explicit value sets.

Parsing ourselves (rather than handing the text to APScheduler) gives standard weekday numbers
(0 and 7 are Sunday; APScheduler 3 counts from Monday), the day-of-month OR day-of-week rule,
and one error message per mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """A parsed expression: the allowed values of each field, and which fields were `*`."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Sunday .. 6 = Saturday (7 folded into 0)
    day_star: bool
    weekday_star: bool

    @property
    def fixed_time(self) -> bool:
        """True when minute and hour are single values: such a job runs once in a repeated hour."""
        return len(self.minutes) == 1 and len(self.hours) == 1


class CrontabError(ValueError):
    pass


def parse_crontab(text: str) -> Crontab:
    expanded = MACROS.get(text.strip().lower(), text)
    parts = expanded.split()
    if len(parts) != 5:
        raise CrontabError(
            f"a crontab expression has 5 fields (minute hour day month weekday), got {len(parts)}"
        )
    values = [_parse_field(part, spec) for part, spec in zip(parts, FIELDS, strict=True)]
    weekdays = tuple(sorted({v % 7 for v in values[4]}))
    return Crontab(
        text=text.strip(),
        minutes=tuple(values[0]),
        hours=tuple(values[1]),
        days=tuple(values[2]),
        months=tuple(values[3]),
        weekdays=weekdays,
        day_star=parts[2].startswith("*"),
        weekday_star=parts[4].startswith("*"),
    )


def _parse_field(text: str, spec: FieldSpec) -> list[int]:
    result: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CrontabError(f"empty list element in {spec.name} field {text!r}")
        result.update(_parse_part(part, spec))
    return sorted(result)


def _parse_part(part: str, spec: FieldSpec) -> range:
    body, _, step_text = part.partition("/")
    step = _number(step_text, spec, "step") if step_text else 1
    if step_text and step < 1:
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
        if step_text:
            high = spec.high  # "5/15" means from 5 to the end, every 15
    return range(low, high + 1, step)


def _value(text: str, spec: FieldSpec) -> int:
    lowered = text.lower()
    if lowered in spec.names:
        return spec.names.index(lowered) + spec.name_base
    number = _number(text, spec, "value")
    if not spec.low <= number <= spec.high:
        raise CrontabError(
            f"{spec.name} value {number} is out of range {spec.low}-{spec.high}"
        )
    return number


def _number(text: str, spec: FieldSpec, what: str) -> int:
    if not text.isdigit():
        raise CrontabError(f"{text!r} is not a valid {spec.name} {what}")
    return int(text)
