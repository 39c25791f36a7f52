"""Finding job definitions in modules and resolving them against the settings."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from .api import NAME, Action, JobSpec, spec_of
from .commandjob import command_text, run_command
from .config import JobConfig, Settings, env_key
from .errors import ConfigError, UsageError
from .jobsettings import SettingError, build_settings
from .policy import Policy
from .scheduling.describe import describe
from .scheduling.triggers import Schedule, ScheduleError, parse_schedule

log = logging.getLogger(__name__)

JobFunction = Callable[..., Any]


@dataclass(frozen=True)
class JobDefinition:
    spec: JobSpec
    fn: JobFunction
    module: str


@dataclass(frozen=True)
class Job:
    """A job ready to schedule: its definition with config and environment applied."""

    name: str
    fn: JobFunction
    schedule: Schedule
    settings_cls: type
    config_settings: dict[str, Any]
    policy: Policy
    resets_watermark: tuple[str, ...]
    description: str
    module: str
    actions: Mapping[str, Action]
    schedule_where: str | None = None  # where the schedule was written: "file:line", env, code

    @property
    def schedule_text(self) -> str:
        return describe(self.schedule)

    def settings(self, *layers: dict[str, Any]) -> Any:
        """Typed settings: code defaults, then config, then each given layer."""
        return build_settings(self.settings_cls, [self.config_settings, *layers])


def discover(module: ModuleType) -> list[JobDefinition]:
    found = []
    for value in vars(module).values():
        spec = spec_of(value)
        if spec is not None and getattr(value, "__module__", None) == module.__name__:
            found.append(JobDefinition(spec, value, module.__name__))
    return found


IMPORT_NOTICE_SECONDS = 5.0  # a module still importing after this long is named once


def import_module(name: str, base: Path) -> ModuleType:
    """A module by dotted name (with the config's folder importable) or a .py file path. One
    that is still importing after a few seconds is named (it may spin at import time); one
    that exits the process at import is refused."""
    notice = threading.Timer(
        IMPORT_NOTICE_SECONDS,
        log.warning,
        (
            "still importing job module %r after %gs: is it stuck at import time?",
            name,
            IMPORT_NOTICE_SECONDS,
        ),
    )
    notice.daemon = True
    notice.start()
    try:
        return _import(name, base)
    finally:
        notice.cancel()


def load_function(name: str, base: Path) -> Callable[..., Any]:
    """A function a setting names as "module:function" (a dotted module or a .py path, the
    config's folder importable); ConfigError saying what is missing otherwise."""
    module, sep, function = name.partition(":")
    if not sep or not module or not function:
        raise ConfigError(f"{name!r}: name a function as module:function")
    found = getattr(import_module(module, base), function, None)
    if not callable(found):
        raise ConfigError(f"{name!r}: module {module!r} has no function {function!r}")
    return found  # type: ignore[no-any-return]


def _import(name: str, base: Path) -> ModuleType:
    try:
        if name.endswith(".py"):
            path = (base / name).resolve()
            spec = importlib.util.spec_from_file_location(f"cronsole_user.{path.stem}", path)
            if spec is None or spec.loader is None or not path.is_file():
                raise FileNotFoundError(path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return module
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        return importlib.import_module(name)
    except Exception as exc:  # a user's module may fail in any way; say which and why
        raise ConfigError(f"cannot load job module {name!r}: {type(exc).__name__}: {exc}") from None
    except SystemExit as exc:  # exit 0 with no output would look like success
        raise ConfigError(
            f"cannot load job module {name!r}: it called sys.exit({exc.code!r}) "
            "while being imported"
        ) from None


def load_definitions(settings: Settings, builtin: Iterable[ModuleType] = ()) -> list[JobDefinition]:
    definitions: list[JobDefinition] = []
    for module in builtin:
        definitions += discover(module)
    for name in settings.modules:
        definitions += discover(import_module(name, settings.base_dir))
    seen: dict[str, str] = {}
    for definition in definitions:
        if definition.spec.name in seen:
            raise ConfigError(
                f"job {definition.spec.name!r} is defined twice "
                f"({seen[definition.spec.name]} and {definition.module})"
            )
        seen[definition.spec.name] = definition.module
    return definitions


def resolve_jobs(settings: Settings, definitions: list[JobDefinition]) -> dict[str, Job]:
    """Enabled jobs by name; any mistake raises ConfigError with its location."""
    by_name = {d.spec.name: d for d in definitions}
    for name, config in settings.jobs.items():
        if config.command is not None:
            if name in by_name:
                raise ConfigError(
                    f"job {name!r} is defined in {by_name[name].module} and as a command here:"
                    " one or the other",
                    config.where.get("command"),
                )
            by_name[name] = _command_definition(name, config)
    for name, config in settings.jobs.items():
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            where = config.where.get("schedule") or next(iter(config.where.values()), None)
            raise ConfigError(f"unknown job {name!r} (known: {known})", where)
    env_names = {env_key(name): name for name in by_name}
    for variable in settings.env_schedules:
        if variable not in env_names:
            raise ConfigError(
                f"no job matches this variable (jobs: {', '.join(sorted(by_name))})",
                f"environment {variable}",
            )
    jobs = {}
    for name, definition in sorted(by_name.items()):
        config = settings.jobs.get(name, JobConfig())
        override = settings.env_schedules.get(env_key(name))
        if override:
            config = replace(
                config,
                schedule=override,
                where={**config.where, "schedule": f"environment {env_key(name)}"},
            )
        configured = definition.spec.enabled or name in settings.jobs
        enabled = configured if config.enabled is None else config.enabled
        if enabled:
            jobs[name] = _resolve(definition, config, settings.timezone)
            for channel in jobs[name].policy.alert:
                if channel not in settings.alerts:
                    known = ", ".join(sorted(settings.alerts)) or "none configured"
                    where = config.where.get("alert") or jobs[name].schedule_where
                    raise ConfigError(
                        f"job {name}: unknown alert channel {channel!r} (known: {known})", where
                    )
    return jobs


def _command_definition(name: str, config: JobConfig) -> JobDefinition:
    """A job that runs a command, defined by its `[jobs.NAME]` table alone."""
    assert config.command is not None
    where = config.where.get("command")
    if not NAME.match(name):
        raise ConfigError(
            f"job name {name!r}: use lower-case letters, digits, '-' and '_' (at most 63)", where
        )
    if config.schedule is None:
        raise ConfigError(f"job {name}: a command job needs a schedule", where)
    spec = JobSpec(name=name, schedule=config.schedule, description=command_text(config.command))
    return JobDefinition(spec, functools.partial(run_command, spec=config.command), "cronsole.toml")


def _resolve(definition: JobDefinition, config: JobConfig, default_tz: str) -> Job:
    spec = definition.spec
    timezone = config.timezone or spec.timezone or default_tz
    try:
        text = spec.schedule if config.schedule is None else config.schedule
        schedule = parse_schedule(text, timezone)
        if spec.schedule_check:
            spec.schedule_check(schedule)
    except (ScheduleError, ValueError) as exc:
        raise ConfigError(f"job {spec.name}: {exc}", config.where.get("schedule")) from None
    job = Job(
        name=spec.name,
        fn=definition.fn,
        schedule=schedule,
        settings_cls=spec.settings,
        config_settings=dict(config.settings),
        policy=replace(spec.policy, **config.policy),
        resets_watermark=spec.resets_watermark,
        description=spec.description,
        module=definition.module,
        actions=spec.actions,
        schedule_where=config.where.get("schedule") or f"{definition.module} (@job {spec.name})",
    )
    try:
        job.settings()
    except SettingError as exc:
        where = config.where.get(f"settings.{exc.key}") or config.where.get("settings")
        raise ConfigError(f"job {spec.name}: {exc}", where) from None
    return job


def require_job(jobs: dict[str, Job], name: str) -> Job:
    if name not in jobs:
        known = ", ".join(sorted(jobs)) or "none configured"
        raise UsageError(f"unknown job {name!r} (known: {known})")
    return jobs[name]
