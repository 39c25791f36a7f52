"""Rate and ETA of a run, from its counters and the clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from cronsole.core.models import Run, RunReason, RunStatus
from cronsole.core.progress import progress
from tests.conftest import T0

RUN = Run(
    id=1,
    job="j",
    reason=RunReason.SCHEDULE,
    status=RunStatus.RUNNING,
    scheduled_for=T0,
    started_at=T0,
    total=100,
    processed=18,
    failed=2,
)


def test_rate_and_eta_of_a_running_run() -> None:
    done = progress(RUN, T0 + timedelta(seconds=10))
    assert done.rate == 2.0 and done.eta_seconds == 40.0


def test_no_eta_without_a_total_or_once_finished() -> None:
    assert progress(replace(RUN, total=None), T0 + timedelta(seconds=10)).eta_seconds is None
    finished = replace(
        RUN, status=RunStatus.STOPPED_EARLY, finished_at=T0 + timedelta(seconds=5), left=80
    )
    done = progress(finished, T0 + timedelta(hours=1))
    assert done.rate == 4.0 and done.eta_seconds is None and done.left == 80


def test_nothing_done_yet_has_no_rate() -> None:
    fresh = replace(RUN, processed=0, failed=0)
    assert progress(fresh, T0 + timedelta(seconds=3)).rate is None
