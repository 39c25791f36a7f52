"""F1: `kill -9` at every fault point of the ingest job, then a restart, ends exactly where an
uninterrupted run ends; only the item in flight repeats its side effect."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from cronsole.core import faults
from tests.conftest import Workspace
from tests.procs import Proc, cli, query, start_host, wait_for
from tests.reliability.harness import (
    INGEST_CONFIG,
    INGEST_FILES,
    Final,
    check_invariants,
    crash_at,
    final_state,
    ingest_effects,
    ingest_workspace,
    run_to_completion,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Final:
    ws = ingest_workspace(Workspace(tmp_path_factory.mktemp("golden")))
    procs: list[Proc] = []
    try:
        run_to_completion(ws, procs, "invoice-ingest", INGEST_FILES)
    finally:
        for proc in procs:
            proc.popen.kill() if proc.popen.poll() is None else None
    effects = Counter(ingest_effects(ws))
    assert sorted(effects.values()) == [1] * INGEST_FILES
    check_invariants(ws, ingest_effects(ws))
    return final_state(ws)


# (fault point, pass, whether the third item's side effect must repeat after the restart)
POINTS = [
    ("before_item", 3, False),
    ("after_side_effect", 3, True),
    ("before_watermark_commit", 3, True),
    ("after_item_commit", 3, False),
    ("after_item_commit", 6, False),  # the second tick: a batch boundary behind it
]


@pytest.mark.scenario("F1")
@pytest.mark.parametrize(("point", "nth", "repeats"), POINTS)
def test_kill_9_at_each_fault_point_then_restart_matches_the_golden_run(
    workspace: Workspace, procs: list[Proc], golden: Final, point: str, nth: int, repeats: bool
) -> None:
    ws = ingest_workspace(workspace)
    crash_at(ws, procs, f"{point}=kill@{nth}")
    before = Counter(ingest_effects(ws))
    assert sum(before.values()) == nth - (point == "before_item")
    run_to_completion(ws, procs, "invoice-ingest", INGEST_FILES)
    assert final_state(ws) == golden
    effects = Counter(ingest_effects(ws))
    in_flight = f"invoices/Acme-123456789/2026/11/invoice/invoice-{nth - 1:03d}.txt"
    twice = [key for key, n in effects.items() if n == 2]
    assert twice == ([in_flight] if repeats else [])
    check_invariants(ws, ingest_effects(ws))
    assert "recovered from 1 dead process" in procs[-1].text()


@pytest.mark.scenario("F1")
def test_kill_9_mid_group_commit_repeats_at_most_that_group(
    workspace: Workspace, procs: list[Proc], golden: Final
) -> None:
    """`commit_every = 4`, ten items in one run: killed inside the second group's
    transaction, the restart redoes that group's four items (and nothing else), and the
    final ledger, documents and watermark equal an uninterrupted run's."""
    ws = ingest_workspace(workspace)
    ws.configure(
        INGEST_CONFIG.replace("batch_size = 4", "batch_size = 10").replace(
            "[jobs.invoice-ingest.settings]", "commit_every = 4\n[jobs.invoice-ingest.settings]"
        )
    )
    crash_at(ws, procs, "mid_group=kill@2")
    assert len(ingest_effects(ws)) == 8  # two groups' side effects; only the first committed
    assert query(ws, "SELECT count(*) FROM items WHERE status = 'done'") == [(4,)]
    run_to_completion(ws, procs, "invoice-ingest", INGEST_FILES)
    assert final_state(ws) == golden
    effects = Counter(ingest_effects(ws))
    folder = "invoices/Acme-123456789/2026/11/invoice"
    twice = sorted(key for key, n in effects.items() if n == 2)
    assert twice == [f"{folder}/invoice-{n:03d}.txt" for n in range(4, 8)]
    assert set(effects.values()) == {1, 2} and len(effects) == INGEST_FILES
    check_invariants(ws)
    assert "recovered from 1 dead process" in procs[-1].text()


def test_fault_points_act_only_when_configured_and_only_at_their_pass() -> None:
    assert faults._plan is None  # the test run has no CRONSOLE_TEST_FAULTS
    faults.configure("mid_sweep=raise@2")
    try:
        faults.fault("mid_sweep")
        with pytest.raises(faults.FaultInjected):
            faults.fault("mid_sweep")
        faults.fault("mid_sweep")  # only the n-th pass acts
    finally:
        faults.configure(None)
    faults.fault("mid_sweep")
    faults.configure("mid_sweep=raise@2+")
    try:
        faults.fault("mid_sweep")
        for _ in range(3):
            with pytest.raises(faults.FaultInjected):
                faults.fault("mid_sweep")
    finally:
        faults.configure(None)
    with pytest.raises(ValueError, match="bad entry"):
        faults.parse("nowhere=kill")


@pytest.mark.scenario("F13")
def test_a_pause_mid_batch_survives_a_restart_and_resume_continues_from_the_watermark(
    workspace: Workspace, procs: list[Proc]
) -> None:
    ws = ingest_workspace(workspace, files=20)
    slow = {"CRONSOLE_TEST_FAULTS": "after_side_effect=sleep:0.3@1+"}
    host = start_host(ws, procs, env=slow)
    wait_for(lambda: 2 <= done_count(ws) < 20, 30)
    assert cli(ws, "pause", "invoice-ingest", "--reason", "mid-batch").returncode == 0
    host.signal(signal.SIGTERM)
    assert host.wait(30) == 0
    done_before = done_count(ws)
    mark_before = watermark(ws)
    time.sleep(3)  # ticks pass while nothing runs

    host = start_host(ws, procs, env=slow)
    runs_before = run_count(ws)
    time.sleep(3)
    assert query(ws, "SELECT paused, pause_reason FROM jobs WHERE name = 'invoice-ingest'") == [
        (1, "mid-batch")
    ]
    assert run_count(ws) == runs_before and done_count(ws) == done_before  # still paused
    assert cli(ws, "resume", "invoice-ingest").returncode == 0
    wait_for(lambda: done_count(ws) == 20, 60)
    host.signal(signal.SIGTERM)
    assert host.wait(30) == 0
    assert query(ws, "SELECT count(*) FROM runs WHERE reason = 'catch_up'") == [(0,)]
    assert watermark(ws) > mark_before
    effects = Counter(ingest_effects(ws))
    assert len(effects) == 20 and set(effects.values()) == {1}  # nothing replayed
    check_invariants(ws, ingest_effects(ws))


def done_count(ws: Workspace) -> int:
    return int(str(query(ws, "SELECT count(*) FROM items WHERE status = 'done'")[0][0]))


def run_count(ws: Workspace) -> int:
    return int(str(query(ws, "SELECT count(*) FROM runs")[0][0]))


def watermark(ws: Workspace) -> str:
    return str(query(ws, "SELECT value FROM job_state WHERE key = 'watermark'")[0][0])
