"""A run that no live process owns is always closed: by recovery when its node stopped without
closing it (its writes were failing), and at once by `cancel`."""

from __future__ import annotations

import os

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.commands import Commands
from cronsole.core.models import ItemStatus, Node, Overlap, RunReason, RunStatus
from cronsole.core.scheduling.host import Host
from tests.conftest import T0, Workspace

JOBS = '''
from cronsole.core import JobContext, job

@job(schedule="0 * * * *")
def work(ctx: JobContext) -> None:
    """Does nothing."""
'''


@pytest.fixture
def host(workspace: Workspace, clock: FrozenClock) -> Host:
    workspace.write(JOBS)
    return workspace.host(clock)


def left_running(host: Host, node: str, *, stopped: bool) -> int:
    """A run of `node` still `running` with two items claimed, as a failing disk leaves it."""
    store = host.engine.store
    store.register_node(Node(node, "host", "elsewhere", os.getpid(), T0, T0, "0"))
    if stopped:
        store.stop_node(node, T0)
    run = store.insert_run("work", T0, RunReason.SCHEDULE, node, Overlap.SKIP, T0)
    assert run is not None and run.status is RunStatus.RUNNING
    store.enqueue_many("work", [("a", None, "t"), ("b", None, "t")], T0)
    assert len(store.claim_items("work", node, run.id, T0, 2)) == 2
    return run.id


def statuses(host: Host) -> list[str]:
    return sorted(i.status.value for i in host.engine.store.list_items("work"))


def test_recovery_closes_a_run_whose_node_stopped_without_closing_it(host: Host) -> None:
    run_id = left_running(host, "gone-1", stopped=True)
    host.recover()
    run = host.engine.store.get_run(run_id)
    assert run is not None and run.status is RunStatus.ABANDONED
    assert statuses(host) == [ItemStatus.FAILED.value] * 2  # eligible again, attempt counted


def test_cancel_closes_a_run_nobody_owns_at_once(host: Host) -> None:
    run_id = left_running(host, "gone-2", stopped=True)
    command = Commands(host.engine).cancel(run_id)
    assert command.result == f"run #{run_id} cancelled (no live process owned it)"
    run = host.engine.store.get_run(run_id)
    assert run is not None and run.status is RunStatus.CANCELLED
    assert "claimed" not in statuses(host)


def test_cancel_of_a_run_a_live_node_owns_only_asks_it(host: Host) -> None:
    run_id = left_running(host, "alive", stopped=False)
    command = Commands(host.engine).cancel(run_id)
    assert command.result == f"cancel requested for run #{run_id}"
    run = host.engine.store.get_run(run_id)
    assert run is not None and run.status is RunStatus.RUNNING and run.cancel_requested
