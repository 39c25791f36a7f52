"""Read-only CLI commands: jobs, runs, paths, config check."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cronsole.core.clock import SystemClock
from cronsole.core.config import config_home, state_home
from cronsole.core.engine import Engine, existing_store, load_jobs
from cronsole.core.errors import UsageError
from cronsole.core.jobsettings import as_dict
from cronsole.core.models import RunStatus
from cronsole.core.registry import Job
from cronsole.core.scheduling.once import check_past_once, once_done
from cronsole.core.scheduling.triggers import next_fire_times
from cronsole.core.since import parse_since
from cronsole.jobs import builtin_modules

from . import logsetup
from .output import ago, emit_json, table
from .shared import JsonFlag, engine_for, progress_text, run_json, settings_for


def _job_json(engine: Engine, job: Job, last: dict[str, Any]) -> dict[str, Any]:
    state = engine.store.job_state(job.name)
    fires = next_fire_times(job.schedule, engine.clock.now(), 1)
    paused_all = engine.store.get_control("paused_all")
    held = bool(paused_all or (state and state.paused))
    return {
        "name": job.name,
        "schedule": job.schedule.text,
        "description": job.schedule_text,
        "timezone": job.schedule.timezone,
        "next_run": fires[0].at if fires and not held else None,
        "dst_note": fires[0].note if fires else None,
        "paused": bool(state and state.paused),
        "pause_reason": state.pause_reason if state else None,
        "pause_until": state.pause_until if state else None,
        "scheduler_paused": bool(paused_all),
        "settings": as_dict(job.settings(state.settings if state else {})),
        "last_status": last[job.name].status.value if job.name in last else None,
        "last_run_at": last[job.name].finished_at if job.name in last else None,
        "done": not fires and once_done(engine.store, job),
    }


def jobs(ctx: typer.Context, json: JsonFlag = False) -> None:
    """List jobs: schedule in English, next fire time, state and last outcome."""
    engine = engine_for(ctx, create=False)
    last = engine.store.last_runs()
    rows = [_job_json(engine, job, last) for job in engine.jobs.values()]
    if json:
        emit_json(rows)
        return
    now = engine.clock.now()
    table(
        ["job", "schedule", "next", "state", "last"],
        [
            [
                r["name"],
                f"{r['schedule']}  ({r['description']})",
                ago(r["next_run"], now) + (" (DST)" if r["dst_note"] and r["next_run"] else ""),
                _state(r),
                r["last_status"],
            ]
            for r in rows
        ],
    )


def _state(job: dict[str, Any]) -> str:
    if job["done"]:
        return "done (once)"
    if job["paused"]:
        return "paused: " + (job["pause_reason"] or "no reason given")
    return "held: scheduler paused" if job["scheduler_paused"] else "active"


def runs(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only runs in this status.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="2h, 3d or a date/time.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 20,
    archived: Annotated[
        bool,
        typer.Option(
            "--archived",
            help="The runs retention moved to the archive instead (with --job and --limit).",
        ),
    ] = False,
    json: JsonFlag = False,
) -> None:
    """Recent runs, newest first (the audit of every tick)."""
    engine = engine_for(ctx, create=False)
    start = parse_since(since, engine.clock.now()) if since else None
    if job is not None:
        from cronsole.core.registry import require_job

        require_job(engine.jobs, job)
    wanted = _status(status)
    if archived and (wanted or start):
        raise UsageError("--archived takes --job and --limit only")
    found = (
        engine.store.archived_runs(job=job, limit=limit)
        if archived
        else engine.store.list_runs(job=job, status=wanted, since=start, limit=limit)
    )
    now = engine.clock.now()
    if json:
        emit_json([run_json(r, now) for r in found])
        return
    table(
        ["id", "job", "reason", "status", "scheduled", "progress", "error"],
        [
            [
                r.id,
                r.job,
                r.reason.value,
                r.status.value,
                r.scheduled_for,
                progress_text(r, now),
                r.error,
            ]
            for r in found
        ],
    )


def _status(text: str | None) -> RunStatus | None:
    if text is None:
        return None
    try:
        return RunStatus(text)
    except ValueError:
        choices = ", ".join(s.value for s in RunStatus)
        raise typer.BadParameter(
            f"{text!r} is not one of {choices}", param_hint="--status"
        ) from None


def paths(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Where cronsole reads its config and keeps its database and logs."""
    import os

    from cronsole.core.store import redacted

    settings = settings_for(ctx)
    found = {
        "config": str(settings.config_path) if settings.config_path else None,
        "config_search": [str(config_home(os.environ) / "cronsole.toml")],
        "database": redacted(settings.database),
        "log_dir": str(settings.log_dir),
        "state_dir": str(state_home(os.environ)),
    }
    if json:
        emit_json(found)
        return
    for key in ("config", "database", "log_dir", "state_dir"):
        print(f"{key:<10} {found[key] or '(none found; using defaults)'}")


def config_check(ctx: typer.Context) -> None:
    """Validate the config and job modules without starting or writing anything."""
    settings = settings_for(ctx)
    jobs = load_jobs(settings, builtin_modules())
    logsetup.log_file(settings)  # a log_dir that is a file, a linked log file: said now
    store = existing_store(settings)
    try:
        check_past_once(jobs, store, SystemClock().now())
    finally:
        if store is not None:
            store.close()
    where = settings.config_path or "defaults (no config file found)"
    print(f"ok: {where}: {len(jobs)} job(s)")
    for job in jobs.values():
        print(f"  {job.name}: {job.schedule.text}  ({job.schedule_text})")
