"""A node paused (SIGSTOP) past `node_timeout` while another shares the database: the other
takes its claims over and does them; when the paused one resumes (SIGCONT) it does not do them
again, because it reads each claim again before the work."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import pytest

from tests.conftest import Workspace
from tests.procs import Proc, cli, query, side_effects, start_host, wait_for

JOBS = '''
from __future__ import annotations
import os, time
from pathlib import Path
from cronsole.core import JobContext, job

SIDE = Path(os.environ["SIDE_EFFECTS"])

@job(schedule="0 0 1 1 *")
def batch(ctx: JobContext) -> None:
    """Sixty items of 0.1 s, each leaving a side effect with the pid that did it."""
    ctx.items.enqueue_many((f"item-{n}", n, "t") for n in range(60))
    def handle(item):
        time.sleep(0.1)
        with SIDE.open("a") as out:
            out.write(f"{item.key} {os.getpid()}\\n")
    ctx.items.drain(handle, limit=60)
'''


@pytest.mark.slow
def test_a_resumed_node_does_not_redo_the_items_taken_over(
    workspace: Workspace, procs: list[Proc]
) -> None:
    workspace.write(JOBS, 'node_timeout = "4s"\ngrace_period = "5s"\n')
    first = start_host(workspace, procs)
    second = start_host(workspace, procs)
    assert cli(workspace, "fire", "batch").returncode == 0
    wait_for(lambda: len(side_effects(workspace)) >= 3)
    [(node,)] = query(workspace, "SELECT node FROM runs WHERE job = 'batch'")
    [(pid,)] = query(workspace, "SELECT pid FROM nodes WHERE id = ?", node)
    paused, other = (first, second) if first.popen.pid == pid else (second, first)
    paused.signal(signal.SIGSTOP)
    try:
        wait_for(
            lambda: (
                query(workspace, "SELECT status FROM runs WHERE job = 'batch'") == [("abandoned",)]
            ),
            20,
        )  # the other node saw it gone
        assert cli(workspace, "fire", "batch").returncode == 0  # and does what is left
        wait_for(
            lambda: query(workspace, "SELECT count(*) FROM items WHERE status = 'done'") == [(60,)],
            40,
        )
    finally:
        paused.signal(signal.SIGCONT)
    time.sleep(3)  # room for the resumed node to (wrongly) go on with its old claims
    done = Counter(line.split()[0] for line in side_effects(workspace))
    assert set(done) == {f"item-{n}" for n in range(60)}
    twice = [key for key, count in done.items() if count > 1]
    assert len(twice) <= 1, f"repeated after the resume: {twice}"  # only the one in flight
    for proc in (paused, other):
        proc.signal(signal.SIGTERM)
        try:
            code = proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.signal(signal.SIGUSR1)  # where it is stuck: every thread's stack
            time.sleep(1)
            raise AssertionError("did not stop: " + proc.text()[-12000:]) from None
        assert code == 0, proc.text()[-3000:]
