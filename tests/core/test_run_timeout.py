"""A run that hangs has a limit: past its job's `timeout` it is `timed_out`, its claims are
released and its late results refused; a cancel it ignores closes it the same way."""

from __future__ import annotations

import sys

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.models import ItemStatus, Overlap, RunReason, RunStatus
from cronsole.core.scheduling.host import Host
from tests.conftest import T0, Workspace, eventually, job_module

JOBS = job_module("timeout_jobs")


@pytest.fixture
def host(workspace: Workspace, clock: FrozenClock) -> Host:
    workspace.write(JOBS)
    return workspace.host(clock)


def module() -> object:
    return sys.modules["cronsole_user.wsjobs"]


def start(host: Host, name: str) -> int:
    store = host.engine.store
    run = store.insert_run(name, T0, RunReason.MANUAL, host.engine.node_id, Overlap.SKIP, T0)
    assert run is not None
    host.engine.runner.start(host.engine.jobs[name], run)
    eventually(lambda: len(store.list_items(name, status=ItemStatus.CLAIMED)) == 2)
    return run.id


def closed_as(host: Host, name: str, run_id: int, status: RunStatus, error: str) -> None:
    store = host.engine.store
    eventually(lambda: (r := store.get_run(run_id)) is not None and r.status is status)
    run = store.get_run(run_id)
    assert run is not None and run.error == error
    assert host.engine.runner.wait_idle(1)  # nothing of it counts as in flight
    assert store.list_items(name, status=ItemStatus.CLAIMED) == []  # released
    module().RELEASE.set()  # type: ignore[attr-defined]
    eventually(lambda: len(module().REFUSED) == 2)  # type: ignore[attr-defined]
    assert module().REFUSED == ["StaleClaim", "StaleClaim"]  # type: ignore[attr-defined]
    assert [i.status for i in store.list_items(name)] == [ItemStatus.FAILED] * 2
    after = store.get_run(run_id)
    assert after is not None and after.status is status  # the late return changes nothing


def test_a_run_past_its_timeout_is_timed_out_and_its_claims_released(host: Host) -> None:
    run_id = start(host, "limited")
    closed_as(host, "limited", run_id, RunStatus.TIMED_OUT, "timed out after 1s")


def test_a_cancel_the_run_ignores_closes_it_after_the_grace(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cronsole.core.runner.CANCEL_GRACE", 0.5)
    run_id = start(host, "deaf")
    host.commands.cancel(run_id)
    closed_as(host, "deaf", run_id, RunStatus.CANCELLED, "cancelled: did not stop within 0.5s")
