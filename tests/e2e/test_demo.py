"""The demo workspace, created from scratch by the installed command and run headless."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.procs import wait_for

CRONSOLE = str(Path(sys.executable).with_name("cronsole"))
JOBS = {
    "invoice-ingest",
    "batch-check",
    "nightly-entities",
    "hourly-rollup",
    "stale-sweeper",
    "tenant-queue",
    "tenant-health",
    "retention",
    "demo-traffic",
}


def succeeded(db: Path) -> set[str]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return {
            r[0] for r in conn.execute("SELECT DISTINCT job FROM runs WHERE status = 'succeeded'")
        }
    finally:
        conn.close()


def test_the_demo_runs_every_job_family(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONSOLE_")}
    env.update(
        XDG_STATE_HOME=str(tmp_path / "xdg"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        CRONSOLE_JOB_TENANT_QUEUE_SCHEDULE="every 5s",
    )
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        [CRONSOLE, "demo", str(folder), "--no-tui", "--seed", "7", "--log-format", "json"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        db = folder / "state" / "cronsole.db"
        wait_for(lambda: db.exists() and succeeded(db) == JOBS, timeout=90)
        invoices = list((folder / "storage" / "invoices").rglob("*.*"))
        assert len(invoices) >= 300
        assert any(p.suffix == ".png" for p in invoices)
        assert (folder / "batches" / "inbox" / "batch_demo_done" / "output.jsonl").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    conn = sqlite3.connect(db)
    failed = dict(
        conn.execute(
            "SELECT tenant, failed + dead FROM tenant_counts"
            " WHERE job = 'tenant-queue' AND failed + dead > 0"
        )
    )
    assert set(failed) == {"broken-corp"}  # the one failing tenant, and only it
    health = conn.execute("SELECT value FROM control WHERE key = 'health:tenant-queue'").fetchone()
    report = json.loads(health[0])
    # acme's seeded backlog is WARN; broken-corp, once the queue has run its items, is CRIT
    # by its failure rate: which the health check saw first depends on the jobs' order
    graded = {t["tenant"]: t for t in report["tenants"] if t["status"] != "OK"}
    assert report["overall"] in ("WARN", "CRIT") and graded
    assert all(t["reason"] for t in graded.values())
    if report["overall"] == "CRIT":
        assert graded["broken-corp"]["status"] == "CRIT"
        assert "failed" in graded["broken-corp"]["reason"]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    again = subprocess.Popen(
        [CRONSOLE, "demo", str(folder), "--no-tui", "--log-format", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert again.stderr is not None
    assert "cronsole started" in again.stderr.readline()
    again.send_signal(signal.SIGTERM)
    out, _ = again.communicate(timeout=30)
    assert again.returncode == 0 and out.startswith("reusing the demo workspace")
