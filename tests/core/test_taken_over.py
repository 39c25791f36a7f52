"""A run whose items another node took over (a sweeper released its stale claims) does not
end `succeeded`: it ends `partial` and says how many were taken over."""

from __future__ import annotations

import sys
from datetime import timedelta

from cronsole.core.clock import FrozenClock
from cronsole.core.models import ItemStatus, RunStatus
from tests.conftest import Workspace, run_job

JOBS = '''
from cronsole.core import JobContext, job

SWEEPER = []  # the test puts the other node's sweep here

@job(schedule="0 0 1 1 *")
def sweepable(ctx: JobContext) -> None:
    """Its first item's work outlasts the stale timeout: a sweeper takes every claim."""
    def handle(item):
        if item.key == "a":
            for sweep in SWEEPER:
                sweep()
    ctx.items.drain(handle, limit=10)
'''


def test_a_run_whose_items_were_taken_over_ends_partial_with_the_count(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.write(JOBS)
    engine = workspace.engine(clock)
    engine.start_node("host")
    engine.store.enqueue_many("sweepable", [(k, None, "") for k in "abcd"], clock.now())
    sys.modules["cronsole_user.wsjobs"].SWEEPER.append(
        lambda: engine.store.sweep_stale_items(clock.now() + timedelta(seconds=1), clock.now())
    )
    run = run_job(engine, "sweepable")
    assert run.status is RunStatus.PARTIAL
    assert run.error == "4 items taken over by another node"
    assert run.processed == 0
    # the sweep charged the one whose work had started and gave the others back
    assert sorted((i.key, i.status, i.attempts) for i in engine.store.list_items("sweepable")) == [
        ("a", ItemStatus.FAILED, 1),
        ("b", ItemStatus.PENDING, 0),
        ("c", ItemStatus.PENDING, 0),
        ("d", ItemStatus.PENDING, 0),
    ]
