"""The crash harness: run the installed `cronsole --no-tui` on a workspace, kill it at a fault
point, restart it without faults, and compare what it leaves with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import Workspace
from tests.procs import Proc, query, side_effects, start_host, wait_for

FAULTS = "CRONSOLE_TEST_FAULTS"
INGEST_FILES = 10
INGEST_CONFIG = """
[jobs.invoice-ingest]
schedule = "every 1s"
[jobs.invoice-ingest.settings]
root = "storage"
period = "2026-11"
batch_size = 4
settle_seconds = 0
processor = "effects:count"
"""
# The ingest processor is the side effect we count: one line per call, outside the database.
EFFECTS = """
import os

def count(path, document):
    with open(os.environ["SIDE_EFFECTS"], "a") as handle:
        handle.write(document["path"] + "\\n")
    return {"counted": True}
"""


def ingest_workspace(ws: Workspace, files: int = INGEST_FILES) -> Workspace:
    """Invoice files with distinct modification times, and the ingest job on a 1 s tick."""
    ws.configure(INGEST_CONFIG)
    (ws.root / "effects.py").write_text(textwrap.dedent(EFFECTS))
    folder = ws.root / "storage/invoices/Acme-123456789/2026/11/invoice"
    folder.mkdir(parents=True)
    for n in range(files):
        path = folder / f"invoice-{n:03d}.txt"
        path.write_text(f"invoice {n}\n")
        os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))
    return ws


@dataclass(frozen=True)
class Final:
    """What a run of the workspace leaves behind that must not depend on crashes."""

    ledger: list[tuple[Any, ...]]
    documents: list[tuple[Any, ...]]
    watermark: object


def final_state(ws: Workspace, job: str = "invoice-ingest") -> Final:
    return Final(
        ledger=query(ws, "SELECT key, status FROM items WHERE job = ? ORDER BY key", job),
        documents=query(
            ws,
            "SELECT key, status, json_extract(data, '$.sha256')"
            " FROM records WHERE collection = 'document' ORDER BY key",
        ),
        watermark=query(ws, "SELECT value FROM job_state WHERE job = ? AND key = 'watermark'", job),
    )


def done(ws: Workspace, job: str, count: int) -> bool:
    return query(ws, "SELECT count(*) FROM items WHERE job = ? AND status = 'done'", job) == [
        (count,)
    ]


def run_to_completion(
    ws: Workspace, procs: list[Proc], job: str, items: int, env: dict[str, str] | None = None
) -> None:
    """Start a host, wait until `items` items are done, stop it with SIGTERM (exit 0)."""
    proc = start_host(ws, procs, env=env)
    wait_for(lambda: done(ws, job, items), timeout=60)
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.text()


def crash_at(ws: Workspace, procs: list[Proc], spec: str) -> Proc:
    """Start a host with a fault plan and wait for the fault to kill it."""
    proc = start_host(ws, procs, env={FAULTS: spec})
    proc.wait(60)
    assert proc.popen.returncode == -signal.SIGKILL, proc.text()
    return proc


def check_invariants(ws: Workspace, effects: list[str] | None = None) -> None:
    """What must hold after any fault, once the survivors are done (RELIABILITY.md)."""
    if not ws.postgres:
        assert query(ws, "PRAGMA integrity_check") == [("ok",)]
    assert query(ws, "SELECT job, key FROM items GROUP BY job, key HAVING count(*) > 1") == []
    assert query(ws, "SELECT id FROM runs WHERE status = 'running'") == []
    for job, value in query(ws, "SELECT job, value FROM job_state WHERE key = 'watermark'"):
        mark = json.loads(str(value))
        committed = query(
            ws,
            "SELECT max(json_extract(payload, '$.at')) FROM items WHERE job = ?"
            " AND status IN ('done', 'failed', 'dead')",
            job,
        )[0][0]
        assert committed is not None and mark["at"] <= committed, (job, mark, committed)
    if effects is not None:
        counts = Counter(effects)
        assert max(counts.values(), default=0) <= 2, counts
        assert sum(1 for n in counts.values() if n == 2) <= 1, counts


def ingest_effects(ws: Workspace) -> list[str]:
    return side_effects(ws)


def workspace_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
