"""`retry RUN` retries exactly that run's failed items, in a run of its own linked to it, with
attempts counted across runs; a run keeps its own item history after later runs take the items
again; "nothing to retry" when there is nothing."""

from __future__ import annotations

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.models import ItemStatus, RunReason, RunStatus
from cronsole.core.scheduling.host import Host
from cronsole.core.snapshot import run_detail
from tests.conftest import T0, Workspace, frozen

JOBS = '''
from cronsole.core import JobContext, job

@job(schedule="0 * * * *")
def batchy(ctx: JobContext) -> None:
    """Fails the items whose keys the job state lists as bad."""
    bad = set(ctx.state.get("bad", []))
    def handle(item):
        if item.key in bad:
            raise ValueError(f"bad {item.key}")
    ctx.items.drain(handle, limit=100)
'''


@pytest.fixture
def host(workspace: Workspace, clock: FrozenClock) -> Host:
    workspace.write(JOBS)
    return workspace.host(clock)


def fire(host: Host, retry_of: int | None = None) -> int:
    frozen(host.engine).advance(1)
    command = host.commands.retry(retry_of) if retry_of else host.commands.fire("batchy")
    host.engine.runner.wait_idle(5)
    assert command.run_id is not None, command.result
    return command.run_id


def items(host: Host) -> dict[str, tuple[ItemStatus, int]]:
    return {i.key: (i.status, i.attempts) for i in host.engine.store.list_items("batchy")}


def test_retry_takes_exactly_the_runs_failed_items_and_keeps_counting(host: Host) -> None:
    store = host.engine.store
    store.enqueue_many("batchy", [(k, None, "") for k in "abcd"], T0)
    store.set_state("batchy", "bad", ["b", "c"], T0)
    first = fire(host)
    assert store.get_run(first).status is RunStatus.PARTIAL  # type: ignore[union-attr]
    store.enqueue("batchy", "e", T0)  # new work, not the retry's business
    store.set_state("batchy", "bad", ["c"], T0)
    frozen(host.engine).advance(1)
    command = host.commands.retry(first)
    host.engine.runner.wait_idle(5)
    assert (
        command.result == f"2 failed items of run #{first} to retry; run #{command.run_id} started"
    )
    second = command.run_id
    assert second is not None
    retried = store.get_run(second)
    assert retried is not None and retried.reason is RunReason.RETRY
    assert (retried.status, retried.processed, retried.failed) == (RunStatus.PARTIAL, 1, 1)
    assert items(host) == {
        "a": (ItemStatus.DONE, 1),
        "b": (ItemStatus.DONE, 2),
        "c": (ItemStatus.FAILED, 2),
        "d": (ItemStatus.DONE, 1),
        "e": (ItemStatus.PENDING, 0),
    }
    detail = run_detail(host.engine, second)
    assert detail is not None and detail.retry_of == first
    assert sorted((i.key, i.status) for i in detail.items) == [
        ("b", ItemStatus.DONE),
        ("c", ItemStatus.FAILED),
    ]
    # the first run's ledger is its own history: b failed there, though done since
    kept = run_detail(host.engine, first)
    assert kept is not None
    assert sorted((i.key, i.status, i.attempts) for i in kept.items) == [
        ("a", ItemStatus.DONE, 1),
        ("b", ItemStatus.FAILED, 1),
        ("c", ItemStatus.FAILED, 1),
        ("d", ItemStatus.DONE, 1),
    ]
    assert sorted(i.key for i in kept.failed) == ["b", "c"]
    third = fire(host, retry_of=second)  # c only, its third attempt
    assert items(host)["c"] == (ItemStatus.FAILED, 3) and items(host)["e"][0] is ItemStatus.PENDING
    assert [i.key for i in run_detail(host.engine, third).items] == ["c"]  # type: ignore[union-attr]


def test_retry_of_a_run_with_no_failed_items_left_starts_nothing(host: Host) -> None:
    store = host.engine.store
    store.enqueue_many("batchy", [("a", None, ""), ("b", None, "")], T0)
    store.set_state("batchy", "bad", ["b"], T0)
    first = fire(host)
    store.set_state("batchy", "bad", [], T0)
    frozen(host.engine).advance(3600)  # past b's backoff
    fire(host)  # a normal run takes b again and does it
    assert items(host)["b"] == (ItemStatus.DONE, 2)
    runs = len(store.list_runs(job="batchy"))
    frozen(host.engine).advance(1)
    command = host.commands.retry(first)
    assert command.result == f"nothing to retry: run #{first} has no failed items left"
    assert len(store.list_runs(job="batchy")) == runs  # no run started


def test_each_failed_try_keeps_the_traceback_of_its_exception(host: Host) -> None:
    """What Python's traceback module printed where the item's handler raised, per try."""
    store = host.engine.store
    store.enqueue("batchy", "b", T0)
    store.set_state("batchy", "bad", ["b"], T0)
    fire(host)
    failing = store.get_item("batchy", "b")
    assert failing is not None
    [attempt] = store.item_attempts(failing.id)
    assert attempt.error == "ValueError: bad b"
    assert attempt.traceback is not None
    last_lines = attempt.traceback.rstrip().splitlines()[-3:]
    assert last_lines[0].strip().startswith('File "') and "in handle" in last_lines[0]
    assert last_lines[1].strip() == 'raise ValueError(f"bad {item.key}")'
    assert last_lines[2] == "ValueError: bad b"
