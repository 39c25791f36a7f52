"""Commands that set up and check an installation: init, config, paths, doctor,
migrate-store and the demo workspace."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from cronsole.core.api import NAME
from cronsole.core.clock import SystemClock
from cronsole.core.commandspec import parse_command
from cronsole.core.config import TOP_KEYS, Settings, config_home, env_key, load_settings, state_home
from cronsole.core.engine import existing_store, load_jobs
from cronsole.core.errors import EXIT_FAILURE, ConfigError, UsageError
from cronsole.core.files import atomic_write
from cronsole.core.policy import Policy
from cronsole.core.registry import Job
from cronsole.core.scheduling.once import check_past_once
from cronsole.core.scheduling.triggers import ScheduleError, parse_schedule
from cronsole.core.text import visible
from cronsole.jobs import builtin_modules

from .. import logsetup
from ..demo import create_workspace
from ..output import emit_json
from .app import app, config_app
from .shared import (
    JsonFlag,
    LogFormat,
    LogFormatOption,
    options,
    settings_for,
)

SECRET_WORDS = ("key", "token", "secret", "password")


def masked(key: str, value: Any) -> Any:
    """Secrets show only their last 4 characters."""
    if (
        isinstance(value, str)
        and any(word in key.lower() for word in SECRET_WORDS)
        and not key.lower().endswith("_env")
    ):
        return "****" + value[-4:] if len(value) > 4 else "****"
    return value


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


@config_app.command("show")
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
                    for key in TOP_KEYS
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
    for key in TOP_KEYS:
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


@config_app.command("check")
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


@app.command("paths")
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


STARTER = """# cronsole.toml — written by `cronsole init`. Every key is optional; see the README.
[cronsole]
database = "state/cronsole.db"   # relative to this file; created 0700/0600
log_dir = "state/logs"
# modules = ["myjobs"]           # your own job modules, or .py files beside this file
timezone = "{timezone}"
grace_period = "30s"             # how long runs in flight get on SIGTERM
"""


@app.command("init")
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
    command: Annotated[
        list[str] | None,
        typer.Option(
            "--command",
            help="NAME=COMMAND, a command job (repeatable; give it --schedule NAME=SCHEDULE).",
        ),
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone")] = "UTC",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter cronsole.toml (asks which jobs to enable on a terminal)."""
    from cronsole.core.scheduling.triggers import load_zone
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
    commands = _pairs(command, "--command", "NAME=COMMAND")
    schedules = _pairs(schedule, "--schedule", "JOB=SCHEDULE")
    tables = "".join(_command_table(n, schedules.pop(n, ""), text) for n, text in commands.items())
    chosen = _choose(known, enable, schedules)
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
    atomic_write(path, (body + tables).encode(), mode=0o644)  # never group- or world-writable
    print(
        f"wrote {path} ({len(chosen) + len(commands)} job(s) enabled); check it with: "
        f"cronsole -c {path} config check"
    )


def _pairs(given: list[str] | None, option: str, form: str) -> dict[str, str]:
    pairs = {}
    for item in given or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise UsageError(f"bad {option} {item!r}: write {form}")
        pairs[name.strip()] = text.strip()
    return pairs


def _command_table(name: str, schedule: str, command: str) -> str:
    """A command job's table, checked as the config will check it."""
    if not NAME.match(name):
        raise UsageError(f"--command {name!r}: use lower-case letters, digits, '-' and '_'")
    if not schedule:
        raise UsageError(f"--command {name} needs a schedule: --schedule {name}=SCHEDULE")
    try:
        parse_schedule(schedule, "UTC")
        argv = parse_command({"command": command}, Path.cwd(), lambda key: "--command").argv
    except ScheduleError as exc:
        raise UsageError(f"{name}: {exc}") from None
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    words = ", ".join(json.dumps(word) for word in argv)
    return f"\n[jobs.{name}]\nschedule = {json.dumps(schedule)}\ncommand = [{words}]\n"


def _definitions(modules: list[Any]) -> list[Any]:
    from cronsole.core.registry import discover

    return [d for module in modules for d in discover(module) if d.spec.name != "demo-traffic"]


def _choose(
    known: dict[str, Any], enable: list[str] | None, pairs: dict[str, str]
) -> dict[str, str]:
    names = list(enable or []) + [n for n in pairs if n not in (enable or [])]
    if not names and sys.stdin.isatty():
        for name in sorted(known):  # ask each job's schedule right after enabling it
            if typer.confirm(f"enable {name}?", default=False):
                names.append(name)
                pairs[name] = typer.prompt(f"  schedule of {name}", default=known[name].schedule)
    return {n: pairs.get(n, known[n].schedule if n in known else "") for n in names}


@app.command("doctor")
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


@app.command("migrate-store")
def migrate_store(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="The new database: a postgresql:// address or a SQLite file path.")
    ],
) -> None:
    """Copy every row of this installation's database into a new, empty one (SQLite to
    PostgreSQL, or back). Stop every node first; then point the config at the new one."""
    from cronsole.core.store import open_store, redacted

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
            copied = source.copy_into(destination)
        finally:
            destination.close()
    finally:
        source.close()
    for table, rows in copied.items():
        print(f"{table:14} {rows:>9,} rows")
    print(f'copied into {redacted(target)}; set database = "..." (or CRONSOLE_DB) to use it')


@app.command("demo")
def demo(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="Where the workspace lives.")] = Path(
        "cronsole-demo"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Seed for the generated data.")] = 1,
    no_tui: Annotated[bool, typer.Option("--no-tui", help="Run headless.")] = False,
    log_format: LogFormatOption = LogFormat.AUTO,
) -> None:
    """Create a demo workspace (or reuse it) with every job family, and run it."""
    from cronsole.core.clock import SystemClock

    from ..service import headless

    config = folder / "cronsole.toml"
    if config.exists():
        print(f"reusing the demo workspace in {folder}")
    elif folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} exists and is not a demo workspace; name an empty folder")
    else:
        create_workspace(folder, seed, SystemClock().now())
        print(f"created a demo workspace in {folder} (seed {seed})")
    settings = load_settings(str(config), database=options(ctx).db)
    if no_tui:
        raise typer.Exit(headless.run(settings, log_format, options(ctx).log_level))
    from .. import console

    raise typer.Exit(
        console.run(
            settings, observe=False, mouse=options(ctx).mouse, log_level=options(ctx).log_level
        )
    )
