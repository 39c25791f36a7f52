"""Several real `cronsole --no-tui` processes on one database, killed and signalled (F2, F9)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from cronsole.core.models import Record
from tests.conftest import Workspace
from tests.e2e.test_headless import JOBS
from tests.procs import Proc, cli, query, side_effects, start_host, wait_for
from tests.reliability.harness import FAULTS, check_invariants

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def ticks_run(ws: Workspace) -> list[str]:
    return [line.split()[1] for line in side_effects(ws) if line.startswith("tick")]


@pytest.mark.scenario("F9")
@pytest.mark.parametrize("processes", [2, 3])
def test_processes_share_ticks_exactly_once_and_survive_a_kill(
    workspace: Workspace, procs: list[Proc], processes: int
) -> None:
    workspace.write(JOBS)
    for _ in range(processes):
        start_host(workspace, procs)
    wait_for(lambda: len(ticks_run(workspace)) >= 10, 40)
    victim, survivors = procs[0], procs[1:]
    victim.signal(signal.SIGKILL)
    victim.wait(5)
    killed_at = len(ticks_run(workspace))
    wait_for(lambda: len(ticks_run(workspace)) >= max(22, killed_at + 10), 60)
    for proc in survivors:
        proc.signal(signal.SIGTERM)
    assert [proc.wait(30) for proc in survivors] == [0] * len(survivors)

    ran = Counter(ticks_run(workspace))
    assert max(ran.values()) == 1, "a tick ran twice"
    rows = query(
        workspace,
        "SELECT scheduled_for, status, node FROM runs WHERE job = 'tick'"
        " AND reason = 'schedule' ORDER BY scheduled_for",
    )
    assert len(rows) == len({r[0] for r in rows}) >= 20  # one row per tick
    times = [datetime.fromisoformat(str(r[0])) for r in rows]
    assert all(b - a == timedelta(seconds=1) for a, b in zip(times, times[1:], strict=False)), (
        "a tick was lost"
    )
    # a tick that fell due while the killed process's run was still "running" (until a
    # survivor noticed the pid was gone) was skipped, and says why
    assert {r[1] for r in rows} <= {"succeeded", "abandoned", "skipped"}
    assert all(
        "is still running" in str(e)
        for (e,) in query(
            workspace, "SELECT error FROM runs WHERE job = 'tick' AND status = 'skipped'"
        )
    )
    victim_node = query(workspace, "SELECT id FROM nodes WHERE pid = ?", victim.popen.pid)[0][0]
    last = rows[-10:]  # the last ten ticks came after the kill
    assert all(r[2] != victim_node for r in last), "the killed process cannot have run them"
    check_invariants(workspace)


NIGHTLY = """
grace_period = "30s"
[jobs.nightly-entities]
[jobs.nightly-entities.settings]
concurrency = 5
"""
ENTITIES = 60


def nightly_workspace(ws: Workspace) -> Workspace:
    ws.configure(NIGHTLY)
    store = ws.store()
    now = datetime.now(UTC)
    symbols = [f"SYM{n:03d}" for n in range(ENTITIES)]
    store.put_records("entity", [Record(s, {"name": s}) for s in symbols], now)
    days = [(now - timedelta(days=d)).date().isoformat() for d in range(10)]
    store.put_records(
        "price",
        [
            Record(f"{s}|{d}", {"close": 100 + n}, grp=s, at=d)
            for s in symbols
            for n, d in enumerate(days)
        ],
        now,
    )
    store.close()
    return ws


def counts(ws: Workspace) -> dict[str, int]:
    return {
        str(k): int(str(v))
        for k, v in query(
            ws, "SELECT status, count(*) FROM items WHERE job = 'nightly-entities' GROUP BY status"
        )
    }


@pytest.mark.scenario("F2")
def test_sigterm_on_a_nightly_run_finishes_the_entities_in_flight_and_nothing_more(
    workspace: Workspace, procs: list[Proc]
) -> None:
    ws = nightly_workspace(workspace)
    # every entity takes 0.4 s after its summary is written, so five are always in flight
    host = start_host(ws, procs, env={FAULTS: "after_side_effect=sleep:0.4@1+"})
    assert cli(ws, "fire", "nightly-entities").returncode == 0
    wait_for(lambda: counts(ws).get("done", 0) >= 10, 30)
    host.signal(signal.SIGTERM)
    done_at_signal = counts(ws).get("done", 0)
    assert host.wait(30) == 0, host.text()

    left = counts(ws)
    assert done_at_signal <= left["done"] <= done_at_signal + 5  # only those in flight finished
    assert left.get("claimed", 0) == 0
    assert left["pending"] == ENTITIES - left["done"]  # the rest waits for the next run
    [(status, processed)] = query(
        ws, "SELECT status, processed FROM runs WHERE job = 'nightly-entities'"
    )
    assert status == "interrupted" and processed == left["done"]
    check_invariants(ws)

    # the next run takes only what is left
    start_host(ws, procs)
    result = cli(ws, "fire", "nightly-entities", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert counts(ws) == {"done": ENTITIES}
    assert query(ws, "SELECT count(*) FROM records WHERE collection = 'entity_summary'") == [
        (ENTITIES,)
    ]


@pytest.mark.scenario("F2")
def test_a_second_sigterm_on_a_nightly_run_exits_143_within_two_seconds(
    workspace: Workspace, procs: list[Proc]
) -> None:
    ws = nightly_workspace(workspace)
    host = start_host(ws, procs, env={FAULTS: "after_side_effect=sleep:60@1+"})
    assert cli(ws, "fire", "nightly-entities").returncode == 0
    wait_for(
        lambda: (
            query(ws, "SELECT count(*) FROM records WHERE collection = 'entity_summary'") == [(5,)]
        ),
        30,
    )
    host.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert host.popen.poll() is None  # inside the 30 s grace period, five entities in flight
    host.signal(signal.SIGTERM)
    started = time.monotonic()
    assert host.wait(5) == 143
    assert time.monotonic() - started < 2
    assert query(ws, "SELECT status FROM runs WHERE job = 'nightly-entities'") == [("interrupted",)]
    assert counts(ws).get("done", 0) == 0
    check_invariants(ws)
