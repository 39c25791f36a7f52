"""Durations as operators write them: 90, "90s", "5m", "2h", "1d", "1h30m"."""

from __future__ import annotations

import math
import re

from .errors import UsageError

PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.IGNORECASE)
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LONGEST = 3650 * 86400.0  # ten years: anything longer is a typo (and overflows datetimes)


def parse_duration(value: str | int | float, what: str = "duration") -> float:
    """Seconds in a duration; UsageError naming the bad value otherwise."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UsageError(f"bad {what} {value!r}: use a number of seconds or e.g. 30s, 5m, 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif value.strip().startswith("-"):
        raise UsageError(f"bad {what} {value!r}: must not be negative")
    else:
        seconds = _parse_text(value.strip(), what)
    if not math.isfinite(seconds):
        raise UsageError(f"bad {what} {value!r}: must be a finite number of seconds")
    if seconds < 0:
        raise UsageError(f"bad {what} {value!r}: must not be negative")
    if seconds > LONGEST:
        raise UsageError(f"bad {what} {value!r}: at most 3650d")
    return seconds


def _parse_text(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    parts = PART.findall(text)
    if not parts or PART.sub("", text).strip():
        raise UsageError(f"bad {what} {text!r}: use a number of seconds or e.g. 30s, 5m, 2h")
    return sum(float(number) * SECONDS[unit.lower()] for number, unit in parts)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2])
