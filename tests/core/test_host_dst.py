"""The live host across DST changes: APScheduler's own loop with the clock injected, and
catch-up and backfill listing the same ticks as `fire_times`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import apscheduler.schedulers.base
import pytest

from cronsole.core import fire_times
from cronsole.core.clock import FrozenClock
from cronsole.core.models import CatchUp, RunStatus
from cronsole.core.scheduling.catchup import plan_catch_up
from cronsole.core.scheduling.host import Host
from cronsole.core.scheduling.triggers import parse_schedule
from tests.conftest import Workspace, eventually

NY = ZoneInfo("America/New_York")
JOBS = '''
from cronsole.core import JobContext, job

@job(schedule="30 1,2 * * *", timezone="America/New_York")
def fixed(ctx: JobContext) -> None:
    """A fixed time: 02:30 is in the spring gap, 01:30 in the repeated hour."""

@job(schedule="*/30 1-3 * * *", timezone="America/New_York")
def wild(ctx: JobContext) -> None:
    """Follows real time."""
'''


def planned_ahead(scheduler: Any, clock: FrozenClock) -> bool:
    """APScheduler has planned every job's next run after the clock's time."""
    return all(job.next_run_time > clock.now() for job in scheduler.get_jobs())


def utc(*hm: tuple[int, int, tuple[int, int]]) -> list[datetime]:
    return [datetime(2027, month, day, h, m, tzinfo=UTC) for month, day, (h, m) in hm]


# Written out by hand from the README's rule (EST is UTC-5, EDT UTC-4).
SPRING = {  # 2027-03-14: 02:00 EST jumps to 03:00 EDT
    "fixed": utc((3, 14, (6, 30)), (3, 14, (7, 30))),  # 01:30 EST; 02:30 shifted to 03:30 EDT
    "wild": utc((3, 14, (6, 0)), (3, 14, (6, 30)), (3, 14, (7, 0)), (3, 14, (7, 30))),
}
FALL = {  # 2027-11-07: 02:00 EDT falls back to 01:00 EST
    "fixed": utc((11, 7, (5, 30)), (11, 7, (7, 30))),  # the first 01:30 (EDT); 02:30 EST
    "wild": utc(*[(11, 7, (h, m)) for h in (5, 6, 7, 8) for m in (0, 30)]),
}


class Clocked(datetime):
    """What APScheduler's loop reads as `datetime.now`: the test's clock."""

    clock: FrozenClock

    @classmethod
    def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
        return cls.clock.now().astimezone(tz)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "start, expected",
    [
        (datetime(2027, 3, 14, 0, 0, tzinfo=NY), SPRING),
        (datetime(2027, 11, 7, 0, 0, tzinfo=NY), FALL),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_the_live_host_fires_the_right_ticks_across_a_dst_change(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    start: datetime,
    expected: dict[str, list[datetime]],
) -> None:
    clock = FrozenClock(start)
    Clocked.clock = clock
    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", Clocked)
    workspace.write(JOBS)
    host = workspace.host(clock)
    host.start()
    for _ in range(5 * 12 + 1):  # five hours of wall time, in five-minute steps
        clock.advance(300)
        scheduler = host._scheduler
        assert scheduler is not None
        scheduler.wakeup()
        eventually(partial(planned_ahead, scheduler, clock))
        eventually(lambda: host.engine.runner.wait_idle(0.01))
    for name, ticks in expected.items():
        runs = host.engine.store.list_runs(job=name, limit=50)
        assert sorted(r.scheduled_for for r in runs) == ticks, name
        assert {r.status for r in runs} == {RunStatus.SUCCEEDED}, name
        assert [
            f.at.astimezone(UTC)
            for f in fire_times(
                host.engine.jobs[name].schedule.text, "America/New_York", start, len(ticks)
            )
        ] == ticks


@pytest.mark.parametrize("text", ["30 1,2 * * *", "*/30 1-3 * * *", "0 0 * * *", "@hourly"])
@pytest.mark.parametrize(
    "zone, day",
    [
        ("America/New_York", (3, 14)),
        ("America/New_York", (11, 7)),
        ("America/Santiago", (9, 5)),
        ("Australia/Lord_Howe", (10, 3)),
    ],
)
def test_catch_up_and_backfill_list_the_ticks_fire_times_gives(
    workspace: Workspace, text: str, zone: str, day: tuple[int, int]
) -> None:
    tz = ZoneInfo(zone)
    last = datetime(2027, *day, tzinfo=tz) - timedelta(hours=3)
    now = last + timedelta(hours=8)
    expected = [f.at.astimezone(UTC) for f in fire_times(text, zone, last, 100) if f.at <= now]
    plan = plan_catch_up(parse_schedule(text, zone), CatchUp.ALL, 86400, last, now)
    assert [t.astimezone(UTC) for t in plan.run] == expected and plan.missed == []
    workspace.write(
        JOBS.replace('"30 1,2 * * *", timezone="America/New_York"', f'"{text}", timezone="{zone}"')
    )
    host = Host(workspace.engine(FrozenClock(now + timedelta(days=1))))
    preview = host.commands.backfill_preview("fixed", last + timedelta(microseconds=1), now)
    assert [t.at.astimezone(UTC) for t in preview] == expected


def test_after_the_clock_steps_back_the_schedule_goes_on_and_says_so_once(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    start = datetime(2027, 1, 10, 12, 0, 30, tzinfo=UTC)
    clock = FrozenClock(start)
    Clocked.clock = clock
    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", Clocked)
    workspace.write(JOBS.replace('"*/30 1-3 * * *"', '"* * * * *"'))
    host = workspace.host(clock)
    host.start()

    def minutes(count: int) -> None:
        for _ in range(count):
            clock.advance(60)
            host.watch_clock(clock.now())  # what the host's loop does every 0.5 s
            scheduler = host._scheduler
            assert scheduler is not None
            scheduler.wakeup()
            eventually(partial(planned_ahead, scheduler, clock))
            eventually(lambda: host.engine.runner.wait_idle(0.01))

    minutes(3)
    clock.set(start - timedelta(hours=1))  # the clock steps back an hour
    host.watch_clock(clock.now())  # the host's loop notices within half a second
    minutes(3)
    ran = sorted(r.scheduled_for for r in host.engine.store.list_runs(job="wild", limit=50))
    at = start.replace(second=0)
    assert ran == [at - timedelta(hours=1) + timedelta(minutes=n) for n in (1, 2, 3)] + [
        at + timedelta(minutes=n) for n in (1, 2, 3)
    ]
    assert caplog.text.count("the system clock went back") == 1
