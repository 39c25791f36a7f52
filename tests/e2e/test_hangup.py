"""A hang-up is a graceful stop: `kill -HUP`, a dropped SSH connection (a real sshd on
127.0.0.1), and a console whose terminal goes away (tmux)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.e2e.conftest import ssh_command
from tests.e2e.test_headless import JOBS
from tests.procs import CRONSOLE, Proc, cli, query, side_effects, start_host, wait_for


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    workspace.write(JOBS, 'grace_period = "30s"\n[jobs.tick]\nenabled = false\n')
    return workspace


def stopped_gracefully(ws: Workspace, signal_name: str) -> None:
    """The slow run is interrupted, no item is left claimed, the node says it stopped, and
    the log file names the signal."""
    wait_for(lambda: query(ws, "SELECT count(*) FROM nodes WHERE stopped_at IS NULL") == [(0,)], 40)
    [(status, processed)] = query(ws, "SELECT status, processed FROM runs WHERE job = 'slow'")
    assert status == "interrupted" and 0 < processed < 40
    assert query(ws, "SELECT count(*) FROM items WHERE status = 'claimed'") == [(0,)]
    logged = (ws.root / "logs" / "cronsole.log").read_text()
    assert f"received {signal_name}" in logged
    assert cli(ws, "status").returncode == 3  # no scheduler now, and status says so


def start_slow_run(ws: Workspace) -> None:
    assert cli(ws, "fire", "slow").returncode == 0
    wait_for(lambda: len(side_effects(ws)) >= 3)


def remote_command(ws: Workspace, *args: str) -> str:
    env = {**ws.env(), "SIDE_EFFECTS": str(ws.root / "side.txt")}
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"cd {shlex.quote(str(ws.root))} && exec env {assigns} {CRONSOLE} {' '.join(args)}"


def test_kill_hup_stops_the_service_like_sigterm(ws: Workspace, procs: list[Proc]) -> None:
    host = start_host(ws, procs)
    start_slow_run(ws)
    host.signal(signal.SIGHUP)
    assert host.wait(20) == 0
    stopped_gracefully(ws, "SIGHUP")


@pytest.mark.slow
def test_a_dropped_ssh_connection_stops_the_service_gracefully(
    ws: Workspace, sshd: tuple[int, Path]
) -> None:
    port, key = sshd
    client = subprocess.Popen(
        ssh_command(port, key, remote_command(ws, "--no-tui")),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: query(ws, "SELECT count(*) FROM nodes WHERE stopped_at IS NULL") == [(1,)], 30
        )
        start_slow_run(ws)
        client.kill()  # the connection drops: sshd hangs up the session
    finally:
        client.kill()
        client.wait(10)
    stopped_gracefully(ws, "SIGHUP")


@pytest.mark.slow
def test_a_console_whose_terminal_closes_stops_its_runs_gracefully(ws: Workspace) -> None:
    session = f"hup-{os.getpid()}-{time.monotonic_ns()}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", remote_command(ws)],
        check=True,
    )
    try:
        wait_for(
            lambda: (
                query(ws, "SELECT count(*) FROM nodes WHERE role = 'host' AND stopped_at IS NULL")
                == [(1,)]
            ),
            30,
        )
        start_slow_run(ws)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)  # SIGHUP
    stopped_gracefully(ws, "SIGHUP")
