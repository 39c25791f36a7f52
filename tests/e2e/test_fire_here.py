"""`cronsole fire JOB --here`, the crontab path: the run's records reach the store (the run
screen's Log, `cronsole logs`) and the log file, as they do from a scheduler."""

from __future__ import annotations

import json

from tests.conftest import Workspace
from tests.procs import cli, query

JOBS = '''
from cronsole.core import JobContext, job

@job(schedule="0 0 1 1 *")
def chatty(ctx: JobContext) -> None:
    """Says what it does."""
    ctx.log.info("counted %d invoices", 42)
    ctx.log.warning("one was late")
'''


def test_a_run_fired_here_keeps_its_records_in_the_store_and_the_log_file(
    workspace: Workspace,
) -> None:
    workspace.write(JOBS)
    done = cli(workspace, "fire", "chatty", "--here")
    assert done.returncode == 0, done.stderr
    [(run_id,)] = query(workspace, "SELECT id FROM runs WHERE job = 'chatty'")
    stored = [
        m
        for (m,) in query(
            workspace, "SELECT message FROM logs WHERE run_id = ? ORDER BY id", run_id
        )
    ]
    assert "counted 42 invoices" in stored and "one was late" in stored
    assert any(m.startswith("succeeded in") for m in stored)
    lines = [
        json.loads(line)
        for line in (workspace.root / "logs" / "cronsole.log").read_text().splitlines()
    ]
    assert {"counted 42 invoices", "one was late"} <= {
        r["message"] for r in lines if r["run_id"] == run_id
    }
    assert "counted 42 invoices" in cli(workspace, "logs", "--run", str(run_id)).stdout
    assert "counted" not in done.stderr  # crontab mails what a run prints: only its outcome
