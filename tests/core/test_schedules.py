"""Schedules follow `man 5 crontab`: weekday numbers, day OR weekday, DST as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cronsole.core.scheduling.describe import describe
from cronsole.core.scheduling.triggers import (
    ScheduleError,
    fires_between,
    next_fire_times,
    parse_schedule,
)

SOFIA = ZoneInfo("Europe/Sofia")


def fires(text: str, after: datetime, count: int = 3, tz: str = "UTC") -> list[datetime]:
    return [f.at for f in next_fire_times(parse_schedule(text, tz), after, count)]


@pytest.mark.parametrize("weekday", ["0", "7", "sun", "SUN"])
def test_sunday_is_zero_or_seven_or_its_name(weekday: str) -> None:
    # 2026-11-22 is a Sunday.
    got = fires(f"0 12 * * {weekday}", datetime(2026, 11, 16, tzinfo=UTC), 2)
    assert [d.date().isoformat() for d in got] == ["2026-11-22", "2026-11-29"]


def test_weekday_ranges_count_from_sunday() -> None:
    got = fires("0 9 * * 1-5", datetime(2026, 11, 21, tzinfo=UTC), 5)  # from a Saturday
    assert [d.strftime("%a") for d in got] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_day_of_month_or_weekday_when_both_are_restricted() -> None:
    # "on the 1st, and on every Monday": Mon 2026-11-23, Mon 11-30, Tue 12-01 (the 1st)
    got = fires("0 9 1 * mon", datetime(2026, 11, 22, tzinfo=UTC), 3)
    assert [d.date().isoformat() for d in got] == ["2026-11-23", "2026-11-30", "2026-12-01"]


def test_day_restricted_with_weekday_star_means_that_day_only() -> None:
    got = fires("0 0 13 * *", datetime(2026, 1, 1, tzinfo=UTC), 2)
    assert [d.date().isoformat() for d in got] == ["2026-01-13", "2026-02-13"]


def test_steps_lists_and_macros() -> None:
    assert [d.minute for d in fires("5,20-30/5 * * * *", datetime(2026, 1, 1, tzinfo=UTC), 4)] == [
        5,
        20,
        25,
        30,
    ]
    assert fires("@daily", datetime(2026, 1, 1, 12, tzinfo=UTC), 1) == [
        datetime(2026, 1, 2, tzinfo=UTC)
    ]


def test_intervals_are_anchored_so_every_process_computes_the_same_ticks() -> None:
    one = fires("every 5m", datetime(2026, 1, 1, 0, 1, 7, tzinfo=UTC), 2)
    two = fires("every 5m", datetime(2026, 1, 1, 0, 3, 59, tzinfo=UTC), 2)
    assert (
        one
        == two
        == [datetime(2026, 1, 1, 0, 5, tzinfo=UTC), datetime(2026, 1, 1, 0, 10, tzinfo=UTC)]
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("* * * *", "5 fields"),
        ("60 * * * *", "out of range 0-59"),
        ("* * * * 8", "0-7"),
        ("5-1 * * * *", "runs backwards"),
        ("*/0 * * * *", "step"),
        ("every 0s", "positive"),
        ("once tomorrow", "ISO"),
        ("* * * foo *", "not a valid month"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        parse_schedule("0 2 * * *", "Mars/Olympus")


def test_descriptions_read_like_english_with_the_zone() -> None:
    assert describe(parse_schedule("0 2 * * *", "Europe/Sofia")) == "At 02:00 (Europe/Sofia)"
    assert describe(parse_schedule("every 5m")) == "Every 5 minutes (UTC)"


def test_dst_gap_fires_once_shifted_and_is_flagged() -> None:
    # Europe/Sofia springs from 03:00 to 04:00 on 2026-03-29: 03:30 does not exist that day.
    got = next_fire_times(
        parse_schedule("30 3 * * *", "Europe/Sofia"), datetime(2026, 3, 28, 12, tzinfo=SOFIA), 2
    )
    assert got[0].at.astimezone(SOFIA).strftime("%m-%d %H:%M") == "03-29 04:30"
    assert got[0].note is not None and "03:30 does not exist" in got[0].note
    assert got[1].at.astimezone(SOFIA).strftime("%m-%d %H:%M") == "03-30 03:30"
    assert got[1].note is None


def test_dst_repeated_hour_runs_a_fixed_time_job_once() -> None:
    # On 2026-10-25 Sofia falls back from 04:00 to 03:00: 03:30 happens twice.
    got = fires("30 3 * * *", datetime(2026, 10, 24, 12, tzinfo=SOFIA), 2, "Europe/Sofia")
    assert [d.astimezone(SOFIA).strftime("%m-%d %H:%M") for d in got] == [
        "10-25 03:30",
        "10-26 03:30",
    ]


def test_dst_repeated_hour_keeps_wildcard_schedules_on_real_time() -> None:
    start = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 03:30 EEST
    got = fires("0 * * * *", start, 3, "Europe/Sofia")
    assert [g - start for g in got] == [
        timedelta(minutes=30),
        timedelta(minutes=90),
        timedelta(minutes=150),
    ]


def test_fires_between_is_bounded_and_exclusive_of_the_start() -> None:
    schedule = parse_schedule("every 1m")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ticks = list(fires_between(schedule, start, start + timedelta(minutes=3)))
    assert ticks == [start + timedelta(minutes=m) for m in (1, 2, 3)]
    assert len(list(fires_between(schedule, start, start + timedelta(days=9), cap=100))) == 100


def test_the_remembered_next_fire_is_right_as_time_moves_either_way() -> None:
    from cronsole.core.scheduling.triggers import next_fire

    schedule = parse_schedule("*/15 * * * *", "UTC")
    tick = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    for now, expected in (
        (tick - timedelta(minutes=14), tick),
        (tick - timedelta(seconds=1), tick),
        (tick + timedelta(seconds=1), tick + timedelta(minutes=15)),
        (tick - timedelta(minutes=20), tick - timedelta(minutes=15)),
    ):
        found = next_fire(schedule, now)  # same as computing it afresh, each time
        assert found is not None and found.at == expected == next_fire_times(schedule, now, 1)[0].at
