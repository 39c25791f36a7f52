"""The one backoff, checked against the curve written out by hand and with fixed draws."""

from __future__ import annotations

import random

import pytest

from cronsole.core.retry import Retryable, backoff, with_retries
from tests.conftest import FixedRandom


def test_the_curve_doubles_from_base_and_stops_at_the_cap() -> None:
    waits = [backoff(n, 30, 3600, spread=0) for n in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_the_spread_scales_each_wait_down_by_at_most_half() -> None:
    assert backoff(3, 30, 3600, rng=FixedRandom(0.0)) == 120
    assert backoff(3, 30, 3600, rng=FixedRandom(1.0)) == 60
    assert backoff(3, 30, 3600, spread=0.25, rng=FixedRandom(1.0)) == 90


def test_a_seeded_source_gives_the_same_waits_again() -> None:
    first = [backoff(n, 1, 60, rng=random.Random(7)) for n in range(1, 6)]
    again = [backoff(n, 1, 60, rng=random.Random(7)) for n in range(1, 6)]
    assert first == again and len(set(first)) == 5


def test_store_writes_wait_about_24_seconds_in_all_before_giving_up() -> None:
    # the runner's promise (core/runner.py `_stored`): 8 tries, 7 waits, no spread
    assert sum(backoff(n, 0.25, 8.0, spread=0) for n in range(1, 8)) == 23.75


def test_http_retries_wait_the_backoff_or_the_servers_retry_after_whichever_is_longer() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def call() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Retryable("busy", after=5.0)
        if len(calls) == 2:
            raise Retryable("busy")
        return "ok"

    assert with_retries(call, base=1.0, cap=60.0, sleep=waits.append, rng=FixedRandom(0.0)) == "ok"
    assert waits == [5.0, 2.0]


def test_http_retries_give_up_with_the_last_error() -> None:
    def call() -> str:
        raise Retryable("still busy")

    with pytest.raises(Retryable, match="still busy"):
        with_retries(call, attempts=3, sleep=lambda _: None)
