"""Time as a parameter: every service takes a clock, tests pass a FrozenClock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from .errors import UsageError


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards (for budgets)."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)


def iso(when: datetime) -> str:
    """The one text form of an instant in the store: UTC, microseconds, sortable as text."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """The inverse of `iso`; anything else is refused with ValueError."""
    if len(text) == 27 and text[10] == "T" and text[-1] == "Z":  # fast path, same result
        return datetime.fromisoformat(text)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


YEARS = range(1970, 9000)  # beyond, zone conversion and date arithmetic overflow


def parse_moment(text: str, what: str, tz: tzinfo | None = None) -> datetime:
    """An operator's ISO date or date/time, aware: a naive one is in `tz` (the local zone when
    None). One line for anything else, and for years outside 1970..8999."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"bad {what} {text!r}: use an ISO date or date/time, e.g. 2027-03-14T09:00"
        ) from None
    if when.year not in YEARS:
        raise UsageError(f"bad {what} {text!r}: give a date from 1970 to 8999")
    return when if when.tzinfo else when.replace(tzinfo=tz) if tz else when.astimezone()
