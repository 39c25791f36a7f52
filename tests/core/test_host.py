"""The scheduler host with an injected clock: claims, overlap, pauses, catch-up, recovery."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.commands import Commands
from cronsole.core.errors import NoScheduler
from cronsole.core.models import CatchUp, CommandStatus, Node, Overlap, RunReason, RunStatus
from cronsole.core.scheduling.catchup import plan_catch_up
from cronsole.core.scheduling.host import Host
from cronsole.core.scheduling.triggers import parse_schedule
from tests.conftest import T0, Workspace, eventually, frozen, job_module

JOBS = job_module("host_jobs")


@pytest.fixture
def host(workspace: Workspace, clock: FrozenClock) -> Host:
    workspace.write(JOBS)
    return workspace.host(clock)


def gate() -> threading.Event:
    event: threading.Event = sys.modules["cronsole_user.wsjobs"].GATE
    return event


def test_two_hosts_on_one_database_run_each_tick_once(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.write(JOBS)
    one, two = workspace.host(clock), workspace.host(clock)
    for minute in range(0, 30, 5):
        tick = T0 + timedelta(minutes=minute)
        one.claim_ticks("quick", [tick])
        two.claim_ticks("quick", [tick])
        one.engine.runner.wait_idle(5)
        two.engine.runner.wait_idle(5)
    runs = one.engine.store.list_runs(job="quick")
    assert len(runs) == 6 and len({r.scheduled_for for r in runs}) == 6
    assert all(r.status is RunStatus.SUCCEEDED for r in runs)


def test_an_overlapping_tick_is_skipped_with_its_reason(host: Host) -> None:
    host.claim_ticks("blocking", [T0])
    host.claim_ticks("blocking", [T0 + timedelta(minutes=1)])
    gate().set()
    host.engine.runner.wait_idle(5)
    first, skipped = sorted(host.engine.store.list_runs(job="blocking"), key=lambda r: r.id)
    assert first.status is RunStatus.SUCCEEDED
    assert skipped.status is RunStatus.SKIPPED
    assert skipped.error == f"overlap: run #{first.id} is still running"


def test_paused_ticks_start_nothing_and_expired_pauses_resume(host: Host) -> None:
    commands = host.commands
    commands.pause("quick", reason="deploy", duration=600)
    host.claim_ticks("quick", [T0])
    assert host.engine.store.list_runs(job="quick") == []
    frozen(host.engine).advance(601)
    commands.expire_pauses()
    assert not host.engine.store.job_state("quick").paused  # type: ignore[union-attr]
    audit = host.engine.store.list_commands(job="quick")
    assert (audit[0].action, audit[0].who, audit[0].reason) == (
        "resume",
        "cronsole",
        "pause expired",
    )


def test_pause_all_stops_every_job(host: Host) -> None:
    host.commands.pause_all(reason="incident")
    host.claim_ticks("quick", [T0])
    assert host.engine.store.list_runs() == []
    host.commands.resume_all()
    host.claim_ticks("quick", [T0])
    host.engine.runner.wait_idle(5)
    assert len(host.engine.store.list_runs()) == 1


@pytest.mark.scenario("F14")
def test_catch_up_latest_runs_once_and_counts_the_rest(host: Host) -> None:
    store = host.engine.store
    store.record_tick("quick", T0)
    frozen(host.engine).set(T0 + timedelta(hours=1, minutes=2))
    host.catch_up()
    host.engine.runner.wait_idle(5)
    runs = {r.status: r for r in store.list_runs(job="quick")}
    assert runs[RunStatus.SUCCEEDED].reason is RunReason.CATCH_UP
    assert runs[RunStatus.SUCCEEDED].scheduled_for == T0 + timedelta(hours=1)
    assert runs[RunStatus.MISSED].summary["count"] == 11


def test_catch_up_all_runs_inside_the_window_only(host: Host) -> None:
    store = host.engine.store
    store.record_tick("hourly", T0)
    frozen(host.engine).set(T0 + timedelta(hours=6, minutes=30))
    host.catch_up()
    for _ in range(5):
        host.engine.runner.wait_idle(5)
        host.start_queued("hourly")
    host.engine.runner.wait_idle(5)
    runs = store.list_runs(job="hourly")
    done = sorted(r.scheduled_for.hour for r in runs if r.status is RunStatus.SUCCEEDED)
    assert done == [13, 14, 15]  # T0 is 09:00; the 3 h window ends 15:30
    [missed] = [r for r in runs if r.status is RunStatus.MISSED]
    assert missed.summary["count"] == 3


def test_catch_up_none_only_records(host: Host) -> None:
    host.engine.store.record_tick("forgetful", T0)
    frozen(host.engine).set(T0 + timedelta(hours=3))
    host.catch_up()
    [missed] = host.engine.store.list_runs(job="forgetful")
    assert missed.status is RunStatus.MISSED and missed.summary["count"] == 3


def test_a_fresh_job_has_nothing_to_catch_up() -> None:
    schedule = parse_schedule("every 1m")
    assert plan_catch_up(schedule, CatchUp.LATEST, 60, None, T0).run == []


@pytest.mark.scenario("F13")
def test_a_paused_job_replays_nothing_after_downtime(host: Host) -> None:
    host.engine.store.record_tick("quick", T0)
    host.commands.pause("quick")
    frozen(host.engine).set(T0 + timedelta(days=3))
    host.catch_up()
    assert host.engine.store.list_runs(job="quick") == []


def test_fire_without_a_scheduler_is_refused_and_writes_nothing(host: Host) -> None:
    cli = Commands(host.engine)
    with pytest.raises(NoScheduler):
        cli.fire("quick")
    assert host.engine.store.list_commands() == []


def test_a_command_written_by_one_process_is_applied_by_the_host(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.write(JOBS)
    host = workspace.host(clock)
    host.engine.start_node("host")
    cli_engine = workspace.engine(clock)
    command = Commands(cli_engine).fire("quick", {})
    assert command.status is CommandStatus.PENDING
    [applied] = host.commands.apply_pending()
    assert applied.status is CommandStatus.APPLIED and applied.applied_by == host.engine.node_id
    host.engine.runner.wait_idle(5)
    run = host.engine.store.get_run(applied.run_id)  # type: ignore[arg-type]
    assert run is not None and run.reason is RunReason.MANUAL
    assert run.status is RunStatus.SUCCEEDED
    assert host.commands.apply_pending() == []


def test_cancel_reaches_a_running_run(host: Host) -> None:
    host.claim_ticks("blocking", [T0])
    [run] = host.engine.store.list_runs(job="blocking")
    result = host.commands.cancel(run.id)
    assert result.result == f"cancel requested for run #{run.id}"
    host.engine.runner.wait_idle(5)
    assert host.engine.store.get_run(run.id).status is RunStatus.CANCELLED  # type: ignore


def test_runs_of_a_dead_process_are_abandoned_and_its_items_released(host: Host) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    store = host.engine.store
    store.register_node(Node("ghost", "host", socket.gethostname(), pid, T0, T0, "0"))
    run = store.insert_run("quick", T0, RunReason.SCHEDULE, "ghost", Overlap.SKIP, T0)
    store.enqueue("quick", "k", T0)
    store.claim_items("quick", "ghost", None, T0, limit=1)
    host.recover()
    assert run is not None
    assert store.get_run(run.id).status is RunStatus.ABANDONED  # type: ignore[union-attr]
    assert len(store.claim_items("quick", "me", None, T0, limit=1)) == 1


def test_overlap_queue_runs_the_queued_tick_when_the_first_ends(host: Host) -> None:
    store = host.engine.store
    for minute in range(3):
        host.claim_ticks("patient", [T0 + timedelta(minutes=minute)])
    statuses = [r.status for r in sorted(store.list_runs(job="patient"), key=lambda r: r.id)]
    assert statuses == [RunStatus.RUNNING, RunStatus.QUEUED, RunStatus.SKIPPED]
    gate().set()
    expected = [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.SKIPPED]
    eventually(
        lambda: (
            [r.status for r in sorted(store.list_runs(job="patient"), key=lambda r: r.id)]
            == expected
        )
    )


def test_wait_idle_covers_the_queued_run_a_finished_run_starts(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queued run starts on the host's claim thread after the first run ends; waiting for
    the runner to be idle must include that start (a slow store makes the gap wide)."""
    store = host.engine.store
    slow_start = store.start_queued_run

    def start_queued_run(*args: object, **kwargs: object) -> object:
        time.sleep(0.3)
        return slow_start(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "start_queued_run", start_queued_run)
    for minute in range(2):
        host.claim_ticks("patient", [T0 + timedelta(minutes=minute)])
    gate().set()
    assert host.engine.runner.wait_idle(10)
    statuses = [r.status for r in sorted(store.list_runs(job="patient"), key=lambda r: r.id)]
    assert statuses == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]


def test_retry_resets_failed_items_of_a_run_and_runs_again(host: Host) -> None:
    host.claim_ticks("window", [T0])
    host.engine.runner.wait_idle(5)
    [first] = host.engine.store.list_runs(job="window")
    assert first.status is RunStatus.PARTIAL and first.failed == 1
    host.engine.store.set_state("window", "healed", True, T0)
    frozen(host.engine).advance(1)
    command = host.commands.retry(first.id)
    assert command.result is not None and command.result.startswith(
        f"1 failed items of run #{first.id} to retry; run #"
    )
    host.engine.runner.wait_idle(5)
    again = host.engine.store.get_run(command.run_id)  # type: ignore[arg-type]
    assert again is not None and again.reason is RunReason.RETRY
    assert again.status is RunStatus.SUCCEEDED and again.processed == 1


def test_backfill_previews_without_writing_then_queues_each_missing_tick(host: Host) -> None:
    store = host.engine.store
    frozen(host.engine).set(T0 + timedelta(hours=4))
    host.claim_ticks("window", [T0 + timedelta(hours=1)])
    host.engine.runner.wait_idle(5)
    preview = host.commands.backfill_preview("window", T0, T0 + timedelta(hours=3))
    assert [(t.at.hour, t.existing_run is not None) for t in preview] == [
        (9, False),
        (10, True),
        (11, False),
        (12, False),
    ]
    assert store.list_commands() == []  # a dry run writes nothing
    command = host.commands.backfill("window", T0, T0 + timedelta(hours=3))
    assert command.result == "3 backfill runs queued, 1 ticks already had runs"
    for _ in range(4):
        host.start_queued("window")
        host.engine.runner.wait_idle(5)
    backfilled = [r for r in store.list_runs(job="window") if r.reason is RunReason.BACKFILL]
    assert sorted(r.summary["hour"] for r in backfilled) == [9, 11, 12]


def test_backfill_refuses_a_range_that_ends_before_it_starts(host: Host) -> None:
    from cronsole.core.errors import UsageError

    with pytest.raises(UsageError, match="ends before it starts"):
        host.commands.backfill("window", T0, T0 - timedelta(hours=1))
    assert host.engine.store.list_commands() == []


def test_backfill_never_takes_a_tick_the_scheduler_will_run(host: Host) -> None:
    from cronsole.core.errors import UsageError

    with pytest.raises(UsageError, match="ends in the future"):
        host.commands.backfill("window", T0 - timedelta(hours=2), T0 + timedelta(hours=1))
    assert host.engine.store.list_commands() == []
    assert host.engine.store.list_runs(job="window") == []
    assert [
        t.at for t in host.commands.backfill_preview("window", T0 - timedelta(hours=1), T0)
    ] == [T0 - timedelta(hours=1), T0]


def test_the_sweeper_releases_items_whose_heartbeat_stopped(host: Host) -> None:
    store = host.engine.store
    store.enqueue("window", "stuck", T0)
    store.claim_items("window", "gone", None, T0, limit=1)
    frozen(host.engine).advance(29 * 60)
    host.sweep()
    assert store.get_item("window", "stuck").status.value == "claimed"  # type: ignore
    frozen(host.engine).advance(2 * 60)
    host.sweep()
    item = store.get_item("window", "stuck")
    assert item is not None and item.status.value == "failed"
    assert item.error is not None and item.error.startswith("stale: no heartbeat since")


def test_shells_hear_what_happens_through_events(host: Host) -> None:
    from cronsole.core import events

    heard: list[str] = []
    host.engine.hub.subscribe(lambda event: heard.append(type(event).__name__))
    host.commands.pause("window", reason="x")
    host.commands.resume("window")
    host.claim_ticks("window", [T0])
    host.engine.runner.wait_idle(5)
    assert heard[:4] == ["JobPaused", "CommandApplied", "JobResumed", "CommandApplied"]
    assert {"RunStarted", "ItemFailed", "RunFinished"} <= set(heard)
    assert issubclass(events.RunFinished, events.Event)


@pytest.mark.scenario("F8")
def test_clock_jumps_never_rerun_a_recorded_tick_and_a_step_back_is_logged(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    store, clock = host.engine.store, host.engine.clock
    host.claim_ticks("quick", [T0])
    host.engine.runner.wait_idle(5)
    clock.set(T0 - timedelta(hours=1))  # type: ignore[attr-defined]
    host.claim_ticks("quick", [T0])  # after a step back the scheduler offers T0 again
    host.engine.runner.wait_idle(5)
    assert [r.scheduled_for for r in store.list_runs(job="quick")] == [T0]
    assert "the system clock went back 1:00:00" in caplog.text

    # forward three days: the hourly backfill is exact, the rest counted as missed
    store.record_tick("hourly", T0)
    clock.set(T0 + timedelta(days=3, minutes=30))  # type: ignore[attr-defined]
    host.catch_up()
    for _ in range(4):
        host.engine.runner.wait_idle(5)
        host.start_queued("hourly")
    ran = sorted(
        r.scheduled_for for r in store.list_runs(job="hourly") if r.status is RunStatus.SUCCEEDED
    )
    end = T0 + timedelta(days=3)
    assert ran == [end - timedelta(hours=2), end - timedelta(hours=1), end]
    [missed] = [r for r in store.list_runs(job="hourly") if r.status is RunStatus.MISSED]
    assert missed.summary["count"] == 72 - 3

    # and back again, behind the ticks just run: nothing runs twice, a warning says why
    caplog.clear()
    clock.set(T0 + timedelta(days=3) - timedelta(hours=2, minutes=30))  # type: ignore
    host.catch_up()
    host.claim_ticks("hourly", [end - timedelta(hours=2)])
    host.engine.runner.wait_idle(5)
    assert (
        sorted(
            r.scheduled_for
            for r in store.list_runs(job="hourly")
            if r.status is RunStatus.SUCCEEDED
        )
        == ran
    )
    assert "the clock is up to 3:00:00 behind the last recorded tick of 6 job(s)" in caplog.text


@pytest.mark.scenario("F14")
def test_overlap_and_three_days_of_downtime(host: Host) -> None:
    """Never two runs of one job at once; skipped ticks recorded; catch-up bounded."""
    store = host.engine.store
    for minute in range(4):  # the first run outlasts three more ticks
        host.claim_ticks("blocking", [T0 + timedelta(minutes=minute)])
    assert [r.status for r in store.list_runs(job="blocking", limit=10)].count(
        RunStatus.RUNNING
    ) == 1
    gate().set()
    host.engine.runner.wait_idle(5)
    statuses = sorted(r.status.value for r in store.list_runs(job="blocking", limit=10))
    assert statuses == ["skipped", "skipped", "skipped", "succeeded"]

    store.record_tick("quick", T0)
    frozen(host.engine).set(T0 + timedelta(days=3))
    host.catch_up()
    host.engine.runner.wait_idle(5)
    runs = store.list_runs(job="quick", limit=100)
    assert [r.status for r in runs].count(RunStatus.SUCCEEDED) == 1  # latest only
    [missed] = [r for r in runs if r.status is RunStatus.MISSED]
    assert missed.summary["count"] == 3 * 24 * 12 - 1
