"""The one backoff (item retries, HTTP retries, store writes) and bounded retries that honour a
server's Retry-After."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from .durations import format_duration

T = TypeVar("T")


class Retryable(Exception):
    """Raise (or wrap) to ask for another attempt; `after` is the server's Retry-After."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


RANDOM = random.Random()  # the source unless one is given (tests give a seeded one)


def backoff(
    attempt: int, base: float, cap: float, spread: float = 0.5, rng: random.Random = RANDOM
) -> float:
    """The wait after failed try `attempt` (1 for the first): base·2^(attempt-1), capped at
    `cap`, times a factor drawn between 1 - spread and 1 so that clients do not stampede
    (`spread=0`: the curve itself)."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return float(delay * (1.0 - spread * rng.random()))


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long a server asks us to wait, in seconds: `retry-after-ms` (as OpenAI sends it),
    else `Retry-After` as seconds or as an HTTP date; None when it asks nothing readable."""
    lowered = {key.lower(): value.strip() for key, value in headers.items()}
    for key, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        text = lowered.get(key)
        if not text:
            continue
        try:
            seconds = float(text) * scale
        except ValueError:
            if key == "retry-after-ms":
                continue
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                continue
            if when.tzinfo is None:  # an HTTP date is GMT
                when = when.replace(tzinfo=UTC)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
        if seconds == seconds and seconds != float("inf"):  # not NaN, not infinite
            return max(0.0, seconds)
    return None


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def with_retries(
    call: Callable[[], T],
    attempts: int = 4,
    base: float = 1.0,
    cap: float = 60.0,
    wait: Callable[[float], bool] = _sleep,
    rng: random.Random = RANDOM,
    longest_asked: float | None = None,
) -> T:
    """Call until it succeeds, raises something not Retryable, or attempts run out (then the
    last Retryable is raised). Between tries it waits the backoff, or longer when the server
    asks (`Retryable.after`); a server asking more than `longest_asked` is not waited for (the
    last error is raised at once, saying so). `wait(seconds)` returns True when the wait was
    cut short (a cancelled run): then the last error is raised at once too."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Retryable as exc:
            if attempt == attempts:
                raise
            asked = exc.after or 0.0
            if longest_asked is not None and asked > longest_asked:
                raise Retryable(
                    f"{exc}; the server asks to wait {format_duration(asked)}, longer than "
                    f"{format_duration(longest_asked)}: the next run tries again",
                    exc.after,
                ) from None
            if wait(max(backoff(attempt, base, cap, rng=rng), asked)):
                raise
    raise AssertionError("unreachable")
