"""Tenant queue, health check and retention on a real database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.engine import Engine
from cronsole.core.health import health_key
from cronsole.core.models import ItemStatus, Overlap, RunReason, RunStatus
from tests.conftest import T0, Workspace, eventually, run_job
from tests.tui.conftest import enter
from tests.tui.conftest import run as tui_run

CASES = [{"expected": 2, "output": 2}, {"expected": "a", "output": "b"}]


@pytest.fixture
def engine(workspace: Workspace, clock: FrozenClock) -> Engine:
    (workspace.root / "evals.py").write_text(
        "import threading, time\n"
        "from cronsole.jobs.tenants import score\n"
        "RELEASE = threading.Event()\n"
        "def evaluate(item):\n"
        "    if item.tenant == 'hangs':\n"
        "        RELEASE.wait(30)\n"
        "    return score(item)\n"
    )
    workspace.configure("""
[jobs.tenant-queue]
max_attempts = 1
[jobs.tenant-queue.settings]
per_tenant = 5
tenant_timeout = 1
evaluator = "evals:evaluate"
[jobs.tenant-health]
[jobs.tenant-health.settings]
warn_above = 20
crit_above = 40
[jobs.retention]
[jobs.retention.settings]
keep_days = 90
chunk_size = 7
""")
    return workspace.engine(clock, builtin=True)


def enqueue(engine: Engine, tenant: str, count: int, cases: list[object] | None = None) -> None:
    for n in range(count):
        engine.store.enqueue(
            "tenant-queue",
            f"{tenant}-{n}",
            T0,
            tenant=tenant,
            payload={"suite": "s", "cases": CASES if cases is None else cases},
            max_attempts=1,
        )


@pytest.mark.scenario("L4")
def test_each_tenant_gets_at_most_its_share_per_tick(engine: Engine) -> None:
    enqueue(engine, "big", 50)
    for tenant in ("a", "b", "c"):
        enqueue(engine, tenant, 3)
    run = run_job(engine, "tenant-queue")
    assert run.summary["tenants"] == {
        "a": {"done": 3, "failed": 0, "timed_out": 0},
        "b": {"done": 3, "failed": 0, "timed_out": 0},
        "big": {"done": 5, "failed": 0, "timed_out": 0},
        "c": {"done": 3, "failed": 0, "timed_out": 0},
    }
    done = engine.store.get_item("tenant-queue", "a-0")
    assert done is not None and done.result == {
        "suite": "s",
        "cases": 2,
        "passed": 1,
        "failed": 1,
        "accuracy": 0.5,
    }


def test_a_failing_tenant_never_blocks_the_others(engine: Engine) -> None:
    enqueue(engine, "good", 4)
    enqueue(engine, "broken", 3, cases=[])
    run = run_job(engine, "tenant-queue")
    assert run.status is RunStatus.PARTIAL and (run.processed, run.failed) == (4, 3)
    assert run.summary["tenants"]["broken"]["failed"] == 3
    [item, *_] = engine.store.list_items(job="tenant-queue", status=ItemStatus.DEAD)
    assert item.error == "ValueError: evaluation run has no test cases"


def test_a_hanging_tenant_times_out_and_its_late_result_is_refused(engine: Engine) -> None:
    import sys

    if "evals" in sys.modules:  # an earlier test released the hang; hang again
        sys.modules["evals"].RELEASE.clear()
    enqueue(engine, "hangs", 2)
    enqueue(engine, "quick", 2)
    run = run_job(engine, "tenant-queue")
    assert run.summary["tenants"]["quick"] == {"done": 2, "failed": 0, "timed_out": 0}
    assert run.summary["tenants"]["hangs"]["timed_out"] == 2
    assert run.status is RunStatus.PARTIAL
    sys.modules["evals"].RELEASE.set()  # the hung evaluation finishes late
    eventually(lambda: all(t.name != "tenant-hangs" for t in __import__("threading").enumerate()))
    late = engine.store.get_item("tenant-queue", "hangs-0")
    assert late is not None and late.status is ItemStatus.DEAD
    assert late.error == "timeout: tenant 'hangs' took longer than 1s"


@pytest.mark.scenario("F11")
def test_an_always_failing_and_a_hanging_tenant_leave_the_others_complete(engine: Engine) -> None:
    import sys

    if "evals" in sys.modules:  # an earlier test released the hang; hang again
        sys.modules["evals"].RELEASE.clear()
    for tenant in ("alpha", "beta", "gamma"):
        enqueue(engine, tenant, 3)
    enqueue(engine, "broken", 3, cases=[])
    enqueue(engine, "hangs", 2)
    run = run_job(engine, "tenant-queue")
    sys.modules["evals"].RELEASE.set()  # the hung evaluation ends, late, before the store closes
    eventually(lambda: all(t.name != "tenant-hangs" for t in __import__("threading").enumerate()))
    assert run.status is RunStatus.PARTIAL
    assert run.summary["tenants"] == {
        **{t: {"done": 3, "failed": 0, "timed_out": 0} for t in ("alpha", "beta", "gamma")},
        "broken": {"done": 0, "failed": 3, "timed_out": 0},
        "hangs": {"done": 0, "failed": 0, "timed_out": 2},
    }
    dead = engine.store.list_items(job="tenant-queue", status=ItemStatus.DEAD)
    assert {i.tenant for i in dead} == {"broken", "hangs"} and all(i.error for i in dead)
    assert engine.store.retry_items("tenant-queue", T0) == 5  # every failure can be retried


def test_health_grades_tenants_and_stores_the_report(engine: Engine) -> None:
    enqueue(engine, "calm", 3)
    enqueue(engine, "busy", 21)
    enqueue(engine, "swamped", 41)
    run = run_job(engine, "tenant-health")
    assert run.summary == {"overall": "CRIT", "tenants": 3, "unhealthy": 2}
    report = engine.store.get_control(health_key("tenant-queue"))
    assert [(t["tenant"], t["status"], t["pending"]) for t in report["tenants"]] == [
        ("swamped", "CRIT", 41),
        ("busy", "WARN", 21),
        ("calm", "OK", 3),
    ]
    assert report["tenants"][0]["oldest_pending_age"] == 1.0


@pytest.mark.scenario("L7")
def test_retention_archives_old_history_in_chunks_and_resumes(engine: Engine) -> None:
    old = T0 - timedelta(days=100)
    for n in range(20):
        run = engine.store.insert_run(
            "tenant-queue", old + timedelta(minutes=n), RunReason.SCHEDULE, "n", Overlap.ALLOW, old
        )
        assert run is not None
        engine.store.finish_run(run.id, RunStatus.SUCCEEDED, old + timedelta(minutes=n))
    recent = engine.store.insert_run("tenant-queue", T0, RunReason.SCHEDULE, "n", Overlap.ALLOW, T0)
    assert recent is not None
    engine.store.finish_run(recent.id, RunStatus.SUCCEEDED, T0)
    engine.store.archive_chunk("runs", T0 - timedelta(days=90), 7, T0)  # an interrupted pass
    result = run_job(engine, "retention")
    assert result.summary["runs"] == 13
    assert engine.store.count_archived("runs") == 20
    assert {r.id for r in engine.store.list_runs(job="tenant-queue", limit=100)} == {recent.id}
    assert run_job(engine, "retention").summary["runs"] == 0


def test_archived_runs_and_their_items_read_back(
    engine: Engine,
    workspace: Workspace,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run ID` and `runs --archived` read what retention moved to the archive."""
    old = T0 - timedelta(days=100)
    run = engine.store.insert_run(
        "tenant-queue", old, RunReason.SCHEDULE, engine.node_id, Overlap.ALLOW, old
    )
    assert run is not None
    engine.store.enqueue_many(
        "tenant-queue", [("inv-1", None, "acme"), ("inv-2", None, "acme")], old
    )
    for item in engine.store.claim_items("tenant-queue", engine.node_id, run.id, old, 2):
        engine.store.complete_item(item, old)
    engine.store.finish_run(run.id, RunStatus.SUCCEEDED, old)
    run_job(engine, "retention")
    assert engine.store.get_run(run.id) is None  # archived, not lost
    enter(workspace, monkeypatch)
    code, out, _ = tui_run(capsys, "run", str(run.id), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["archived"] is True and shown["status"] == "succeeded"
    assert sorted((i["key"], i["status"]) for i in shown["items"]) == [
        ("inv-1", "done"),
        ("inv-2", "done"),
    ]
    code, out, _ = tui_run(capsys, "run", str(run.id))
    assert code == 0 and out.splitlines()[0].endswith("(archived)")
    code, out, _ = tui_run(capsys, "runs", "--archived", "--job", "tenant-queue", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [run.id]
    assert (
        json.loads(tui_run(capsys, "runs", "--archived", "--job", "retention", "--json")[1]) == []
    )


def test_health_grades_failures_and_age_too_and_says_which_set_the_grade(
    engine: Engine, clock: FrozenClock
) -> None:
    """A tenant whose every item fails is not OK although its backlog is empty; one whose
    oldest item waits too long is not OK although it is small."""
    enqueue(engine, "broken", 3, cases=[])  # every evaluation of these fails
    enqueue(engine, "fine", 4)
    run_job(engine, "tenant-queue")  # the clock now reads T0 + 1 s
    enqueue(engine, "slow", 2)  # enqueued at T0
    clock.advance(2 * 3600 - 2)  # run_job adds the last second: slow has waited 2 h
    engine.store.enqueue("tenant-queue", "fresh-0", clock.now(), tenant="fresh")
    run_job(engine, "tenant-health")
    report = engine.store.get_control(health_key("tenant-queue"))
    graded = {t["tenant"]: (t["status"], t["reason"]) for t in report["tenants"]}
    assert graded == {
        "broken": ("CRIT", "100% of the last day's items failed (> 50%)"),
        "slow": ("WARN", "oldest pending 2h > 1h"),
        "fine": ("OK", ""),
        "fresh": ("OK", ""),
    }
    assert {t["tenant"]: t["failure_rate"] for t in report["tenants"]} == {
        "broken": 1.0,
        "fine": 0.0,
        "slow": None,
        "fresh": None,
    }
    assert report["thresholds"]["failure_crit"] == 0.5
