"""Hourly rollup of model calls into per-user statistics, and the sweeper of stuck calls.

Calls are `model_call` records: grp = user, at = call time (ISO, UTC), status = processing /
done / failed, data = {tokens_in, tokens_out, images, credits}. Each tick aggregates every
complete hour since the last one processed (an upsert, so re-running an hour is harmless),
at most `catch_up_hours` back; older hours are counted as missed and reported, never dropped
silently. A backfill run (`cronsole backfill`) recomputes just the hour before its tick.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cronsole.core import JobContext, Record, RunReason, floor_to, job, plan_windows

HOUR = timedelta(hours=1)
FIELDS = ("tokens_in", "tokens_out", "images", "credits")


@dataclass(frozen=True)
class RollupSettings:
    catch_up_hours: int = field(default=48, metadata={"min": 1, "max": 24 * 90})
    active_days: int = field(default=7, metadata={"min": 1, "max": 365})


def hour_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:00")


def floor_hour(at: datetime) -> datetime:
    return floor_to(at, HOUR)


@job(name="hourly-rollup", schedule="5 * * * *", settings=RollupSettings, enabled=False)
def rollup(ctx: JobContext[RollupSettings]) -> dict[str, Any]:
    """Aggregate model calls into hourly per-user statistics, backfilling missed hours."""
    if ctx.run.reason is RunReason.BACKFILL:
        hour = floor_hour(ctx.scheduled_for) - HOUR
        return {"hours": [hour_key(hour)], "rows": aggregate_hour(ctx, hour)}
    done = ctx.state.get("last_hour")
    last = datetime.fromisoformat(done).replace(tzinfo=UTC) if done else None
    plan = plan_windows(last, ctx.scheduled_for, HOUR, ctx.settings.catch_up_hours)
    if plan.missed:
        total = ctx.state.get("missed_hours", 0) + plan.missed
        ctx.state.set("missed_hours", total)
        ctx.log.warning(
            "%d hour(s) are beyond the %d-hour catch-up window and were not aggregated (%d in all)",
            plan.missed,
            ctx.settings.catch_up_hours,
            total,
        )
    ctx.set_total(len(plan.windows))
    hours: list[tuple[str, int]] = []
    for hour in plan.windows:
        if not ctx.can_start():
            ctx.stopped_early(len(plan.windows) - len(hours))
            break
        rows = aggregate_hour(ctx, hour)
        ctx.state.set("last_hour", hour_key(hour))
        ctx.add_progress(processed=1)
        hours.append((hour_key(hour), rows))
    return {
        "hours": [h for h, _ in hours],
        "rows": sum(r for _, r in hours),
        "missed_hours": plan.missed,
    }


def aggregate_hour(ctx: JobContext[RollupSettings], hour: datetime) -> int:
    """Upsert one row per user with calls in [hour, hour + 1 h), among users active in the
    last `active_days`; returns the number of rows written."""
    active = set(
        ctx.records("model_call").groups(
            (hour - timedelta(days=ctx.settings.active_days)).isoformat()
        )
    )
    calls = ctx.records("model_call").query(
        at_from=hour.isoformat(), at_to=(hour + HOUR).isoformat(), limit=10_000_000
    )
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for call in calls:
        if call.grp in active:
            row = totals[call.grp]
            row["calls"] += 1
            row["failed"] += call.status == "failed"
            for name in FIELDS:
                row[name] += float(call.data.get(name) or 0)
    key = hour_key(hour)
    ctx.records("hourly_stat").put_many(
        [
            Record(f"{user}|{key}", {"user": user, "hour": key, **row}, grp=user, at=key)
            for user, row in totals.items()
        ]
    )
    return len(totals)


@dataclass(frozen=True)
class SweeperSettings:
    timeout_minutes: float = field(default=30.0, metadata={"min": 1})


@job(name="stale-sweeper", schedule="*/5 * * * *", settings=SweeperSettings, enabled=False)
def sweep_stuck_calls(ctx: JobContext[SweeperSettings]) -> dict[str, int]:
    """Mark model calls stuck in `processing` past the timeout as failed, once each."""
    now = ctx.now()
    cutoff = now - timedelta(minutes=ctx.settings.timeout_minutes)

    def failed(call: Record) -> dict[str, Any]:
        stuck = now - datetime.fromisoformat(call.at)
        return {
            **call.data,
            "error": f"timeout: stuck in processing for more than "
            f"{ctx.settings.timeout_minutes:g} minutes",
            "stuck_seconds": round(stuck.total_seconds()),
        }

    swept = ctx.records("model_call").sweep("processing", cutoff.isoformat(), "failed", failed)
    if swept:
        ctx.log.warning("marked %d stuck call(s) failed", len(swept))
    ctx.add_progress(processed=len(swept))
    return {"swept": len(swept)}
