"""Many ticks claimed together (`Store.claim_ticks`, one statement per step) make exactly the
runs that claiming them one by one with `insert_run` and `record_tick` makes: the old path is
the reference, on both backends, over random mixes of overlap policies, runs in flight, ticks
already claimed elsewhere, paused jobs and a job ticking twice in one batch."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cronsole.core.models import Overlap, RunReason, RunStatus
from cronsole.core.store import Store, open_store
from tests.conftest import T0, drop_pg_schema, pg_schema_address

JOBS = [f"job-{n}" for n in range(12)]
POLICIES = [Overlap.SKIP, Overlap.QUEUE, Overlap.ALLOW]


@pytest.fixture
def pair(address: str, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two empty stores on the same backend: one claims together, one one by one."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    second = str(tmp_path / "ref.db") if "://" not in address else pg_schema_address(name)
    stores = (open_store(address), open_store(second))
    yield stores
    for store in stores:
        store.close()
    if "://" in address:
        drop_pg_schema(name)


def history(seed: int) -> tuple[list[tuple[str, int, RunStatus]], list[tuple[str, int, bool]]]:
    """Runs there before (job, minute, status), and the batch: (job, minute, paused)."""
    rng = random.Random(seed)
    before = [
        (job, rng.randrange(60), rng.choice([RunStatus.RUNNING, RunStatus.QUEUED]))
        for job in rng.sample(JOBS, 6)
    ]
    batch = [(rng.choice(JOBS), rng.randrange(50, 70), rng.random() < 0.15) for _ in range(16)]
    return before, batch


def seed(store: Store, before: list[tuple[str, int, RunStatus]]) -> None:
    store.ensure_jobs(JOBS, T0)
    for job, minute, status in before:
        at = T0 + timedelta(minutes=minute)
        if status is RunStatus.QUEUED:
            store.queue_run(job, at, RunReason.MANUAL, T0)
        else:
            store.insert_run(job, at, RunReason.MANUAL, "elsewhere", Overlap.ALLOW, T0)


def shown(store: Store) -> list[tuple[object, ...]]:
    """Every run and each job's latest tick; a run named in an error by its tick, not its id
    (the two paths number runs in different orders)."""
    runs = store.list_runs(limit=1000)
    ticks = {f"#{r.id} ": f"@{r.scheduled_for:%H:%M} " for r in runs}
    states = store.job_states()
    return sorted(
        [
            (
                r.job,
                r.scheduled_for,
                r.status,
                re.sub(r"#\d+ ", lambda m: ticks[m[0]], r.error or ""),
            )
            for r in runs
        ]
        + [(job, s.last_tick) for job, s in states.items()],
        key=repr,
    )


@pytest.mark.parametrize("case", range(12))
def test_claiming_together_makes_the_runs_claiming_one_by_one_makes(
    pair: tuple[Store, Store], case: int
) -> None:
    together, one_by_one = pair
    before, batch = history(case)
    policy = {job: POLICIES[n % 3] for n, job in enumerate(JOBS)}
    for store in pair:
        seed(store, before)
    now = T0 + timedelta(hours=2)
    ticks = [
        (job, T0 + timedelta(minutes=m), None if paused else policy[job])
        for job, m, paused in batch
    ]
    made = together.claim_ticks(ticks, "n1", now)
    expected = []
    for job, tick, overlap in ticks:  # the reference: the path each tick took before
        one_by_one.record_tick(job, tick)
        if overlap is not None:
            run = one_by_one.insert_run(job, tick, RunReason.SCHEDULE, "n1", overlap, now)
            expected += [run] if run else []
    assert shown(together) == shown(one_by_one)
    assert sorted((r.job, r.scheduled_for, r.status) for r in made) == sorted(
        (r.job, r.scheduled_for, r.status) for r in expected
    )
    assert [r.id for r in made] == sorted(r.id for r in made)
    assert {r.status for r in made} >= {RunStatus.RUNNING}


def test_a_batch_of_many_jobs_is_one_statement_per_step(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "c.db"))
    names = [f"j{n}" for n in range(300)]
    store.ensure_jobs(names, T0)
    conn = store._db.get()  # type: ignore[attr-defined]  # the SQLite store's own connection
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    made = store.claim_ticks([(n, T0, Overlap.SKIP) for n in names], "n1", T0)
    conn.set_trace_callback(None)
    assert len(made) == 300 and {r.status for r in made} == {RunStatus.RUNNING}
    # the trace repeats a statement for each trigger it fires: count the distinct ones
    inserts = {s for s in statements if s.lstrip().startswith("INSERT INTO runs")}
    assert len(inserts) == 2  # 200 ticks a statement
    assert len(set(statements)) < 10
    again = store.claim_ticks([(n, T0, Overlap.SKIP) for n in names], "n2", T0)
    assert again == []  # every tick already has its run
    store.close()
