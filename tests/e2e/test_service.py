"""`cronsole --no-tui` as a systemd service: sd_notify, journal lines, metrics over loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Workspace
from tests.e2e.test_headless import JOBS
from tests.procs import wait_for

CRONSOLE = str(Path(sys.executable).with_name("cronsole"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    yield path, sock
    sock.close()


def start(ws: Workspace, *args: str, **env: str) -> subprocess.Popen[bytes]:
    log = (ws.root / "service.log").open("wb")
    return subprocess.Popen(
        [CRONSOLE, "--no-tui", *args],
        env={**ws.env(), "SIDE_EFFECTS": str(ws.root / "side.txt"), **env},
        cwd=ws.root,
        stdout=log,
        stderr=log,
    )


def test_sd_notify_ready_watchdog_status_and_stopping(
    workspace: Workspace, notify_socket: tuple[str, socket.socket]
) -> None:
    workspace.write(JOBS, "[jobs.tick]\nenabled = false\n")
    path, sock = notify_socket
    proc = start(workspace, "--log-format", "json", NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
    try:
        messages = [sock.recv(4096).decode() for _ in range(3)]
        assert messages[0].startswith("READY=1\nSTATUS=2 jobs, ")
        assert all("WATCHDOG=1" in m and "STATUS=" in m for m in messages[1:])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        rest = []
        while True:
            try:
                rest.append(sock.recv(4096).decode())
            except TimeoutError:
                break
            if any("STOPPING=1" in m for m in rest):
                break
        assert any(m.startswith("STOPPING=1") for m in rest)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_metrics_healthz_and_readyz_over_loopback(workspace: Workspace) -> None:
    workspace.write(JOBS)
    port = free_port()
    proc = start(workspace, "--log-format", "json", "--metrics-addr", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:

        def scraped() -> dict[str, list[tuple[dict[str, str], float]]]:
            body = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
            return {
                family.name: [(s.labels, s.value) for s in family.samples]
                for family in text_string_to_metric_families(body)
            }

        wait_for(
            lambda: (
                _ok(scraped)
                and any(
                    labels.get("job") == "tick" for labels, _ in scraped().get("cronsole_runs", [])
                )
            )
        )
        families = scraped()
        assert families["cronsole_scheduler_up"] == [({}, 1.0)]
        assert ({"job": "tick"}, 0.0) in families["cronsole_job_stuck"]
        assert any(
            labels == {"job": "tick", "status": "succeeded"} and value >= 1
            for labels, value in families["cronsole_runs"]
        )
        assert "cronsole_run_duration_seconds" in families
        assert any(
            labels.get("job") == "tick"
            for labels, _ in families["cronsole_last_success_timestamp_seconds"]
        )
        for path in ("/healthz", "/readyz"):
            body = json.loads(urllib.request.urlopen(base + path, timeout=5).read())
            assert body["ok"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def _ok(scrape: object) -> bool:
    try:
        scrape()  # type: ignore[operator]
    except (urllib.error.URLError, ConnectionError):
        return False
    return True


def test_lines_carry_syslog_priorities_when_stderr_is_the_journal(workspace: Workspace) -> None:
    workspace.write(JOBS, "[jobs.tick]\nenabled = false\n")
    log_path = workspace.root / "journal.log"
    log_path.touch()
    info = os.stat(log_path)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [CRONSOLE, "--no-tui"],
            cwd=workspace.root,
            stdout=log,
            stderr=log,
            env={
                **workspace.env(),
                "SIDE_EFFECTS": str(workspace.root / "s"),
                "JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}",
            },
        )
        wait_for(lambda: "cronsole started" in log_path.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    lines = log_path.read_text().splitlines()
    assert lines and all(line.startswith(("<6>", "<4>", "<3>", "<7>")) for line in lines)
    assert any(line.startswith("<6>cronsole: cronsole started") for line in lines)


@pytest.mark.parametrize("addr", ["9464", "127.0.0.1:http", "127.0.0.1:70000"])
def test_a_bad_metrics_address_is_refused(workspace: Workspace, addr: str) -> None:
    workspace.write(JOBS)
    result = subprocess.run(
        [CRONSOLE, "--no-tui", "--metrics-addr", addr],
        cwd=workspace.root,
        env={**workspace.env(), "SIDE_EFFECTS": "x"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "bad --metrics-addr" in result.stderr
    assert not workspace.db.exists()
