"""CLI commands that manage jobs and the installation: period, backfill, retry, cancel,
init, config show, doctor, migrate-store."""

from __future__ import annotations

import os
import stat
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from cronsole.core.clock import parse_moment
from cronsole.core.commands import Commands
from cronsole.core.config import Settings, env_key
from cronsole.core.engine import load_jobs
from cronsole.core.errors import EXIT_FAILURE, UsageError
from cronsole.core.files import atomic_write
from cronsole.core.models import Watermark
from cronsole.core.periods import check_period
from cronsole.core.policy import Policy
from cronsole.core.registry import Job, require_job
from cronsole.core.text import visible
from cronsole.jobs import builtin_modules

from .cli_ops import _await_command, _report
from .output import emit_json
from .shared import JsonFlag, Reason, RunIdArgument, engine_for, settings_for

SECRET_WORDS = ("key", "token", "secret", "password")


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
    _report(Commands(engine_for(ctx)).set(job, {"period": value}, reason=reason))


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
    _report(Commands(engine_for(ctx)).watermark(job, mark, reason=reason))


def _when(text: str, option: str) -> datetime:
    return parse_moment(text, option)


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
    _report(_await_command(engine, commands.backfill(job, begin, finish, reason=reason)))


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
    _report(_await_command(engine, Commands(engine).retry(run_id, reason=reason)))


def cancel(ctx: typer.Context, run_id: RunIdArgument, reason: Reason = None) -> None:
    """Cancel a queued or running run (a running one stops between items)."""
    _report(Commands(engine_for(ctx)).cancel(run_id, reason=reason))


def masked(key: str, value: Any) -> Any:
    """Secrets show only their last 4 characters."""
    if (
        isinstance(value, str)
        and any(word in key.lower() for word in SECRET_WORDS)
        and not key.lower().endswith("_env")
    ):
        return "****" + value[-4:] if len(value) > 4 else "****"
    return value


TOP = (
    "database",
    "log_dir",
    "modules",
    "timezone",
    "grace_period",
    "stale_timeout",
    "node_timeout",
    "log_max_bytes",
    "log_backups",
    "log_keep_rows",
)


def _schedule_source(settings: Settings, name: str) -> str:
    config = settings.jobs.get(name)
    return (config.where.get("schedule") if config else None) or (
        f"environment {env_key(name)}" if env_key(name) in settings.env_schedules else "code"
    )


def _policy(settings: Settings, name: str, job: Job) -> dict[str, tuple[Any, str]]:
    """Each policy option as shown, with where it came from: the config file, the code
    (a value other than the default), or the default."""
    config = settings.jobs.get(name)
    where = config.where if config else {}
    default = Policy().shown()
    return {
        key: (value, where.get(key) or ("default" if value == default[key] else job.module))
        for key, value in job.policy.shown().items()
    }


def _shown(settings: Settings, key: str) -> Any:
    """A top-level value as shown: a PostgreSQL address without its password."""
    from cronsole.core.store import redacted

    value = getattr(settings, key)
    return (
        redacted(value) if key == "database" else str(value) if isinstance(value, Path) else value
    )


def config_show(ctx: typer.Context, json: JsonFlag = False) -> None:
    """The effective configuration, each value with where it came from; secrets masked."""
    settings = settings_for(ctx)
    jobs = load_jobs(settings, builtin_modules())  # no database is opened, or made
    if json:
        emit_json(
            {
                "config": str(settings.config_path) if settings.config_path else None,
                "settings": {
                    key: {
                        "value": _shown(settings, key),
                        "source": settings.sources.get(key, "default"),
                    }
                    for key in TOP
                },
                "jobs": {
                    name: {
                        "module": job.module,
                        "schedule": job.schedule.text,
                        "schedule_source": _schedule_source(settings, name),
                        "policy": {
                            key: {"value": value, "source": source}
                            for key, (value, source) in _policy(settings, name, job).items()
                        },
                        "settings": {
                            key: masked(key, value)
                            for key, value in sorted(vars(job.settings()).items())
                        },
                    }
                    for name, job in sorted(jobs.items())
                },
            }
        )
        return
    print(f"# config: {settings.config_path or 'none found (defaults)'}")
    for key in TOP:
        value = _shown(settings, key)
        print(f"{key} = {visible(str(value))}  # {settings.sources.get(key, 'default')}")
    for name, job in sorted(jobs.items()):
        config = settings.jobs.get(name)
        where = config.where if config else {}
        print(f"\n[jobs.{name}]  # from {job.module}")
        print(f"schedule = {job.schedule.text!r}  # {_schedule_source(settings, name)}")
        for key, (value, source) in _policy(settings, name, job).items():
            print(f"{key} = {value!r}  # {source}")
        for key, value in sorted(vars(job.settings()).items()):
            origin = where.get(f"settings.{key}", "default")
            print(f"settings.{key} = {visible(repr(masked(key, value)))}  # {origin}")
            if key.endswith("_env") and isinstance(value, str):
                secret = os.environ.get(value)
                print(f"  # ${value} is {'set: ' + masked('key', secret) if secret else 'not set'}")


STARTER = """# cronsole.toml — written by `cronsole init`. Every key is optional; see the README.
[cronsole]
database = "state/cronsole.db"   # relative to this file; created 0700/0600
log_dir = "state/logs"
# modules = ["myjobs"]           # your own job modules, or .py files beside this file
timezone = "{timezone}"
grace_period = "30s"             # how long runs in flight get on SIGTERM
"""


def init(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("cronsole.toml"),
    enable: Annotated[
        list[str] | None, typer.Option("--enable", help="A built-in job to enable (repeatable).")
    ] = None,
    schedule: Annotated[
        list[str] | None,
        typer.Option("--schedule", help="JOB=SCHEDULE, e.g. batch-check='every 10m'."),
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone")] = "UTC",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter cronsole.toml (asks which jobs to enable on a terminal)."""
    from cronsole.core.scheduling.triggers import ScheduleError, load_zone, parse_schedule
    from cronsole.jobs import builtin_modules

    if path.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite it")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: no such folder (create it first: mkdir -p {path.parent})")
    try:
        load_zone(timezone)
    except ScheduleError as exc:
        raise UsageError(str(exc)) from None
    known = {d.spec.name: d.spec for d in _definitions(builtin_modules())}
    chosen = _choose(known, enable, schedule)
    for name, text in chosen.items():
        if name not in known:
            raise UsageError(f"unknown job {name!r} (built-in: {', '.join(sorted(known))})")
        try:
            parsed = parse_schedule(text, timezone)
            if known[name].schedule_check:
                known[name].schedule_check(parsed)
        except (ScheduleError, ValueError) as exc:
            raise UsageError(f"{name}: {exc}") from None
    body = STARTER.format(timezone=timezone) + "".join(
        f'\n[jobs.{name}]  # {known[name].description}\nschedule = "{text}"\n'
        for name, text in chosen.items()
    )
    atomic_write(path, body.encode(), mode=0o644)  # never group- or world-writable
    print(
        f"wrote {path} ({len(chosen)} job(s) enabled); check it with: cronsole -c {path} "
        "config check"
    )


def _definitions(modules: list[Any]) -> list[Any]:
    from cronsole.core.registry import discover

    return [d for module in modules for d in discover(module) if d.spec.name != "demo-traffic"]


def _choose(
    known: dict[str, Any], enable: list[str] | None, schedules: list[str] | None
) -> dict[str, str]:
    pairs = {}
    for item in schedules or []:
        name, sep, text = item.partition("=")
        if not sep:
            raise UsageError(f"bad --schedule {item!r}: write JOB=SCHEDULE")
        pairs[name.strip()] = text.strip()
    names = list(enable or []) + [n for n in pairs if n not in (enable or [])]
    if not names and sys.stdin.isatty():
        for name in sorted(known):  # ask each job's schedule right after enabling it
            if typer.confirm(f"enable {name}?", default=False):
                names.append(name)
                pairs[name] = typer.prompt(f"  schedule of {name}", default=known[name].schedule)
    return {n: pairs.get(n, known[n].schedule if n in known else "") for n in names}


def doctor(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Check the environment: database, permissions, WebP support, time zones, clock, and
    values the environment overrides."""
    settings = settings_for(ctx)
    checks = [
        _check_database(settings),
        _check_permissions(settings),
        _check_webp(),
        _check_zones(),
        _check_clock(settings),
    ]
    if json:
        emit_json(
            {
                "ok": all(ok for ok, _, _ in checks),
                "checks": [
                    {"check": name, "ok": ok, "detail": detail} for ok, name, detail in checks
                ],
                "warnings": [
                    {"check": "environment", "key": key, "detail": how}
                    for key, how in settings.overridden.items()
                ],
            }
        )
    else:
        for ok, name, detail in checks:
            print(f"{'ok  ' if ok else 'FAIL'}  {name}: {visible(detail, 300)}")
        for how in settings.overridden.values():  # not a failure, but rarely what was meant
            print(f"WARN  environment: {visible(how, 300)}")
    if not all(ok for ok, _, _ in checks):
        raise typer.Exit(EXIT_FAILURE)


def _check_database(settings: Settings) -> tuple[bool, str, str]:
    from cronsole.core.store import open_store, redacted

    shown = redacted(settings.database)
    try:
        store = open_store(settings.database)
        store.set_control("doctor", {"checked": True}, datetime.now().astimezone())
        ok = store.integrity_ok()
        store.close()
    except Exception as exc:  # any failure here is the finding
        message = str(exc)
        return False, "database", message if message.startswith(shown) else f"{shown}: {message}"
    return ok, "database", f"{shown} writable, integrity {'ok' if ok else 'BAD'}"


def _check_permissions(settings: Settings) -> tuple[bool, str, str]:
    if "://" in settings.database:
        return True, "permissions", "not a file: the database server keeps it"
    path = Path(settings.database)
    if not path.exists():
        return True, "permissions", "no database yet"
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in [path.parent, *path.parent.glob(path.name + "*")]
    }
    bad = {n: oct(m) for n, m in modes.items() if m & 0o077}
    return not bad, "permissions", f"too open: {bad}" if bad else "state dir 0700, files 0600"


def _check_webp() -> tuple[bool, str, str]:
    from PIL import features

    ok = bool(features.check("webp"))
    return ok, "webp", "Pillow can write WebP" if ok else "Pillow was built without WebP"


def _check_zones() -> tuple[bool, str, str]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo("Europe/Sofia")
        ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:
        return False, "time zones", "no IANA time zone data (install tzdata)"
    return True, "time zones", "IANA data present"


def _check_clock(settings: Settings) -> tuple[bool, str, str]:
    from datetime import UTC

    from cronsole.core.store import open_store

    now = datetime.now(UTC)
    if now.year < 2024:
        return False, "clock", f"the system clock says {now:%Y-%m-%d}"
    try:
        store = open_store(settings.database)
        beats = [n.heartbeat_at for n in store.nodes()]
        store.close()
    except Exception:
        beats = []
    ahead = [b for b in beats if (b - now).total_seconds() > 5]
    if ahead:
        return (
            False,
            "clock",
            "another node's heartbeat is ahead of this clock by "
            f"{(max(ahead) - now).total_seconds():.0f}s",
        )
    return True, "clock", f"{now:%Y-%m-%d %H:%M:%S} UTC, no node ahead of it"


def migrate_store(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="The new database: a postgresql:// address or a SQLite file path.")
    ],
) -> None:
    """Copy every row of this installation's database into a new, empty one (SQLite to
    PostgreSQL, or back). Stop every node first; then point the config at the new one."""
    from cronsole.core.store import open_store, redacted
    from cronsole.core.store.sql.copy import CopyMixin

    settings = settings_for(ctx)
    if "://" not in target:
        target = str(Path(target).expanduser().resolve())
    if target == settings.database:
        raise UsageError("the target is the database in use; name a new one")
    source = open_store(settings.database, create=False)
    try:
        now = datetime.now().astimezone()
        live = [
            n.id for n in source.nodes(live_since=now - timedelta(seconds=settings.node_timeout))
        ]
        if live:
            raise UsageError(
                f"nodes still run on {redacted(settings.database)}: "
                f"{', '.join(live)}; stop them first"
            )
        destination = open_store(target)
        try:
            assert isinstance(source, CopyMixin) and isinstance(destination, CopyMixin)
            copied = source.copy_into(destination)
        finally:
            destination.close()
    finally:
        source.close()
    for table, rows in copied.items():
        print(f"{table:14} {rows:>9,} rows")
    print(f'copied into {redacted(target)}; set database = "..." (or CRONSOLE_DB) to use it')
