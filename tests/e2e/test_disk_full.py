"""A real full disk: the database lives on a 16 MB tmpfs that the test fills with a file. A run
whose outcome cannot be stored is not wedged: its node keeps trying while it lives and stores
it once space returns, later ticks run again, and health says the job is stuck meanwhile."""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace
from tests.procs import Proc, cli, query, start_host, wait_for

pytestmark = [pytest.mark.sqlite_only, pytest.mark.slow]

JOBS = '''
import time
from cronsole.core import JobContext, job

@job(schedule="every 1s", timeout="10m")
def slow(ctx: JobContext) -> None:
    """Three seconds of work, so a run is in flight when the disk fills."""
    ctx.log.info("working")
    time.sleep(3)
'''


@pytest.fixture
def small_disk(workspace: Workspace) -> Iterator[Path]:
    """The workspace's state folder on a 16 MB tmpfs of its own (room for the WAL, which grows
    to about 4 MB before a checkpoint), with an empty filler file made in advance."""
    state = workspace.root / "state"
    state.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(state)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    (state / "filler").touch()
    yield state
    subprocess.run(["umount", "-l", str(state)], check=False)


def fill(folder: Path) -> Path:
    """Grow the filler until the disk says ENOSPC; its removal gives the space back."""
    filler = folder / "filler"
    with filler.open("ab", buffering=0) as out:  # unbuffered: nothing left to flush at close
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def runs(ws: Workspace) -> list[tuple[Any, ...]]:
    return query(
        ws, "SELECT id, status FROM runs WHERE job = 'slow' AND status != 'skipped' ORDER BY id"
    )


@pytest.mark.scenario("F4")
def test_an_outcome_that_met_a_full_disk_is_stored_when_space_returns(
    workspace: Workspace, small_disk: Path, procs: list[Proc]
) -> None:
    workspace.write(JOBS)
    host = start_host(workspace, procs)
    wait_for(lambda: [s for _, s in runs(workspace)].count("succeeded") >= 1, 20)
    wait_for(lambda: runs(workspace)[-1][1] == "running", 10)  # one in flight
    filler = fill(small_disk)
    wait_for(lambda: "could not be stored" in host.text(), 60)  # past its ~24 s of retries
    [stuck] = [run_id for run_id, status in runs(workspace) if status == "running"]

    def reported_stuck() -> bool:  # once its node has not written for node_timeout + 30 s
        found = cli(workspace, "health", "--json")
        report = json.loads(found.stdout)
        return found.returncode == 3 and [s["run_id"] for s in report["stuck"]] == [stuck]

    wait_for(reported_stuck, 60)
    assert dict(runs(workspace))[stuck] == "running"  # the node kept it while the disk was full
    assert "stuck      slow: run #" in cli(workspace, "status").stdout
    filler.unlink()  # space returns
    wait_for(lambda: dict(runs(workspace))[stuck] != "running", 15)
    assert dict(runs(workspace))[stuck] == "succeeded"  # its own outcome, not abandoned
    wait_for(
        lambda: (
            [s for i, s in runs(workspace) if int(str(i)) > int(str(stuck))].count("succeeded") >= 1
        ),
        20,
    )
    assert json.loads(cli(workspace, "health", "--json").stdout)["stuck"] == []
    host.signal(signal.SIGTERM)
    assert host.wait(30) == 0
    assert query(workspace, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
    assert query(workspace, "PRAGMA integrity_check") == [("ok",)]
    assert "Traceback" not in host.text()


CATCHING_UP = '''
import time
from cronsole.core import JobContext, job

@job(schedule="every 1s", catch_up="latest")
def slow(ctx: JobContext) -> None:
    """Long enough to be in flight when the start fails."""
    time.sleep(5)
'''


def test_a_scheduler_whose_start_meets_a_full_disk_leaves_no_run_running(
    workspace: Workspace, procs: list[Proc]
) -> None:
    """The write that fails comes after the catch-up run has started (the fault point
    refuses it as a full disk would: which write a real full disk hits first is chance)."""
    workspace.write(CATCHING_UP)
    first = start_host(workspace, procs)
    wait_for(lambda: runs(workspace) != [], 10)
    first.signal(signal.SIGTERM)
    assert first.wait(30) == 0
    time.sleep(2)  # ticks pass while no scheduler runs: the next start catches up
    failing = Proc(workspace, "--no-tui", env={"CRONSOLE_TEST_FAULTS": "after_catch_up=full"})
    procs.append(failing)
    assert failing.wait(30) == 1
    assert failing.text().splitlines()[-1] == (
        "cronsole: database or disk is full (fault injected at after_catch_up)"
    )
    assert query(
        workspace, "SELECT status, error FROM runs WHERE reason = 'catch-up' AND status != 'missed'"
    ) == [("interrupted", "interrupted: the scheduler failed to start")]
    assert query(workspace, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
    assert query(workspace, "SELECT count(*) FROM nodes WHERE stopped_at IS NULL") == [(0,)]
