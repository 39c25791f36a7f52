"""Health says when a job is stuck: a run holds it while ticks are skipped behind it, while it is
far past its timeout, or while its node has stopped writing; a run that is merely long is not."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.engine import Engine
from cronsole.core.models import Overlap, RunReason
from cronsole.core.snapshot import take_snapshot
from tests.conftest import T0, Workspace
from tests.procs import cli

JOBS = '''
from cronsole.core import JobContext, job

@job(schedule="* * * * *")
def minutely(ctx: JobContext) -> None:
    """Does nothing."""

@job(schedule="0 0 * * *", timeout="10m")
def bounded(ctx: JobContext) -> None:
    """Does nothing."""
'''


@pytest.fixture
def engine(workspace: Workspace, clock: FrozenClock) -> Engine:
    workspace.write(JOBS)
    engine = workspace.engine(clock)
    engine.start_node("host")  # this node beats only when the test says so
    return engine


def hold(engine: Engine, job: str) -> int:
    run = engine.store.insert_run(job, T0, RunReason.SCHEDULE, engine.node_id, Overlap.SKIP, T0)
    assert run is not None
    return run.id


def stuck(engine: Engine) -> list[tuple[str, int, str]]:
    return [(s.job, s.run_id, s.why) for s in take_snapshot(engine, logs=0, runs=0).stuck]


def beat(engine: Engine, clock: FrozenClock, seconds: float) -> None:
    clock.advance(seconds)
    engine.store.heartbeat(engine.node_id, clock.now())


def test_ticks_skipped_behind_a_run_make_its_job_stuck(engine: Engine, clock: FrozenClock) -> None:
    run_id = hold(engine, "minutely")
    for minute in (1, 2):
        beat(engine, clock, 60)
        engine.store.insert_run(
            "minutely",
            T0 + timedelta(minutes=minute),
            RunReason.SCHEDULE,
            engine.node_id,
            Overlap.SKIP,
            clock.now(),
        )
    assert stuck(engine) == []  # two skipped ticks: a long run, not yet a stuck one
    beat(engine, clock, 60)
    engine.store.insert_run(
        "minutely",
        T0 + timedelta(minutes=3),
        RunReason.SCHEDULE,
        engine.node_id,
        Overlap.SKIP,
        clock.now(),
    )
    assert stuck(engine) == [
        ("minutely", run_id, f"run #{run_id} has had 3 or more ticks skipped behind it")
    ]
    snap = take_snapshot(engine, logs=0, runs=0)
    assert snap.health == "CRIT"
    assert {j.name: j.state for j in snap.jobs}["minutely"] == "stuck"


def test_a_run_far_past_its_timeout_is_stuck(engine: Engine, clock: FrozenClock) -> None:
    run_id = hold(engine, "bounded")
    beat(engine, clock, 600 + 29)
    assert stuck(engine) == []  # its runner closes it at 10 min; give that half a minute
    beat(engine, clock, 2)
    assert stuck(engine) == [
        ("bounded", run_id, f"run #{run_id} is running past its timeout (10m)")
    ]


def test_a_run_whose_node_stopped_writing_is_stuck(
    workspace: Workspace, engine: Engine, clock: FrozenClock
) -> None:
    run_id = hold(engine, "bounded")
    clock.advance(59)  # node_timeout (30 s) and half a minute for recovery to close it
    assert stuck(engine) == []
    clock.advance(2)
    assert stuck(engine) == [
        ("bounded", run_id, f"run #{run_id}: its node {engine.node_id} has not written for 1m1s")
    ]
    beat(engine, clock, 0)
    assert stuck(engine) == []


def test_health_exits_3_and_names_the_stuck_run(workspace: Workspace, engine: Engine) -> None:
    run_id = hold(engine, "bounded")
    found = cli(workspace, "health", "--json")  # real time: this node has been silent since T0
    report = json.loads(found.stdout)
    assert found.returncode == 3 and report["overall"] == "CRIT"
    assert [s["run_id"] for s in report["stuck"]] == [run_id]
