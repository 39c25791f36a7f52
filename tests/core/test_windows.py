"""Window backfill with a catch-up bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronsole.core.windows import floor_to, plan_windows

HOUR = timedelta(hours=1)
NOW = datetime(2026, 3, 2, 16, 5, tzinfo=UTC)


def hours(plan_starts: list[datetime]) -> list[int]:
    return [w.hour for w in plan_starts]


def test_every_complete_window_since_the_last_done() -> None:
    plan = plan_windows(datetime(2026, 3, 2, 12, tzinfo=UTC), NOW, HOUR, 48)
    assert hours(plan.windows) == [13, 14, 15] and plan.missed == 0


def test_nothing_done_yet_means_the_last_complete_window() -> None:
    assert hours(plan_windows(None, NOW, HOUR, 48).windows) == [15]


def test_up_to_date_means_nothing_to_do() -> None:
    assert plan_windows(datetime(2026, 3, 2, 15, tzinfo=UTC), NOW, HOUR, 48).windows == []


def test_windows_beyond_the_bound_are_counted_not_processed() -> None:
    plan = plan_windows(datetime(2026, 3, 2, 2, tzinfo=UTC), NOW, HOUR, 4)
    assert hours(plan.windows) == [12, 13, 14, 15] and plan.missed == 9


def test_floor_to_works_in_utc_for_any_zone() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 2, 18, 59, tzinfo=ZoneInfo("Europe/Sofia"))
    assert floor_to(local, HOUR) == datetime(2026, 3, 2, 16, tzinfo=UTC)
    assert floor_to(local, timedelta(days=1)) == datetime(2026, 3, 2, tzinfo=UTC)
