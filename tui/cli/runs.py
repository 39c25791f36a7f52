"""Commands about runs: the audit of runs, one run with its ledger, backfill, retry, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from cronsole.core.clock import parse_moment
from cronsole.core.commands import Commands
from cronsole.core.errors import UsageError
from cronsole.core.models import RunStatus
from cronsole.core.since import parse_since
from cronsole.core.snapshot import (
    run_detail,
)
from cronsole.core.text import visible

from ..output import emit_json, table
from .app import app
from .shared import (
    JsonFlag,
    Reason,
    RunIdArgument,
    await_command,
    engine_for,
    outcome,
    progress_text,
    report,
    run_json,
)


@app.command("runs")
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


@app.command("run")
def run(
    ctx: typer.Context,
    run_id: RunIdArgument,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed items.")] = False,
    json: JsonFlag = False,
) -> None:
    """One run: its summary and its item ledger (failed items with their errors first)."""
    engine = engine_for(ctx, create=False)
    detail = run_detail(engine, run_id)
    if detail is None:
        raise UsageError(f"no run #{run_id}")
    items = (
        detail.failed
        if failed
        else detail.failed + [i for i in detail.items if i not in detail.failed]
    )
    if json:
        emit_json(
            {
                **run_json(detail.run, engine.clock.now()),
                "archived": detail.archived,
                "retry_of": detail.retry_of,
                "items": [
                    {
                        "key": i.key,
                        "status": i.status.value,
                        "tenant": i.tenant,
                        "attempts": i.attempts,
                        "error": i.error,
                    }
                    for i in items
                ],
            }
        )
        return
    print(
        outcome(detail.run)
        + ("  (archived)" if detail.archived else "")
        + (f"  (retry of run #{detail.retry_of})" if detail.retry_of else "")
    )
    output = detail.run.summary.get("output")
    if "exit_code" in detail.run.summary and isinstance(output, list):  # a command job's run
        print(f"exit code {detail.run.summary['exit_code']}; its last lines of output:")
        for line in output:
            print("  " + visible(str(line)))
    table(
        ["item", "status", "attempts", "error"],
        [[i.key, i.status.value, i.attempts, i.error] for i in items],
    )


def _when(text: str, option: str) -> datetime:
    return parse_moment(text, option)


@app.command("backfill")
def backfill(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job.")],
    start: Annotated[str, typer.Option("--from", help="ISO date/time (local unless given).")],
    end: Annotated[str, typer.Option("--to", help="ISO date/time.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the runs it would create; change nothing.")
    ] = False,
    reason: Reason = None,
) -> None:
    """Queue one run per tick of the job's schedule in a range (ticks that ran are skipped)."""
    engine = engine_for(ctx)
    commands = Commands(engine)
    begin, finish = _when(start, "--from"), _when(end, "--to")
    if dry_run:
        ticks = commands.backfill_preview(job, begin, finish)
        for tick in ticks:
            note = f"already ran as run #{tick.existing_run}" if tick.existing_run else "new"
            print(f"{tick.at.isoformat()}  {note}")
        print(f"{sum(1 for t in ticks if not t.existing_run)} run(s) would be created")
        return
    report(await_command(engine, commands.backfill(job, begin, finish, reason=reason)))


@app.command("retry")
def retry(
    ctx: typer.Context,
    run_id: RunIdArgument,
    failed: Annotated[
        bool, typer.Option("--failed", help="Retry its failed items (the default and only mode).")
    ] = True,
    reason: Reason = None,
) -> None:
    """Reset a run's failed items and run the job again to retry them."""
    engine = engine_for(ctx)
    report(await_command(engine, Commands(engine).retry(run_id, reason=reason)))


@app.command("cancel")
def cancel(ctx: typer.Context, run_id: RunIdArgument, reason: Reason = None) -> None:
    """Cancel a queued or running run (a running one stops between items)."""
    report(Commands(engine_for(ctx)).cancel(run_id, reason=reason))
