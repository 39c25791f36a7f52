"""The job API through the real runner and store: caps, budget, concurrency, isolation, retry."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.commands import Commands
from cronsole.core.engine import Engine
from cronsole.core.errors import ConfigError, UsageError
from cronsole.core.models import ItemStatus, Overlap, Run, RunReason, RunStatus
from tests.conftest import T0, FixedRandom, Workspace, eventually, frozen, job_module

JOBS = job_module("api_jobs")


@pytest.fixture
def engine(workspace: Workspace, clock: FrozenClock) -> Engine:
    workspace.write(JOBS)
    return workspace.engine(clock)


def run_now(engine: Engine, name: str, **overrides: object) -> Run:
    frozen(engine).advance(1)  # each run its own tick
    run = engine.store.insert_run(
        name,
        engine.clock.now(),
        RunReason.MANUAL,
        engine.node_id,
        Overlap.SKIP,
        engine.clock.now(),
        dict(overrides),
    )
    assert run is not None
    return engine.runner.execute(engine.jobs[name], run)


def seed(engine: Engine, count: int) -> None:
    for i in range(count):
        engine.store.enqueue("ledger", f"f{i:03d}", T0, payload=f"2025-01-01T00:{i:02d}")


@pytest.mark.scenario("L1")
def test_batch_cap_is_held_each_run(engine: Engine) -> None:
    seed(engine, 25)
    first = run_now(engine, "ledger")
    frozen(engine).advance(60)
    second = run_now(engine, "ledger")
    assert (first.processed, second.processed) == (10, 10)
    assert first.status is RunStatus.SUCCEEDED
    assert [c.pending for c in engine.store.tenant_counts("ledger")] == [5]


@pytest.mark.scenario("L2")
def test_time_budget_stops_early_and_records_what_is_left(engine: Engine) -> None:
    seed(engine, 10)
    run = run_now(engine, "ledger", step="3")  # budget 10 s, each item 3 s
    assert run.status is RunStatus.STOPPED_EARLY
    assert (run.processed, run.left) == (3, 7)
    assert [c.pending for c in engine.store.tenant_counts("ledger")] == [7]
    assert engine.store.get_watermark("ledger").key == "f002"  # type: ignore[union-attr]


def seed_job(engine: Engine, job: str, count: int) -> None:
    for i in range(count):
        engine.store.enqueue(job, f"f{i:03d}", T0, payload=f"2025-01-01T00:{i:02d}")


def test_commit_every_writes_outcomes_in_groups_and_the_rest_when_the_drain_ends(
    engine: Engine,
) -> None:
    seen = sys.modules["cronsole_user.wsjobs"].SEEN
    seed_job(engine, "grouped", 10)
    run = run_now(engine, "grouped", fail_keys="f005")
    # what a reader saw committed as each item started: nothing until four were settled
    assert seen == [0, 0, 0, 0, 4, 4, 4, 4, 8, 8]
    assert run.status is RunStatus.PARTIAL and (run.processed, run.failed) == (9, 1)
    failed = engine.store.get_item("grouped", "f005")
    assert failed is not None and failed.status is ItemStatus.FAILED
    [tried] = engine.store.item_attempts(failed.id)
    assert tried.error == "RuntimeError: cannot process f005"
    assert tried.traceback and "cannot process f005" in tried.traceback
    assert engine.store.get_watermark("grouped").key == "f009"  # type: ignore[union-attr]
    [counts] = engine.store.tenant_counts("grouped")
    assert (counts.claimed, counts.done, counts.failed, counts.pending) == (0, 9, 1, 0)


def test_commit_every_as_a_window_commits_at_the_first_outcome_past_it(engine: Engine) -> None:
    seen = sys.modules["cronsole_user.wsjobs"].SEEN
    seed_job(engine, "windowed", 8)
    run = run_now(engine, "windowed", step="1")  # each item takes 1 s of the frozen clock
    # the group opens at the first outcome (1 s); the outcome at 4 s is 3 s past it
    assert seen == [0, 0, 0, 0, 4, 4, 4, 4]
    assert run.status is RunStatus.SUCCEEDED and run.processed == 8


def test_one_failing_item_never_stops_the_others(engine: Engine) -> None:
    engine.runner.rng = FixedRandom(1.0)  # the shortest backoff: half the curve
    seed(engine, 5)
    run = run_now(engine, "ledger", fail_keys="f001")
    assert run.status is RunStatus.PARTIAL and (run.processed, run.failed) == (4, 1)
    failed = engine.store.get_item("ledger", "f001")
    assert failed is not None and failed.status is ItemStatus.FAILED
    assert failed.error == "RuntimeError: cannot process f001"
    assert failed.not_before is not None
    failed_at = T0 + timedelta(seconds=1)
    assert failed.not_before - failed_at == timedelta(seconds=15)  # retry_base 30 s, halved


def test_a_failed_item_is_retried_after_its_backoff(engine: Engine) -> None:
    seed(engine, 1)
    run_now(engine, "ledger", fail_keys="f000")
    frozen(engine).advance(1)
    assert run_now(engine, "ledger").processed == 0  # still backing off
    frozen(engine).advance(60)
    again = run_now(engine, "ledger")
    assert again.processed == 1
    item = engine.store.get_item("ledger", "f000")
    assert item is not None and item.status is ItemStatus.DONE and item.attempts == 2


@pytest.mark.scenario("L3")
def test_concurrency_limit_is_exact_and_failures_are_isolated(engine: Engine) -> None:
    run = run_now(engine, "nightly")
    peak = sys.modules["cronsole_user.wsjobs"].PEAK
    assert peak["max"] == 5
    assert (run.processed, run.failed, run.status) == (36, 4, RunStatus.PARTIAL)


def test_the_item_estimate_is_the_mean_so_far_never_below_its_floor(engine: Engine) -> None:
    run = run_now(engine, "timed")
    assert run.summary == {"estimate": 3.0, "floored": 5.0}


def test_an_exception_is_a_recorded_failure_not_a_crash(engine: Engine) -> None:
    run = run_now(engine, "broken")
    assert run.status is RunStatus.FAILED
    assert run.error == "RuntimeError: the remote end is down"
    lines = run.summary["traceback"].rstrip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    # the frames kept are the innermost: where it was raised, not where the runner called it
    assert lines[-2:] == [
        '    raise RuntimeError("the remote end is down")',
        "RuntimeError: the remote end is down",
    ]


def test_settings_layer_code_config_operator_and_run(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.write(JOBS, "[jobs.ledger.settings]\nbatch_size = 3\n")
    engine = workspace.engine(clock)
    commands = Commands(engine)
    assert engine.jobs["ledger"].settings().batch_size == 3
    commands.set("ledger", {"batch_size": "4"})
    seed(engine, 20)
    assert run_now(engine, "ledger").processed == 4
    assert run_now(engine, "ledger", batch_size="6").processed == 6


def test_changing_the_period_resets_the_watermark(engine: Engine) -> None:
    seed(engine, 2)
    run_now(engine, "ledger")
    assert engine.store.get_watermark("ledger") is not None
    result = Commands(engine).set("ledger", {"period": "2025-02"})
    assert result.result == "period → 2025-02 (watermark reset)"
    assert engine.store.get_watermark("ledger") is None
    same = Commands(engine).set("ledger", {"period": "2025-02"})
    assert same.result == "no change"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"period": "2025-13"}, "period must be YYYY-MM"),
        ({"batch_size": "-1"}, "below the minimum 1"),
        ({"batch_size": "many"}, "expected a whole number"),
        ({"colour": "red"}, "unknown setting"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(
    engine: Engine, values: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        Commands(engine).set("ledger", values)
    assert engine.store.list_commands() == []
    assert engine.store.job_state("ledger").settings == {}  # type: ignore[union-attr]


def test_bad_config_settings_point_at_their_line(workspace: Workspace) -> None:
    workspace.write(JOBS, "\n[jobs.ledger.settings]\nbatch_size = 0\n")
    with pytest.raises(ConfigError) as caught:
        workspace.engine()
    assert str(caught.value).endswith(
        "cronsole.toml:7: job ledger: setting 'batch_size': 0 is below the minimum 1"
    )
    assert not workspace.created()


def test_a_run_cancelled_during_its_jitter_never_starts(workspace: Workspace) -> None:
    workspace.write(
        JOBS
        + '''
STARTED = []

@job(schedule="every 1h", jitter="30s")
def jittery(ctx: JobContext) -> None:
    """Starts up to 30 s late."""
    STARTED.append(ctx.run.id)
'''
    )
    engine = workspace.engine()
    run = engine.store.insert_run(
        "jittery",
        engine.clock.now(),
        RunReason.SCHEDULE,
        engine.node_id,
        Overlap.SKIP,
        engine.clock.now(),
    )
    assert run is not None  # a scheduled tick: only those jitter
    engine.runner.start(engine.jobs["jittery"], run)
    eventually(lambda: bool(engine.runner.active()))
    engine.runner.cancel(run.id)
    assert engine.runner.wait_idle(10)
    assert sys.modules["cronsole_user.wsjobs"].STARTED == []
    final = engine.store.get_run(run.id)
    assert final is not None and final.status is RunStatus.CANCELLED
    assert final.error == "stopped before it started"


@pytest.mark.parametrize(
    "name, message",
    [
        ("json", "'json': name a function as module:function"),
        (":dumps", "name a function as module:function"),
        ("json:nothing", "'json:nothing': module 'json' has no function 'nothing'"),
        ("json:decoder", "module 'json' has no function 'decoder'"),  # a module, not a function
        ("no_such_module_here:f", "cannot load job module 'no_such_module_here'"),
    ],
)
def test_a_hook_named_in_settings_that_cannot_be_found_is_said(
    tmp_path: Path, name: str, message: str
) -> None:
    from cronsole.core import load_function

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_function(name, tmp_path)


def test_a_hook_named_in_settings_is_found_by_module_or_path(tmp_path: Path) -> None:
    from cronsole.core import load_function

    (tmp_path / "hooks.py").write_text("def double(n):\n    return n * 2\n")
    assert load_function("json:dumps", tmp_path)([1]) == "[1]"
    assert load_function("hooks.py:double", tmp_path)(4) == 8
