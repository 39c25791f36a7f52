"""A process of this host killed with `kill -9` is seen at once by its pid: `status` stops
counting it, and a surviving scheduler abandons its run within a couple of seconds (other
hosts' deaths still wait for `node_timeout`)."""

from __future__ import annotations

import json
import signal

import pytest

from tests.conftest import Workspace
from tests.e2e.test_hangup import start_slow_run
from tests.e2e.test_headless import JOBS
from tests.procs import Proc, cli, query, start_host, wait_for


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    workspace.write(JOBS, "[jobs.tick]\nenabled = false\n")
    return workspace


def hosts(ws: Workspace) -> list[str]:
    found = json.loads(cli(ws, "status", "--json").stdout)
    return [h["node"] for h in found["scheduler"]["hosts"]]


def test_a_killed_scheduler_is_seen_dead_at_once_and_its_run_abandoned(
    ws: Workspace, procs: list[Proc]
) -> None:
    first, second = start_host(ws, procs), start_host(ws, procs)
    start_slow_run(ws)
    [(node,)] = query(ws, "SELECT node FROM runs WHERE job = 'slow'")
    [(pid,)] = query(ws, "SELECT pid FROM nodes WHERE id = ?", node)
    owner, survivor = (first, second) if first.popen.pid == pid else (second, first)
    owner.signal(signal.SIGKILL)
    owner.wait(5)
    # node_timeout is 30 s: both waits below end long before the heartbeat could go stale
    wait_for(lambda: query(ws, "SELECT status FROM runs WHERE job = 'slow'") == [("abandoned",)], 5)
    assert node not in hosts(ws) and len(hosts(ws)) == 1
    assert query(ws, "SELECT count(*) FROM items WHERE status = 'claimed'") == [(0,)]
    survivor.signal(signal.SIGTERM)
    assert survivor.wait(20) == 0
    assert cli(ws, "status").returncode == 3
