"""Commands that steer jobs: fire, pause, resume, change settings and the period."""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Annotated

import typer

from cronsole.core.commands import Commands
from cronsole.core.durations import parse_duration
from cronsole.core.engine import Engine
from cronsole.core.errors import CronsoleError, UsageError
from cronsole.core.jobsettings import parse_assignments
from cronsole.core.models import Run
from cronsole.core.periods import check_period
from cronsole.core.recovery import recover_dead_nodes
from cronsole.core.registry import require_job

from .. import logsetup
from .app import app
from .shared import (
    Reason,
    await_command,
    engine_for,
    options,
    outcome,
    report,
    run_exit_code,
    settings_for,
)


@app.command("pause")
def pause(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Argument(help="The job to pause.")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Pause the whole scheduler.")] = False,
    reason: Reason = None,
    duration: Annotated[
        str | None, typer.Option("--for", help="Resume by itself after this long, e.g. 30m or 2h.")
    ] = None,
) -> None:
    """Pause a job (optionally for a while), or the whole scheduler with --all."""
    seconds = parse_duration(duration, "--for") if duration else None
    if seconds is not None and seconds <= 0:
        raise UsageError(f"bad --for {duration!r}: must be longer than zero")
    if all_jobs == (job is not None):
        raise UsageError("name one job, or give --all")
    if all_jobs and seconds:
        raise UsageError("--for applies to one job, not --all")
    commands = Commands(engine_for(ctx))
    if all_jobs:
        report(commands.pause_all(reason=reason))
    else:
        assert job is not None
        report(commands.pause(job, reason=reason, duration=seconds))


@app.command("resume")
def resume(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Argument(help="The job to resume.")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Resume the whole scheduler.")] = False,
    reason: Reason = None,
) -> None:
    """Resume a paused job, or the whole scheduler with --all."""
    if all_jobs == (job is not None):
        raise UsageError("name one job, or give --all")
    commands = Commands(engine_for(ctx))
    report(
        commands.resume_all(reason=reason)
        if all_jobs
        else commands.resume(job or "", reason=reason)
    )


@app.command("fire")
def fire(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job to run now.")],
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a setting for this run only: key=value (repeatable)."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the run; exit with its outcome.")
    ] = False,
    here: Annotated[
        bool,
        typer.Option(
            "--here",
            help="Run it in this process (as a crontab entry would), not in the running scheduler.",
        ),
    ] = False,
    reason: Reason = None,
) -> None:
    """Run a job now, without shifting its regular schedule."""
    overrides = parse_assignments(assignments or [])
    if here:  # its log file is checked before the database can be made
        logsetup.log_file(settings_for(ctx))
    engine = engine_for(ctx)
    require_job(engine.jobs, job).settings(overrides)  # refuse bad values before any write
    if here:
        opts = options(ctx)  # records go to the store and the log file, as from a scheduler;
        with logsetup.configured(
            engine.settings, opts.log_format, opts.log_level, stderr=False
        ):  # stdout says only the outcome
            code = _fire_here(engine, job, overrides, reason)
        raise typer.Exit(code)
    command = Commands(engine).fire(job, overrides, reason=reason)
    command = await_command(engine, command)
    report(command)
    if wait and command.run_id is not None:
        run = _await_run(engine, command.run_id)
        print(outcome(run))
        raise typer.Exit(run_exit_code(run))


def _await_run(engine: Engine, run_id: int) -> Run:
    while True:
        run = engine.store.get_run(run_id)
        if run is None:
            raise CronsoleError(f"run #{run_id} disappeared")
        if run.status.finished:
            return run
        time.sleep(0.2)


def _fire_here(engine: Engine, job: str, overrides: dict[str, str], reason: str | None) -> int:
    """Run in this process with a heartbeat, stopping gracefully on SIGINT/SIGTERM. Like a
    host, it first recovers what dead processes left (crontab may be the only scheduler)."""
    engine.start_node("cli")
    recover_dead_nodes(engine)
    finished: list[Run] = []

    def start(spec: object, run: Run) -> None:
        finished.append(engine.runner.execute(engine.jobs[run.job], run))

    def stop(signum: int, frame: FrameType | None) -> None:
        engine.runner.interrupt_all()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        command = Commands(engine, start_run=start).fire(job, overrides, reason=reason)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    report(command)
    if not finished:
        return 1
    run = finished[0]
    print(outcome(run))
    return run_exit_code(run)


@app.command("set")
def set_settings(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job whose settings change.")],
    assignments: Annotated[list[str], typer.Argument(help="key=value pairs, e.g. period=2025-02")],
    reason: Reason = None,
) -> None:
    """Change a job's settings from now on (a period change resets its watermark)."""
    values = parse_assignments(assignments)
    report(Commands(engine_for(ctx)).set(job, values, reason=reason))


@app.command("period")
def period(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job.")],
    value: Annotated[str, typer.Argument(help="YYYY-MM")],
    reason: Reason = None,
) -> None:
    """Set a job's processing period (its watermark resets when the job says so)."""
    try:
        check_period(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    report(Commands(engine_for(ctx)).set(job, {"period": value}, reason=reason))
