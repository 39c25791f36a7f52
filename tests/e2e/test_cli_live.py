"""CLI commands against a live database and a running scheduler, as an operator uses them."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cronsole.core.models import RunReason
from cronsole.core.store.sqlite import SQLiteStore
from tests.conftest import T0, Workspace, eventually
from tests.e2e.test_headless import JOBS
from tests.procs import CRONSOLE, Proc, cli, query, start_host


def test_logs_follow_prints_new_records_until_interrupted(workspace: Workspace) -> None:
    workspace.write(JOBS)
    env = {**workspace.env(), "SIDE_EFFECTS": str(workspace.root / "side.txt")}
    SQLiteStore.open(workspace.db).close()
    follower = subprocess.Popen(
        [CRONSOLE, "logs", "--follow"],
        env=env,
        cwd=workspace.root,
        stdout=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background (`&` in a script) would
        # hand its children SIGINT ignored, which they rightly keep ignoring
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1.5)
    store = SQLiteStore.open(workspace.db)
    store.add_logs([(T0, "WARNING", "tick", None, "x", "disk \x1b[31m almost full")])
    store.close()
    assert follower.stdout is not None
    line = follower.stdout.readline()
    assert "WARNING tick: disk \\x1b[31m almost full" in line
    follower.send_signal(signal.SIGINT)
    assert follower.wait(10) == 0


def test_cancel_a_queued_run_and_retry_through_the_scheduler(
    workspace: Workspace, procs: list[Proc]
) -> None:
    workspace.write(JOBS, "[jobs.tick]\nenabled = false\n")
    store = SQLiteStore.open(workspace.db)
    queued = store.queue_run("slow", T0, RunReason.BACKFILL, T0)
    store.close()
    assert queued is not None
    result = cli(workspace, "cancel", str(queued.id))
    assert result.returncode == 0 and result.stdout.strip() == f"run #{queued.id} cancelled"
    start_host(workspace, procs)
    fired = cli(workspace, "fire", "slow", "--wait")
    assert fired.returncode == 0, fired.stderr
    [(run_id,)] = query(workspace, "SELECT id FROM runs WHERE reason = 'manual'")
    retried = cli(workspace, "retry", str(run_id))  # it failed nothing: nothing to retry
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == f"nothing to retry: run #{run_id} has no failed items left\n"
    assert query(workspace, "SELECT count(*) FROM runs WHERE reason = 'retry'") == [(0,)]


def test_init_asks_on_a_terminal(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required for this test (.ci/run installs it)")
    target = tmp_path / "asked.toml"
    socket = f"cronsole-init-{time.monotonic_ns()}"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout

    tmux(
        "new-session",
        "-d",
        "-s",
        "i",
        "-x",
        "100",
        "-y",
        "30",
        f"{CRONSOLE} init {target}; sleep 30",
    )
    try:

        def wait_screen(text: str) -> None:
            try:
                eventually(lambda: text in tmux("capture-pane", "-p", "-t", "i"), 15, every=0.1)
            except AssertionError:
                raise AssertionError(
                    f"{text!r} not shown; the screen shows:\n"
                    + tmux("capture-pane", "-p", "-t", "i")
                ) from None

        wait_screen("enable batch-check?")
        tmux("send-keys", "-t", "i", "y", "Enter")
        wait_screen("schedule of batch-check")
        tmux("send-keys", "-t", "i", "C-u", "every 15m", "Enter")
        for name in (
            "hourly-rollup",
            "invoice-ingest",
            "nightly-entities",
            "retention",
            "stale-sweeper",
            "tenant-health",
            "tenant-queue",
        ):
            wait_screen(f"enable {name}?")
            tmux("send-keys", "-t", "i", "n", "Enter")
        eventually(target.exists, 15, every=0.1)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    text = target.read_text()
    assert "[jobs.batch-check]" in text and 'schedule = "every 15m"' in text
    assert "[jobs.tenant-queue]" not in text
