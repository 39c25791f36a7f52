"""The runner's worker threads: started with the host, each with its database connection
open, so the first tick of many jobs due together does not start them (issue 19: the cold
first tick made the p99 lateness of 100 jobs due at once)."""

from __future__ import annotations

import threading

from cronsole.core.clock import FrozenClock
from cronsole.core.runner import Workers
from tests.conftest import Workspace, eventually

JOBS = "from cronsole.core import JobContext, job\n" + "".join(
    f'@job(schedule="every 1h")\ndef j{n}(ctx: JobContext) -> None:\n    """Nothing."""\n'
    for n in range(5)
)


def test_prestarted_workers_take_the_first_runs_without_starting_threads() -> None:
    workers = Workers()
    warmed: list[int] = []
    workers.prestart(3, lambda: warmed.append(threading.get_ident()))
    eventually(lambda: len(warmed) == 3, 5)
    threads = threading.active_count()
    together = threading.Barrier(4)  # three runs at once, and this test
    ran: list[int] = []

    def run() -> None:
        ran.append(threading.get_ident())
        together.wait(5)

    for _ in range(3):
        workers.submit(run)
    together.wait(5)
    assert sorted(ran) == sorted(warmed)  # each on a warmed thread
    assert threading.active_count() == threads  # and none started


def test_a_host_starts_a_worker_per_job_before_its_first_tick(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.write(JOBS)
    host = workspace.host(clock)

    def ready() -> int:
        return sum(t.name == "runner-idle" for t in threading.enumerate())

    before = ready()  # other tests' hosts may leave some, idle for a minute
    host.start()
    assert ready() - before >= 5
