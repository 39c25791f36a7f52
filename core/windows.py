"""Fixed windows (e.g. hours) to process since the last one done, bounded by a catch-up limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class WindowPlan:
    windows: list[datetime]  # starts of complete windows to process, oldest first
    missed: int  # complete windows older than the catch-up bound, skipped and reported


def floor_to(at: datetime, size: timedelta) -> datetime:
    """The start of the window holding `at` (windows counted from the Unix epoch, UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((at.astimezone(UTC) - epoch) // size) * size


def plan_windows(
    last_done: datetime | None, now: datetime, size: timedelta, max_back: int
) -> WindowPlan:
    """Every complete window after `last_done` up to `now`, at most `max_back` of the newest;
    with nothing done yet, just the last complete one."""
    newest = floor_to(now, size) - size
    first = newest if last_done is None else last_done + size
    oldest_allowed = newest - size * (max_back - 1)
    missed = max(0, (oldest_allowed - first) // size)
    start = max(first, oldest_allowed)
    count = max(0, (newest - start) // size + 1)
    return WindowPlan([start + size * n for n in range(count)], missed)
