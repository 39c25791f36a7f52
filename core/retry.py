"""The one backoff (item retries, HTTP retries, store writes) and bounded retries that honour a
server's Retry-After."""

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


RANDOM = random.Random()  # the source unless one is given (tests give a seeded one)


def backoff(
    attempt: int, base: float, cap: float, spread: float = 0.5, rng: random.Random = RANDOM
) -> float:
    """The wait after failed try `attempt` (1 for the first): base·2^(attempt-1), capped at
    `cap`, times a factor drawn between 1 - spread and 1 so that clients do not stampede
    (`spread=0`: the curve itself)."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return float(delay * (1.0 - spread * rng.random()))


def with_retries(
    call: Callable[[], T],
    attempts: int = 4,
    base: float = 1.0,
    cap: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    give_up: Callable[[], bool] = lambda: False,
    rng: random.Random = RANDOM,
) -> T:
    """Call until it succeeds, raises something not Retryable, or attempts run out (then the
    last Retryable is raised). `give_up` is checked before each wait (cancellation)."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Retryable as exc:
            if attempt == attempts or give_up():
                raise
            delay = backoff(attempt, base, cap, rng=rng)
            sleep(min(cap, max(delay, exc.after or 0.0)))
    raise AssertionError("unreachable")
