"""The installed `cronsole` command as systemd would run it: real processes, signals, one file."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from tests.conftest import Workspace, job_module
from tests.procs import Proc, cli, query, side_effects, start_host, wait_for

JOBS = job_module("headless_jobs")


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    workspace.write(JOBS, 'grace_period = "30s"\n[jobs.tick]\nenabled = false\n')
    return workspace


@pytest.mark.scenario("F9")
def test_two_processes_execute_each_tick_exactly_once(
    workspace: Workspace, procs: list[Proc]
) -> None:
    workspace.write(JOBS)
    procs += [Proc(workspace, "--no-tui"), Proc(workspace, "--no-tui")]
    wait_for(lambda: len([s for s in side_effects(workspace) if s.startswith("tick")]) >= 8, 30)
    for proc in procs:
        proc.signal(signal.SIGTERM)
    assert [proc.wait(20) for proc in procs] == [0, 0]
    ticks = [line.split()[1] for line in side_effects(workspace) if line.startswith("tick")]
    assert max(Counter(ticks).values()) == 1, "a tick ran twice"
    rows = query(
        workspace,
        "SELECT scheduled_for, status FROM runs WHERE job = 'tick'"
        " AND reason = 'schedule' ORDER BY scheduled_for",
    )
    seconds = [int(str(r[0])[17:19]) for r in rows]
    assert all((b - a) % 60 == 1 for a, b in zip(seconds, seconds[1:], strict=False)), (
        "a tick was lost"
    )
    assert {r[1] for r in rows} <= {"succeeded", "skipped"}
    assert query(workspace, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.scenario("F2")
def test_sigterm_lets_the_item_in_flight_finish_and_exits_0(
    ws: Workspace, procs: list[Proc]
) -> None:
    start_host(ws, procs)
    assert cli(ws, "fire", "slow").returncode == 0
    wait_for(lambda: len(side_effects(ws)) >= 3)
    procs[0].signal(signal.SIGTERM)
    started = time.monotonic()
    assert procs[0].wait(10) == 0
    assert time.monotonic() - started < 5
    [(status, processed)] = query(ws, "SELECT status, processed FROM runs WHERE job = 'slow'")
    done = query(ws, "SELECT count(*) FROM items WHERE status = 'done'")[0][0]
    assert status == "interrupted" and processed == done == len(side_effects(ws)) < 40
    assert query(ws, "SELECT count(*) FROM items WHERE status = 'claimed'") == [(0,)]


def test_sigusr1_prints_every_threads_stack_and_the_node_goes_on(
    ws: Workspace, procs: list[Proc]
) -> None:
    start_host(ws, procs)
    assert cli(ws, "fire", "stubborn").returncode == 0
    wait_for(lambda: side_effects(ws) == ["stubborn started"])
    procs[0].signal(signal.SIGUSR1)
    wait_for(lambda: "in stubborn" in procs[0].text())  # the run's thread, where it waits
    assert "Thread 0x" in procs[0].text() and procs[0].popen.poll() is None
    procs[0].signal(signal.SIGTERM)
    time.sleep(0.5)  # two at once would be one pending signal
    procs[0].signal(signal.SIGTERM)
    assert procs[0].wait(5) == 143


@pytest.mark.scenario("F2")
def test_a_second_signal_aborts_within_two_seconds(ws: Workspace, procs: list[Proc]) -> None:
    start_host(ws, procs)
    assert cli(ws, "fire", "stubborn").returncode == 0
    wait_for(lambda: side_effects(ws) == ["stubborn started"])
    procs[0].signal(signal.SIGTERM)
    time.sleep(0.5)
    assert procs[0].popen.poll() is None  # still inside the 30 s grace period
    procs[0].signal(signal.SIGTERM)
    started = time.monotonic()
    assert procs[0].wait(5) == 143
    assert time.monotonic() - started < 2
    assert query(ws, "SELECT status FROM runs WHERE job = 'stubborn'") == [("interrupted",)]


@pytest.mark.scenario("F1")
def test_kill_9_then_restart_recovers_the_abandoned_run(ws: Workspace, procs: list[Proc]) -> None:
    start_host(ws, procs)
    assert cli(ws, "fire", "slow").returncode == 0
    wait_for(lambda: len(side_effects(ws)) >= 3)
    procs[0].signal(signal.SIGKILL)
    procs[0].wait(5)
    procs.append(Proc(ws, "--no-tui"))
    wait_for(
        lambda: (
            query(ws, "SELECT status FROM runs WHERE job = 'slow'") == [("abandoned",)]
            and query(ws, "SELECT count(*) FROM items WHERE status = 'claimed'") == [(0,)]
        )
    )
    result = cli(ws, "fire", "slow", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert query(ws, "SELECT count(*) FROM items WHERE status = 'done'") == [(40,)]
    keys = [line for line in side_effects(ws) if line.startswith("slow")]
    repeated = [key for key, count in Counter(keys).items() if count > 1]
    assert len(repeated) <= 1  # only the item in flight at the kill may run twice
    assert query(ws, "PRAGMA integrity_check") == [("ok",)]


def test_a_cli_command_is_applied_by_the_running_process(ws: Workspace, procs: list[Proc]) -> None:
    start_host(ws, procs)
    [(host_node,)] = query(ws, "SELECT id FROM nodes")
    started = time.monotonic()
    result = cli(ws, "fire", "slow", "--wait")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("succeeded")
    [(applied_by, run_node)] = query(
        ws,
        "SELECT commands.applied_by, runs.node FROM commands JOIN runs"
        " ON runs.id = commands.run_id WHERE action = 'fire'",
    )
    assert applied_by == run_node == host_node
    assert time.monotonic() - started < 30
    assert cli(ws, "pause", "slow", "--reason", "maintenance").returncode == 0
    procs[0].signal(signal.SIGTERM)
    assert procs[0].wait(10) == 0
