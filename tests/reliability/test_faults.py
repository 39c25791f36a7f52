"""Fault scenarios: a locked or full database, an unwritable log file, clock jumps, sweepers
racing, failing and hanging tenants, pauses across restarts, overlap and downtime."""

from __future__ import annotations

import resource
import signal
import threading
from datetime import timedelta
from typing import Any

import pytest

from cronsole.core import faults
from cronsole.core.clock import FrozenClock
from cronsole.core.errors import StaleClaim, StoreWriteFailed
from cronsole.core.models import ItemStatus, RunStatus
from cronsole.core.store import Store
from tests.conftest import T0, Workspace, run_job
from tests.e2e.test_headless import JOBS
from tests.procs import Proc, query, side_effects, start_host, wait_for
from tests.reliability.harness import check_invariants

BATCH_JOBS = '''
from __future__ import annotations
import sqlite3, threading, time
from cronsole.core import JobContext, job
from cronsole.core.models import Record

def hold_the_write_lock(db: str, ready: threading.Event, seconds: float) -> None:
    """A second writer: a plain connection inside BEGIN IMMEDIATE for `seconds`."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    ready.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()

@job(schedule="every 1s")
def batch(ctx: JobContext) -> None:
    """Writes fifty records in one transaction; the first run after a flag file is blocked."""
    flag = ctx.base_dir / "block-next-run"
    if flag.exists():
        flag.unlink()
        ready = threading.Event()
        threading.Thread(target=hold_the_write_lock, daemon=True,
                         args=(str(ctx.base_dir / "state/cronsole.db"), ready, 6.5)).start()
        ready.wait(5)
    ctx.records("batch").put_many([Record(f"{ctx.run.id}-{n}", {"n": n}, grp=str(ctx.run.id))
                                   for n in range(50)])
'''


def runs(ws: Workspace, job: str) -> list[tuple[Any, ...]]:
    return query(
        ws,
        "SELECT id, status, error FROM runs WHERE job = ? AND reason = 'schedule' ORDER BY id",
        job,
    )


@pytest.mark.sqlite_only  # holds SQLite's file lock; PostgreSQL's lock_timeout is alike
@pytest.mark.slow
@pytest.mark.scenario("F3")
def test_a_lock_held_past_the_busy_timeout_rolls_the_batch_back_and_the_next_tick_retries(
    workspace: Workspace, procs: list[Proc]
) -> None:
    workspace.write(BATCH_JOBS)
    host = start_host(workspace, procs)
    wait_for(lambda: len([r for r in runs(workspace, "batch") if r[1] == "succeeded"]) >= 2)
    (workspace.root / "block-next-run").touch()
    wait_for(lambda: any(r[1] == "failed" for r in runs(workspace, "batch")), 30)
    [(failed_id, _, error)] = [r for r in runs(workspace, "batch") if r[1] == "failed"]
    assert "database is locked" in str(error) and "rolled back" in str(error)
    wait_for(
        lambda: (
            len(
                [
                    r
                    for r in runs(workspace, "batch")
                    if r[1] == "succeeded" and int(str(r[0])) > int(str(failed_id))
                ]
            )
            >= 3
        ),
        30,
    )
    assert host.popen.poll() is None  # the process survived
    host.signal(signal.SIGTERM)
    assert host.wait(20) == 0
    per_run = dict(query(workspace, "SELECT grp, count(*) FROM records GROUP BY grp"))
    assert str(failed_id) not in per_run  # the blocked batch rolled back whole
    assert set(per_run.values()) == {50}
    for run_id, status, _ in runs(workspace, "batch"):
        assert (str(run_id) in per_run) == (status == "succeeded")
    assert "Traceback" not in host.text()
    check_invariants(workspace)


RECORDS_JOB = '''
from cronsole.core import JobContext, job
from cronsole.core.models import Record

@job(schedule="0 0 1 1 *")
def bulky(ctx: JobContext) -> None:
    """A thousand 2 KB records in one transaction."""
    ctx.records("bulk").put_many([Record(f"{ctx.run.id}-{n}", {"pad": "x" * 2000})
                                  for n in range(1000)])
'''


@pytest.mark.sqlite_only  # fills the file's page budget
@pytest.mark.scenario("F4")
def test_a_full_database_rolls_back_says_so_and_recovers_when_space_returns(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.write(RECORDS_JOB)
    engine = workspace.engine(clock)
    conn = engine.store._db.get()  # type: ignore[attr-defined]  # this thread's connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 40}")  # room for a run row, not the batch
    before = query(workspace, "SELECT count(*) FROM records")
    run = run_job(engine, "bulky")
    assert run.status is RunStatus.FAILED
    assert run.error is not None and "database or disk is full" in run.error
    assert "rolled back" in run.error
    assert query(workspace, "SELECT count(*) FROM records") == before == [(0,)]
    with pytest.raises(StoreWriteFailed, match="full"):
        engine.store.enqueue("bulky", "k" * 400_000, T0)  # any write, not only job batches
    conn.execute("PRAGMA max_page_count = 1073741823")  # space returns
    again = run_job(engine, "bulky")
    assert again.status is RunStatus.SUCCEEDED
    assert query(workspace, "SELECT count(*) FROM records") == [(1000,)]
    assert query(workspace, "PRAGMA integrity_check") == [("ok",)]


LIMIT = 8 * 1024 * 1024


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.mark.slow
@pytest.mark.scenario("F5")
def test_an_unwritable_log_file_costs_one_notice_and_no_job_outcome(
    workspace: Workspace, procs: list[Proc]
) -> None:
    workspace.write(JOBS, "log_max_bytes = 100_000_000\n")
    log_file = workspace.root / "logs" / "cronsole.log"
    log_file.parent.mkdir(mode=0o700)
    log_file.write_text("x" * 120 + "\n")
    with log_file.open("a") as handle:  # the file is a few bytes short of the size limit
        handle.truncate(LIMIT - 50)
    host = Proc(workspace, "--no-tui", preexec=limit_file_size)
    procs.append(host)
    wait_for(lambda: len([s for s in side_effects(workspace) if s.startswith("tick")]) >= 6, 40)
    assert host.popen.poll() is None
    host.signal(signal.SIGTERM)
    assert host.wait(20) == 0
    output = host.text()
    assert output.count("cannot write the log file") == 1
    assert "Traceback" not in output and "Logging error" not in output
    assert log_file.stat().st_size <= LIMIT
    succeeded = query(
        workspace, "SELECT count(*) FROM runs WHERE job = 'tick' AND status = 'succeeded'"
    )[0][0]
    assert int(str(succeeded)) >= 6  # outcomes commit without the log file
    check_invariants(workspace)


@pytest.mark.scenario("F10")
def test_two_sweepers_at_once_change_each_stale_claim_once(store: Store) -> None:
    for n in range(10):
        store.enqueue("job", f"stale-{n}", T0)
    stale = store.claim_items("job", "gone", None, T0, limit=10)
    for n in range(5):
        store.enqueue("job", f"fresh-{n}", T0)
    fresh = store.claim_items("job", "alive", None, T0 + timedelta(minutes=40), limit=5)
    now = T0 + timedelta(minutes=45)
    cutoff = now - timedelta(minutes=30)
    swept: list[list[str]] = []

    def sweep() -> None:
        swept.append([i.key for i in store.sweep_stale_items(cutoff, now)])

    faults.configure("mid_sweep=sleep:0.3")  # the first sweeper stops half-way, holding on
    try:
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        faults.configure(None)
    assert sorted(len(keys) for keys in swept) == [0, 10]  # all by one sweeper, none twice
    assert sorted(k for keys in swept for k in keys) == sorted(i.key for i in stale)
    for item in fresh:
        assert store.get_item("job", item.key).status is ItemStatus.CLAIMED  # type: ignore
    with pytest.raises(StaleClaim):
        store.complete_item(stale[0], now)  # the old owner's late result is refused
    assert store.get_item("job", "stale-0").attempts == 1  # type: ignore[union-attr]
