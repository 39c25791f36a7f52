"""Jitter spreads scheduled starts only: a fire starts at once, and the wait is never taken
from the run's time budget."""

from __future__ import annotations

import sys
import time

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.models import RunReason, RunStatus
from tests.conftest import T0, FixedRandom, Workspace, run_job

JOBS = '''
import time
from cronsole.core import JobContext, job

SEEN = {}

@job(schedule="0 * * * *", jitter=0.3, time_budget="60s")
def spread(ctx: JobContext) -> None:
    """Notes when it began and how much budget it had then."""
    SEEN[ctx.run.reason] = (time.monotonic(), ctx.time_left())

@job(schedule="0 * * * *", jitter="1h")
def wide(ctx: JobContext) -> None:
    """Jitters by up to an hour."""
'''


class BudgetClock(FrozenClock):
    """Frozen wall time, real monotonic time (which the budget counts)."""

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
def engine(workspace: Workspace):  # type: ignore[no-untyped-def]
    workspace.write(JOBS)
    engine = workspace.engine(BudgetClock(T0))
    engine.runner.rng = FixedRandom(1.0)  # the longest jitter
    return engine


def seen() -> dict[str, tuple[float, float]]:
    return sys.modules["cronsole_user.wsjobs"].SEEN  # type: ignore[no-any-return]


def test_a_scheduled_run_waits_its_jitter_outside_the_time_budget(engine) -> None:  # type: ignore[no-untyped-def]
    before = time.monotonic()
    run = run_job(engine, "spread", RunReason.SCHEDULE)
    began, budget_left = seen()[RunReason.SCHEDULE]
    assert run.status is RunStatus.SUCCEEDED
    assert began - before >= 0.3  # it did wait its jitter (the longest, here)
    assert budget_left > 59.9  # and the budget started when the work did


@pytest.mark.parametrize("reason", [RunReason.MANUAL, RunReason.RETRY, RunReason.BACKFILL])
def test_an_operators_run_starts_at_once(engine, reason: RunReason) -> None:  # type: ignore[no-untyped-def]
    run = run_job(engine, "wide", reason)  # with an hour's jitter this would not return
    assert run.status is RunStatus.SUCCEEDED
