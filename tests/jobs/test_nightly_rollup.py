"""The nightly entity run, the hourly rollup and the stale sweeper on a real database."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.engine import Engine
from cronsole.core.events import Event, ItemFailed
from cronsole.core.models import ItemStatus, Overlap, Record, RunReason, RunStatus
from tests.conftest import T0, Workspace, frozen, run_job

NIGHT = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 02:00 in Europe/Sofia


@pytest.fixture
def engine(workspace: Workspace, clock: FrozenClock) -> Engine:
    workspace.configure("""
[jobs.nightly-entities]
timezone = "Europe/Sofia"
[jobs.hourly-rollup]
[jobs.stale-sweeper]
""")
    return workspace.engine(clock, builtin=True)


def seed_prices(engine: Engine, symbols: list[str], days: int = 40) -> None:
    engine.store.put_records("entity", [Record(s, {"name": s}) for s in symbols], T0)
    rows = [
        Record(f"{s}|{d}", {"close": 100.0 + n + i}, grp=s, at=str(d))
        for i, s in enumerate(symbols)
        for n in range(days)
        for d in [(NIGHT - timedelta(days=days - 1 - n)).date()]
    ]
    engine.store.put_records("price", rows, T0)


def test_three_tier_summary_per_entity_with_one_audit_row(engine: Engine) -> None:
    seed_prices(engine, ["AAA", "BBB"])
    run = run_job(engine, "nightly-entities", reason=RunReason.SCHEDULE, at=NIGHT)
    assert run.status is RunStatus.SUCCEEDED
    assert (run.total, run.processed, run.failed) == (2, 2, 0) and run.finished_at
    summary = engine.store.get_record("entity_summary", "AAA|2026-03-02")
    assert summary is not None
    closes = [100.0 + n for n in range(40)][-31:]
    returns = [(b - a) / a for a, b in zip(closes, closes[1:], strict=False)]
    assert summary.data["close"] == 139.0
    assert summary.data["change_1d"] == pytest.approx(1 / 138)
    assert summary.data["ma_7"] == pytest.approx(statistics.fmean(closes[-7:]))
    assert summary.data["ma_30"] == pytest.approx(statistics.fmean(closes[-30:]))
    assert summary.data["volatility_30d"] == pytest.approx(statistics.stdev(returns[-30:]))


@pytest.mark.scenario("L3")
def test_a_failing_entity_never_stops_the_others(engine: Engine) -> None:
    seed_prices(engine, [f"S{n:02d}" for n in range(12)])
    engine.store.put_records("entity", [Record("NOPRICE", {})], T0)
    run = run_job(engine, "nightly-entities", reason=RunReason.SCHEDULE, at=NIGHT)
    assert run.status is RunStatus.PARTIAL and (run.processed, run.failed) == (12, 1)
    [failed] = engine.store.list_items(job="nightly-entities", status=ItemStatus.FAILED)
    assert failed.error == "ValueError: NOPRICE: 0 price(s) up to 2026-03-02, need 2"


def test_a_stopped_night_leaves_the_rest_pending_for_the_next_run(engine: Engine) -> None:
    seed_prices(engine, [f"S{n:02d}" for n in range(30)])
    engine.store.put_records("entity", [Record("AAA-BROKEN", {})], T0)  # fails first
    run = engine.store.insert_run(
        "nightly-entities", NIGHT, RunReason.SCHEDULE, engine.node_id, Overlap.SKIP, T0
    )
    assert run is not None

    def stop_at_the_first_failure(event: Event) -> None:
        if isinstance(event, ItemFailed):
            engine.runner.cancel(run.id, interrupt=True)

    engine.hub.subscribe(stop_at_the_first_failure)
    stopped = engine.runner.execute(engine.jobs["nightly-entities"], run)
    assert stopped.status is RunStatus.INTERRUPTED
    pending = engine.store.list_items(job="nightly-entities", status=ItemStatus.PENDING, limit=100)
    assert len(pending) >= 30 - 4 - stopped.processed - 1 and len(pending) > 0
    assert len(pending) + stopped.processed + stopped.failed == 31
    frozen(engine).advance(60)
    again = run_job(engine, "nightly-entities")
    assert again.processed + stopped.processed == 30


def calls(engine: Engine, hours: list[int], per_hour: int = 4, status: str = "done") -> None:
    """Model calls at 09:00 + h (T0 is 09:00 UTC)."""
    rows = [
        Record(
            f"c{h}-{n}-{status}",
            {"tokens_in": 10, "tokens_out": 5, "images": 1, "credits": 0.5},
            grp=f"user-{n % 2}",
            at=(T0 + timedelta(hours=h, minutes=n)).isoformat(),
            status=status,
        )
        for h in hours
        for n in range(per_hour)
    ]
    engine.store.put_records("model_call", rows, T0)


def stats(engine: Engine) -> dict[str, dict[str, float]]:
    return {r.key: r.data for r in engine.store.query_records("hourly_stat", limit=1000)}


def test_every_missed_hour_is_backfilled_once_idempotently(engine: Engine) -> None:
    calls(engine, [0, 1, 5, 6])  # a gap from 11:00 to 14:00
    engine.store.set_state("hourly-rollup", "last_hour", "2026-03-02T08:00", T0)
    tick = T0 + timedelta(hours=7, minutes=5)  # 16:05: hours 09..15 are complete
    run = run_job(engine, "hourly-rollup", reason=RunReason.SCHEDULE, at=tick)
    assert run.summary["hours"] == [f"2026-03-02T{h:02d}:00" for h in range(9, 16)]
    rows = stats(engine)
    assert rows["user-0|2026-03-02T09:00"]["calls"] == 2
    assert rows["user-1|2026-03-02T14:00"]["tokens_in"] == 20
    assert len(rows) == 8
    engine.store.set_state("hourly-rollup", "last_hour", "2026-03-02T08:00", T0)
    run_job(engine, "hourly-rollup", reason=RunReason.SCHEDULE, at=tick + timedelta(seconds=1))
    assert stats(engine) == rows  # re-running the same hours changes nothing


def test_hours_beyond_the_catch_up_window_are_counted_as_missed(engine: Engine) -> None:
    engine.store.set_state("hourly-rollup", "last_hour", "2026-02-27T00:00", T0)
    run = run_job(engine, "hourly-rollup", reason=RunReason.SCHEDULE, at=T0 + timedelta(minutes=5))
    assert len(run.summary["hours"]) == 48
    assert run.summary["missed_hours"] == 3 * 24 + 9 - 1 - 48
    assert engine.store.get_state("hourly-rollup", "missed_hours") == run.summary["missed_hours"]


def test_a_backfill_run_recomputes_just_its_hour(engine: Engine) -> None:
    calls(engine, [2])
    engine.store.set_state("hourly-rollup", "last_hour", "2026-03-03T00:00", T0)
    run = run_job(
        engine, "hourly-rollup", reason=RunReason.BACKFILL, at=T0 + timedelta(hours=3, minutes=5)
    )
    assert run.summary == {"hours": ["2026-03-02T11:00"], "rows": 2}
    assert engine.store.get_state("hourly-rollup", "last_hour") == "2026-03-03T00:00"


@pytest.mark.scenario("F10")
def test_the_sweeper_fails_stuck_calls_once_with_reason_and_duration(engine: Engine) -> None:
    engine.store.put_records(
        "model_call",
        [
            Record(
                "stuck",
                {},
                grp="u",
                at=(T0 - timedelta(minutes=45)).isoformat(),
                status="processing",
            ),
            Record(
                "young",
                {},
                grp="u",
                at=(T0 - timedelta(minutes=10)).isoformat(),
                status="processing",
            ),
        ],
        T0,
    )
    run = run_job(engine, "stale-sweeper")
    assert run.summary == {"swept": 1}
    stuck = engine.store.get_record("model_call", "stuck")
    assert stuck is not None and stuck.status == "failed"
    assert stuck.data["error"] == "timeout: stuck in processing for more than 30 minutes"
    assert stuck.data["stuck_seconds"] == 45 * 60 + 1
    assert run_job(engine, "stale-sweeper").summary == {"swept": 0}
    assert engine.store.get_record("model_call", "young").status == "processing"  # type: ignore
