"""What every CLI command shares: global options, building the engine, the JSON views, and
waiting for a command the scheduler applies."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from cronsole.core.config import Settings, load_settings
from cronsole.core.durations import format_duration
from cronsole.core.engine import Engine, build_engine
from cronsole.core.errors import CronsoleError
from cronsole.core.models import Command, CommandStatus, Run, RunStatus
from cronsole.core.progress import progress
from cronsole.core.snapshot import JobView
from cronsole.core.text import visible
from cronsole.jobs import builtin_modules

RUN_ID_MAX = 2**63 - 1  # what SQLite and PostgreSQL store; a larger one is refused, not sent
RunIdArgument = Annotated[int, typer.Argument(help="The run id.", min=1, max=RUN_ID_MAX)]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


class LogFormat(StrEnum):
    AUTO = "auto"  # human on a terminal, JSON lines otherwise
    HUMAN = "human"
    JSON = "json"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


# shared options, checked by typer once for every command that takes them
LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        case_sensitive=False,
        help="auto (human on a terminal, JSON otherwise), human or json.",
    ),
]
LogLevelOption = Annotated[
    LogLevel, typer.Option("--log-level", case_sensitive=False, help="debug, info, warning, error.")
]


@dataclass
class Options:
    config: str | None = None
    db: str | None = None
    mouse: bool = True
    log_format: LogFormat = LogFormat.AUTO
    log_level: LogLevel = LogLevel.INFO


def options(ctx: typer.Context) -> Options:
    found = ctx.find_root().obj
    return found if isinstance(found, Options) else Options()


def settings_for(ctx: typer.Context) -> Settings:
    opts = options(ctx)
    return load_settings(opts.config, database=opts.db)


def engine_for(ctx: typer.Context, create: bool = True) -> Engine:
    """The engine for one command; a command that only reads passes `create=False`, so a
    database that does not exist (a mistyped --db) is said in one line (exit 4), not made."""
    engine = build_engine(settings_for(ctx), builtin=builtin_modules(), create=create)
    ctx.call_on_close(engine.close)
    return engine


def job_json(view: JobView) -> dict[str, Any]:
    """A job as `jobs --json`, `job NAME --json` and the README's field list give it."""
    last = view.last
    return {
        "name": view.name,
        "schedule": view.schedule,
        "description": view.description,
        "timezone": view.timezone,
        "state": view.state.value,
        "next_run": view.next_run,
        "dst_note": view.dst_note,
        "pause_reason": view.pause_reason,
        "pause_until": view.pause_until,
        "pending": view.pending,
        "running": view.running,
        "failed": view.failed,
        "period": view.period,
        "settings": view.settings,
        "last_status": last.status.value if last else None,
        "last_run_at": last.finished_at if last else None,
        "active_run": view.active.id if view.active else None,
    }


def run_json(run: Run, now: datetime) -> dict[str, Any]:
    done = progress(run, now)
    return {
        "id": run.id,
        "job": run.job,
        "reason": run.reason.value,
        "status": run.status.value,
        "scheduled_for": run.scheduled_for,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "node": run.node,
        "total": run.total,
        "processed": run.processed,
        "failed": run.failed,
        "skipped": run.skipped,
        "left": run.left,
        "error": run.error,
        "summary": run.summary,
        "rate": round(done.rate, 3) if done.rate else None,
        "eta_seconds": round(done.eta_seconds, 1) if done.eta_seconds is not None else None,
    }


def progress_text(run: Run, now: datetime) -> str:
    """ "12/40, 1 failed, 3.2/s, ETA 9s" — or "stopped early, 7 left"."""
    done = progress(run, now)
    text = f"{done.processed}/{done.total}" if done.total is not None else str(done.processed)
    if done.failed:
        text += f", {done.failed} failed"
    if run.left:
        return text + f", stopped early, {run.left} left"
    if not run.status.finished and done.rate:
        text += f", {done.rate:.1f}/s"
        if done.eta_seconds is not None:
            text += f", ETA {format_duration(done.eta_seconds)}"
    return text


OK_STATUSES = {RunStatus.SUCCEEDED, RunStatus.STOPPED_EARLY}


def outcome(run: Run) -> str:
    """One line for a finished run; the error text is untrusted and shown literally."""
    text = f"run #{run.id} {run.status.value}"
    if run.left:
        text += f", stopped early, {run.left} left"
    return text + (f": {visible(run.error)}" if run.error else "")


def run_exit_code(run: Run) -> int:
    """0 when the run did its work (a budget stop included), 1 otherwise."""
    return 0 if run.status in OK_STATUSES else 1


COMMAND_WAIT_SECONDS = 15.0


def report(command: Command) -> None:
    """The command's outcome on stdout, or on stderr with exit 1 when it failed."""
    if command.status is CommandStatus.FAILED:
        raise CronsoleError(visible(command.result or f"command #{command.id} failed"))
    if command.status in (CommandStatus.PENDING, CommandStatus.APPLYING):
        print(f"command #{command.id} ({command.action}) is waiting for the scheduler")
        return
    print(visible(command.result or ""))


def await_command(engine: Engine, command: Command) -> Command:
    deadline = time.monotonic() + COMMAND_WAIT_SECONDS
    waiting = (CommandStatus.PENDING, CommandStatus.APPLYING)
    while command.status in waiting and time.monotonic() < deadline:
        time.sleep(0.1)
        command = engine.store.get_command(command.id) or command
    return command
