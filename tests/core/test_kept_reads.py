"""A console's refresh reads what changed, not everything: the store's change counters move
with every write, from any writer, and an idle refresh's work does not grow with history.
Work is counted in SQLite's own virtual-machine steps (its progress handler), not in time."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from cronsole.core.clock import FrozenClock, iso
from cronsole.core.engine import Engine
from cronsole.core.reads import TOPICS, KeptReads
from cronsole.core.snapshot import JobState, take_snapshot
from cronsole.core.store import Store, open_store
from cronsole.core.store.sqlite.schema import WATCHED
from tests.conftest import T0, Workspace

JOBS = """
from cronsole.core import JobContext, job

@job(name="queue", schedule="*/5 * * * *")
def queue(ctx: JobContext) -> None:
    pass

@job(name="other", schedule="0 2 * * *")
def other(ctx: JobContext) -> None:
    pass
"""


def steps(store: Store, read: Callable[[], object]) -> int:
    """SQLite virtual-machine steps (in hundreds) that `read` makes on this thread."""
    conn = store._db.get()  # type: ignore[attr-defined]  # the SQLite store's own connection
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0

    conn.set_progress_handler(count, 100)
    try:
        read()
    finally:
        conn.set_progress_handler(None, 100)
    return counted[0]


def add_outcomes(db: Path, start: int, count: int, at: str) -> None:
    """`count` items done over 50 tenants, as another process would write them."""
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO items (job, tenant, key, status, created_at, updated_at)"
            " VALUES ('queue', ?, ?, 'done', ?, ?)",
            ((f"t{n % 50:02d}", f"k{n}", at, at) for n in range(start, start + count)),
        )
        conn.execute("DELETE FROM tenant_counts")
        conn.execute(
            "INSERT INTO tenant_counts (job, queue, tenant, pending, done)"
            " SELECT job, queue, tenant, 1, count(*) FROM items GROUP BY job, queue, tenant"
        )


@pytest.fixture
def engine(workspace: Workspace) -> Engine:
    workspace.write(JOBS)
    return workspace.engine(FrozenClock(T0))


def test_every_writer_moves_the_counter_of_the_table_it_writes(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "c.db"))
    before = store.changes()
    assert before is not None and set(before) == set(WATCHED)
    assert {t for topics in TOPICS.values() for t in topics} <= set(WATCHED)
    stamp = iso(T0)
    writes = {  # each by a plain sqlite3 connection: another process, an older cronsole
        "jobs": "INSERT INTO jobs (name) VALUES ('x')",
        "job_state": f"INSERT INTO job_state VALUES ('x', 'k', '1', '{stamp}')",
        "control": f"INSERT INTO control VALUES ('paused_all', '{{}}', '{stamp}')",
        "runs": "INSERT INTO runs (job, reason, status, scheduled_for)"
        f" VALUES ('x', 'manual', 'queued', '{stamp}')",
        "tenant_counts": "INSERT INTO tenant_counts (job, queue, tenant) VALUES ('x', 'q', 't')",
        "commands": "INSERT INTO commands (action, status) VALUES ('fire', 'pending')",
        "records": "INSERT INTO records (collection, key) VALUES ('batch', 'b1')",
    }
    assert set(writes) == set(WATCHED)
    for table, sql in writes.items():
        for statement in (sql, f"UPDATE {table} SET rowid = rowid", f"DELETE FROM {table}"):
            seen = store.changes()
            with sqlite3.connect(tmp_path / "c.db") as conn:
                conn.execute(statement)
            after = store.changes()
            assert after is not None and seen is not None
            moved = {t for t in WATCHED if after[t] != seen[t]}
            assert moved == {table}, statement
    unwatched = store.changes()
    store.enqueue("x", "k1", T0, tenant="t")  # items move tenant_counts, never alone
    store.heartbeat("nobody", T0)  # heartbeats write nodes: they move nothing watched
    after = store.changes()
    assert after is not None and unwatched is not None
    assert {t for t in WATCHED if after[t] != unwatched[t]} == {"tenant_counts"}
    store.close()


def test_postgresql_keeps_no_counters_so_its_readers_read_afresh(pg_address: str) -> None:
    store = open_store(pg_address)
    assert store.changes() is None
    reads = KeptReads(store)
    store.ensure_jobs(["a"], T0)
    assert "a" in reads.begin().job_states()
    store.set_paused("a", True, T0, reason="why")
    assert reads.begin().job_states()["a"].paused
    store.close()


def test_an_idle_refresh_reads_nothing_watched_again_and_sees_another_writer(
    engine: Engine, workspace: Workspace
) -> None:
    reads = KeptReads(engine.store)
    first = take_snapshot(engine, store=reads.begin())
    assert {j.name: j.state for j in first.jobs} == {"queue": JobState.IDLE, "other": JobState.IDLE}
    read = reads.misses
    again = take_snapshot(engine, store=reads.begin())
    assert reads.misses == read  # every watched read answered from memory
    assert again.jobs == first.jobs
    with sqlite3.connect(workspace.db) as conn:  # a CLI in another process pauses a job
        conn.execute("UPDATE jobs SET paused = 1, pause_reason = 'deploy' WHERE name = 'queue'")
    paused = take_snapshot(engine, store=reads.begin())
    assert {j.name: (j.state, j.pause_reason) for j in paused.jobs} == {
        "queue": (JobState.PAUSED, "deploy"),
        "other": (JobState.IDLE, None),
    }
    assert reads.misses > read


def test_a_refresh_costs_the_same_whatever_the_day_s_outcomes(
    engine: Engine, workspace: Workspace
) -> None:
    """No health job has stored a report: the console grades tenants itself, and used to
    count every outcome of the last day to do it, every second (3 s a refresh at 1M items)."""
    stamp = iso(T0 - timedelta(hours=1))
    add_outcomes(workspace.db, 0, 1_000, stamp)
    store = engine.store
    small = steps(store, lambda: take_snapshot(engine, runs=0, commands=0))
    add_outcomes(workspace.db, 1_000, 20_000, stamp)
    large = steps(store, lambda: take_snapshot(engine, runs=0, commands=0))
    assert large < small * 1.5, (small, large)
    tenants = take_snapshot(engine).tenants
    assert len(tenants) == 50 and sum(t.pending for t in tenants) == 50


def test_an_idle_refresh_makes_a_fraction_of_a_full_read(
    engine: Engine, workspace: Workspace
) -> None:
    add_outcomes(workspace.db, 0, 2_000, iso(T0))
    reads = KeptReads(engine.store)
    take_snapshot(engine, store=reads.begin())
    full = steps(engine.store, lambda: take_snapshot(engine))
    idle = steps(engine.store, lambda: take_snapshot(engine, store=reads.begin()))
    assert idle * 3 < full, (idle, full)
