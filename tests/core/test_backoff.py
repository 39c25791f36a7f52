"""The one backoff, checked against the curve written out by hand and with fixed draws."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from cronsole.core.retry import Retryable, backoff, retry_after, with_retries
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

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    assert with_retries(call, base=1.0, cap=60.0, wait=wait, rng=FixedRandom(0.0)) == "ok"
    assert waits == [5.0, 2.0]


def test_http_retries_give_up_with_the_last_error() -> None:
    def call() -> str:
        raise Retryable("still busy")

    with pytest.raises(Retryable, match="still busy"):
        with_retries(call, attempts=3, wait=lambda _: False)


NOW = datetime(2026, 10, 21, 7, 27, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"Retry-After": "120"}, 120.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, 30.0),  # RFC 9110's HTTP date
        ({"Retry-After": "Wed, 21 Oct 2026 07:00:00 GMT"}, 0.0),  # already past: at once
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # OpenAI's, finer, first
        ({"retry-after-ms": "soon", "Retry-After": "9"}, 9.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "1e400"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_dates_and_milliseconds(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert retry_after(headers, NOW) == seconds


def test_a_server_asking_too_long_a_wait_is_left_for_the_next_run() -> None:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        raise Retryable("HTTP 503", after=3600)

    with pytest.raises(Retryable, match="asks to wait 1h, longer than 5m: the next run"):
        with_retries(call, wait=lambda _: False, longest_asked=300)
    assert len(calls) == 1


def test_a_wait_cut_short_ends_the_retries_at_once() -> None:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        raise Retryable("HTTP 429", after=60)

    with pytest.raises(Retryable, match="HTTP 429"):
        with_retries(call, attempts=5, wait=lambda _: True)  # cancelled during the first wait
    assert len(calls) == 1
