"""Bounded retries with exponential backoff and jitter, honouring a server's Retry-After."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Retryable(Exception):
    """Raise (or wrap) to ask for another attempt; `after` is the server's Retry-After."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """base·2^(attempt-1), capped, times a random 0.5–1.0 (so clients do not stampede)."""
    return float(min(cap, base * 2.0 ** max(0, attempt - 1)) * random.uniform(0.5, 1.0))


def with_retries(
    call: Callable[[], T],
    attempts: int = 4,
    base: float = 1.0,
    cap: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    give_up: Callable[[], bool] = lambda: False,
) -> T:
    """Call until it succeeds, raises something not Retryable, or attempts run out (then the
    last Retryable is raised). `give_up` is checked before each wait (cancellation)."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Retryable as exc:
            if attempt == attempts or give_up():
                raise
            delay = backoff_delay(attempt, base, cap)
            sleep(min(cap, max(delay, exc.after or 0.0)))
    raise AssertionError("unreachable")
