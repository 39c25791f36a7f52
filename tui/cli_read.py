"""Read-only CLI commands: jobs, runs, paths, config check."""

from __future__ import annotations

from typing import Annotated

import typer

from cronsole.core.clock import SystemClock
from cronsole.core.config import config_home, state_home
from cronsole.core.engine import existing_store, load_jobs
from cronsole.core.errors import UsageError
from cronsole.core.models import RunStatus
from cronsole.core.scheduling.once import check_past_once
from cronsole.core.since import parse_since
from cronsole.core.snapshot import JobState, JobView, job_views
from cronsole.jobs import builtin_modules

from . import logsetup
from .output import ago, emit_json, table
from .shared import JsonFlag, engine_for, job_json, progress_text, run_json, settings_for


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
