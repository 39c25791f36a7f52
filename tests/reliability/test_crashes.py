"""F1: `kill -9` at every fault point of the ingest job, then a restart, ends exactly where an
uninterrupted run ends; only the item in flight repeats its side effect."""

from __future__ import annotations

from collections import Counter

import pytest

from cronsole.core import faults
from tests.conftest import Workspace
from tests.procs import Proc
from tests.reliability.harness import (
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
        workspace: Workspace, procs: list[Proc], golden: Final, point: str, nth: int,
        repeats: bool) -> None:
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
