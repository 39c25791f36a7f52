"""Commands about jobs: list them, one job whole, preview a schedule, the watermark."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Annotated

import typer

from cronsole.core.clock import parse_moment
from cronsole.core.commands import Commands
from cronsole.core.errors import UsageError
from cronsole.core.models import Watermark
from cronsole.core.registry import require_job
from cronsole.core.scheduling.describe import describe
from cronsole.core.scheduling.triggers import ScheduleError, next_fire_times, parse_schedule
from cronsole.core.snapshot import (
    JobState,
    JobView,
    job_detail,
    job_views,
)
from cronsole.core.text import visible

from ..output import ago, emit_json, table
from .app import app
from .shared import (
    JsonFlag,
    Reason,
    engine_for,
    job_json,
    outcome,
    report,
    run_json,
)


@app.command("jobs")
def jobs(ctx: typer.Context, json: JsonFlag = False) -> None:
    """List jobs: schedule in English, next fire time, state and last outcome."""
    engine = engine_for(ctx, create=False)
    views = job_views(engine)
    if json:
        emit_json([job_json(view) for view in views])
        return
    now = engine.clock.now()
    table(
        ["job", "schedule", "next", "state", "last"],
        [
            [
                v.name,
                f"{v.schedule}  ({v.description})",
                ago(v.next_run, now) + (" (DST)" if v.dst_note and v.next_run else ""),
                _state(v),
                v.last.status.value if v.last else None,
            ]
            for v in views
        ],
    )


def _state(view: JobView) -> str:
    if view.state is JobState.PAUSED:
        return "paused: " + (view.pause_reason or "no reason given")
    return {JobState.DONE: "done (once)", JobState.HELD: "held: scheduler paused"}.get(
        view.state, view.state.value
    )


@app.command("job")
def job(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The job.")],
    json: JsonFlag = False,
) -> None:
    """One job: schedule in English, the next 5 fire times, policy, settings, state, runs."""
    engine = engine_for(ctx, create=False)
    detail = job_detail(engine, name)
    if detail is None:
        raise UsageError(f"unknown job {name!r} (known: {', '.join(sorted(engine.jobs))})")
    view, now = detail.view, engine.clock.now()
    data = {
        **job_json(view),
        "next_fires": [{"at": f.at, "dst_note": f.note} for f in detail.fires],
        "policy": detail.policy,
        "job_state": detail.state,
        "watermark": detail.state.get("watermark"),
        "runs": [run_json(r, now) for r in detail.runs[:10]],
    }
    if json:
        emit_json(data)
        return
    print(f"{view.name}: {view.schedule}  ({view.description})  state {view.state}")
    for fire in detail.fires:
        print(f"  next  {fire.at:%Y-%m-%d %H:%M:%S %Z}" + (f"  {fire.note}" if fire.note else ""))
    for key, value in {**detail.policy, **view.settings}.items():
        print(f"  {key:<16} {visible(str(value), 200)}")
    if mark := detail.state.get("watermark"):
        print(
            f"  {'watermark':<16} {visible(str(mark.get('at')), 200)}"
            + (f"  key {visible(str(mark.get('key')), 400)}" if mark.get("key") else "")
        )
    else:
        print(f"  {'watermark':<16} none")
    for run in detail.runs[:10]:
        print(f"  {outcome(run)}  ({run.reason.value}, {ago(run.finished_at, now)})")


@app.command("schedule")
def schedule(
    expression: Annotated[
        str,
        typer.Argument(
            help="A crontab expression (quote it), every <N>s|m|h|d, or once <ISO datetime>."
        ),
    ],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of the schedule.")] = "UTC",
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="List fires after this ISO date/time (in --tz unless it has an "
            "offset); default now.",
        ),
    ] = None,
    count: Annotated[
        int, typer.Option("-n", "--count", min=1, max=1000, help="How many fire times.")
    ] = 10,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Preview a schedule: what it means in English and when it fires next (DST noted)."""
    try:
        parsed = parse_schedule(expression, tz)
    except ScheduleError as exc:
        raise UsageError(str(exc)) from None
    after = _start(start, parsed.tz) if start else datetime.now(UTC)
    fires = next_fire_times(parsed, after, count)
    if json:
        emit_json(
            {
                "schedule": parsed.text,
                "timezone": parsed.timezone,
                "description": describe(parsed),
                "after": after,
                "fires": [{"at": f.at, "note": f.note} for f in fires],
            }
        )
        return
    print(visible(f"{parsed.text}  {describe(parsed)}"))
    for fire in fires:
        note = f"  {fire.note}" if fire.note else ""
        print(f"  {fire.at:%a %Y-%m-%d %H:%M:%S %Z (UTC%z)}{note}")
    if not fires:
        print("  no fire times left")


def _start(text: str, tz: tzinfo) -> datetime:
    return parse_moment(text, "--from", tz)


@app.command("watermark")
def watermark(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job.")],
    set_to: Annotated[
        str | None,
        typer.Option(
            "--set", help="The cursor's position, as the job writes it (see `cronsole job JOB`)."
        ),
    ] = None,
    key: Annotated[
        str,
        typer.Option(
            "--key", help="With --set: the key part of the cursor (ties at the same position)."
        ),
    ] = "",
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Forget it: the job looks from the start (the ledger keeps done work done).",
        ),
    ] = False,
    reason: Reason = None,
    json: JsonFlag = False,
) -> None:
    """Show a job's watermark (where it has got to), or set or reset it (audited)."""
    if set_to is not None and reset:
        raise UsageError("give --set or --reset, not both")
    if key and set_to is None:
        raise UsageError("--key goes with --set")
    if set_to is not None and not set_to.strip():
        raise UsageError("bad --set '': give the position, or use --reset")
    if set_to is None and not reset:
        engine = engine_for(ctx, create=False)
        require_job(engine.jobs, job)
        mark = engine.store.get_watermark(job)
        found = {"at": mark.at, "key": mark.key} if mark else None
        if json:
            emit_json({"job": job, "watermark": found})
        else:
            print(
                f"{job}: "
                + (
                    f"watermark {visible(mark.at, 200)}"
                    + (f"  key {visible(mark.key, 400)}" if mark.key else "")
                    if mark
                    else "no watermark"
                )
            )
        return
    mark = None if reset else Watermark(set_to or "", key)
    report(Commands(engine_for(ctx)).watermark(job, mark, reason=reason))
