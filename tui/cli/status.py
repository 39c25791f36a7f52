"""Read-only commands for operators and monitoring: status, health, tenants, logs, audit.
Exit 3 means degraded (RELIABILITY.md)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from cronsole.core.errors import EXIT_DEGRADED, UsageError
from cronsole.core.health import Health
from cronsole.core.logs import LEVELS
from cronsole.core.registry import require_job
from cronsole.core.since import parse_since
from cronsole.core.snapshot import (
    JobState,
    Snapshot,
    Stuck,
    take_snapshot,
)
from cronsole.core.text import visible

from ..output import ago, emit_json, table
from .app import app
from .shared import RUN_ID_MAX, JsonFlag, engine_for

STORED_LEVELS = (*LEVELS, "CRITICAL")  # as logging names them


@app.command("status")
def status(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Who runs the scheduler, its heartbeat, jobs running or paused, overall health."""
    engine = engine_for(ctx, create=False)
    snap = take_snapshot(engine, logs=0, runs=0)
    hosts = [n for n in snap.nodes if n.role == "host"]
    report: dict[str, Any] = {
        "scheduler": {
            "running": bool(hosts),
            "paused_all": bool(snap.paused_all),
            "hosts": [
                {
                    "node": n.id,
                    "heartbeat_age": round((snap.at - n.heartbeat_at).total_seconds(), 1),
                }
                for n in hosts
            ],
        },
        "jobs": {
            "total": len(snap.jobs),
            "running": sum(1 for j in snap.jobs if j.state is JobState.RUNNING),
            "paused": sum(1 for j in snap.jobs if j.state is JobState.PAUSED),
        },
        "health": snap.health,
        "stuck": [vars(s) for s in snap.stuck],
    }
    report["degraded"] = not hosts or snap.health is not Health.OK
    if json:
        emit_json(report)
    else:
        owner = ", ".join(
            f"{h['node']} (beat {h['heartbeat_age']}s ago)" for h in report["scheduler"]["hosts"]
        ) or _last_host(snap)
        print(f"scheduler  {owner}" + ("  PAUSED ALL" if snap.paused_all else ""))
        jobs = report["jobs"]
        print(f"jobs       {jobs['total']} ({jobs['running']} running, {jobs['paused']} paused)")
        print(f"health     {snap.health}")
        _print_stuck(snap.stuck)
    raise typer.Exit(EXIT_DEGRADED if report["degraded"] else 0)


def _last_host(snap: Snapshot) -> str:
    if snap.last_host_stopped is not None:
        return f"none running (the last one stopped {ago(snap.last_host_stopped, snap.at)})"
    if snap.last_host_beat is not None:
        return f"none running (the last one beat {ago(snap.last_host_beat, snap.at)})"
    return "none running"


def _print_stuck(stuck: list[Stuck]) -> None:
    for found in stuck:
        print(f"stuck      {visible(found.job, 60)}: {visible(found.why, 200)}")


@app.command("health")
def health(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Per-tenant backlog health and stuck jobs; exit 0 when OK, 3 on WARN or CRIT (a
    monitoring check)."""
    snap = take_snapshot(engine_for(ctx, create=False), logs=0, runs=0)
    rows = [vars(t) for t in snap.tenants]
    if json:
        emit_json({"overall": snap.health, "tenants": rows, "stuck": [vars(s) for s in snap.stuck]})
    else:
        _tenant_table(rows)
        _print_stuck(snap.stuck)
        print(f"overall: {snap.health}")
    raise typer.Exit(0 if snap.health is Health.OK else EXIT_DEGRADED)


@app.command("tenants")
def tenants(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Every tenant with a backlog: pending, running, failed in 24 h, oldest pending, health."""
    snap = take_snapshot(engine_for(ctx, create=False), logs=0, runs=0)
    rows = [vars(t) for t in snap.tenants]
    if json:
        emit_json(rows)
    else:
        _tenant_table(rows)


def _tenant_table(rows: list[dict[str, Any]]) -> None:
    table(
        ["tenant", "health", "pending", "running", "failed 24h", "oldest", "job", "why"],
        [
            [
                r["tenant"],
                r["status"],
                r["pending"],
                r["running"],
                r["failed_24h"],
                "-" if r["oldest_pending_age"] is None else f"{r['oldest_pending_age']:.0f}s",
                r["job"],
                r["reason"],
            ]
            for r in rows
        ],
    )


@app.command("logs")
def logs(
    ctx: typer.Context,
    job_name: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
    run_id: Annotated[
        int | None, typer.Option("--run", help="Only this run.", min=1, max=RUN_ID_MAX)
    ] = None,
    level: Annotated[str, typer.Option("--level", help="Minimum level.")] = "DEBUG",
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new records (Ctrl-C stops).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print JSON for scripts: an array, or with --follow one object per line."
        ),
    ] = False,
) -> None:
    """Recent log records of jobs and the engine, oldest first, shown literally."""
    if level.upper() not in LEVELS:
        raise UsageError(f"bad --level {level!r}: use {', '.join(LEVELS)}")
    engine = engine_for(ctx, create=False)
    if job_name is not None:
        require_job(engine.jobs, job_name)
    shown = (
        None if level.upper() == "DEBUG" else STORED_LEVELS[STORED_LEVELS.index(level.upper()) :]
    )  # DEBUG shows every row, whatever its level
    last = 0
    try:
        while True:
            entries = engine.store.recent_logs(
                job=job_name, run_id=run_id, after_id=last, limit=limit, levels=shown
            )
            if entries:
                last = entries[-1].id
            if json:
                records = [
                    {
                        "id": e.id,
                        "at": e.at,
                        "level": e.level,
                        "job": e.job,
                        "run_id": e.run_id,
                        "logger": e.logger,
                        "message": e.message,
                    }
                    for e in entries
                ]
                for record in records if follow else [records]:
                    emit_json(record, indent=None if follow else 2)
            for entry in [] if json else entries:
                where = f"{entry.job}#{entry.run_id}" if entry.run_id else entry.job or "-"
                print(
                    f"{entry.at.astimezone():%Y-%m-%d %H:%M:%S} {entry.level:<7} "
                    f"{visible(where, 60)}: {visible(entry.message, 4000)}",
                    flush=True,
                )
            if not follow:
                return
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


@app.command("audit")
def audit(
    ctx: typer.Context,
    job_name: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="2h, 3d or a date/time.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    json: JsonFlag = False,
) -> None:
    """The operator command trail: who did what, when, why, and what came of it."""
    engine = engine_for(ctx, create=False)
    start = parse_since(since, engine.clock.now()) if since else None
    found = engine.store.list_commands(job=job_name, limit=limit, since=start)
    if json:
        emit_json(
            [
                {
                    "id": c.id,
                    "at": c.created_at,
                    "who": c.who,
                    "action": c.action,
                    "job": c.job,
                    "run_id": c.run_id,
                    "args": c.args,
                    "reason": c.reason,
                    "status": c.status.value,
                    "applied_by": c.applied_by,
                    "result": c.result,
                }
                for c in found
            ]
        )
        return
    table(
        ["when", "who", "action", "target", "why", "result"],
        [
            [
                c.created_at,
                c.who,
                c.action,
                (c.job or "") + (f" #{c.run_id}" if c.run_id else ""),
                c.reason,
                c.result or c.status.value,
            ]
            for c in found
        ],
    )
