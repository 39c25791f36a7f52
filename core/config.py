"""One frozen Settings object: cronsole.toml, then environment variables, then CLI flags.

Every mistake is reported as `file:line: message` (ConfigError, exit 2) before anything is written.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .channels import Channel, parse_channel
from .commandspec import COMMAND_KEYS, CommandSpec, parse_command
from .durations import parse_duration
from .errors import ConfigError, UsageError
from .policy import OPTIONS, PolicyError, parse_options
from .scheduling.triggers import ScheduleError, load_zone

TOP_KEYS = (  # in the order `config show` lists them
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
JOB_KEYS = {"schedule", "timezone", "enabled", "settings", *OPTIONS, *COMMAND_KEYS}


@dataclass(frozen=True)
class JobConfig:
    """Overrides of one job's definition; None means 'as the code declares'."""

    schedule: str | None = None
    timezone: str | None = None
    enabled: bool | None = None
    policy: dict[str, Any] = field(default_factory=dict)  # options over the code's, as written
    settings: dict[str, Any] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)  # key -> "file:line" or env var name
    command: CommandSpec | None = None  # a command job's, defined by this table alone


@dataclass(frozen=True)
class Settings:
    config_path: Path | None
    database: str
    log_dir: Path
    modules: tuple[str, ...] = ()
    timezone: str = "UTC"
    grace_period: float = 30.0
    stale_timeout: float = 1800.0
    node_timeout: float = 30.0
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 10
    log_keep_rows: int = 20000
    jobs: dict[str, JobConfig] = field(default_factory=dict)
    alerts: dict[str, Channel] = field(default_factory=dict)  # [alerts.NAME] channels
    sources: dict[str, str] = field(default_factory=dict)
    env_schedules: dict[str, str] = field(default_factory=dict)  # CRONSOLE_JOB_<NAME>_SCHEDULE
    # what the environment set over a value the config file also sets: key -> how
    overridden: dict[str, str] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()


def state_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "cronsole"


def config_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "cronsole"


def find_config(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """--config, then $CRONSOLE_CONFIG, then ./cronsole.toml, then the user config dir."""
    for candidate, must_exist in (
        (explicit, True),
        (env.get("CRONSOLE_CONFIG"), True),
        ("cronsole.toml", False),
        (str(config_home(env) / "cronsole.toml"), False),
    ):
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        if path.is_file():
            return path.resolve()
        if must_exist:
            raise UsageError(f"{candidate}: config file not found")
    return None


def load_settings(
    config: str | None = None,
    env: Mapping[str, str] | None = None,
    database: str | None = None,
) -> Settings:
    env = os.environ if env is None else env
    path = find_config(config, env)
    data, lines = _read(path) if path else ({}, {})
    where = _Where(path, lines)
    top = data.get("cronsole", {})
    _check_keys(data, {"cronsole", "jobs", "alerts"}, (), where)
    _check_keys(top, set(TOP_KEYS), ("cronsole",), where)
    base = path.parent if path else Path.cwd()
    values, sources = _top_values(top, base, env, where)
    if database:
        values["database"], sources["database"] = database, "--db"
    jobs = {
        name: _job_config(name, table, where, base)
        for name, table in _table(data, "jobs", (), where).items()
    }
    alerts = {
        name: parse_channel(name, table, _keys_of(where, "alerts", name))
        for name, table in _table(data, "alerts", (), where).items()
    }
    schedules = {k: v for k, v in env.items() if ENV_SCHEDULE.match(k)}
    overridden = {}
    if env.get("CRONSOLE_DB") and "database" in top:
        overridden["database"] = (
            f"CRONSOLE_DB overrides database at {where('cronsole', 'database')}"
        )
    for name, job in jobs.items():
        if job.schedule is not None and env_key(name) in schedules:
            overridden[f"jobs.{name}.schedule"] = (
                f"{env_key(name)} overrides the schedule at {where('jobs', name, 'schedule')}"
            )
    return Settings(
        config_path=path,
        jobs=jobs,
        alerts=alerts,
        sources=sources,
        env_schedules=schedules,
        overridden=overridden,
        **values,
    )


class _Where:
    def __init__(self, path: Path | None, lines: dict[tuple[str, ...], int]) -> None:
        self.path, self.lines = path, lines

    def __call__(self, *keys: str) -> str:
        for n in range(len(keys), 0, -1):
            if keys[:n] in self.lines:
                return f"{self.path}:{self.lines[keys[:n]]}"
        return str(self.path)


def _read(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}", str(path)) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:  # tomllib recurses per level of nesting
        raise ConfigError("TOML nested too deeply to read", f"{path}:1") from None
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        location = f"{path}:{line.group(1) if line else 1}"
        raise ConfigError(f"TOML syntax: {message}", location) from None
    return data, locate_keys(text)


KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=')
HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
PART = re.compile(r'"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_-]+)')
ENV_SCHEDULE = re.compile(r"^CRONSOLE_JOB_[A-Z0-9_]+_SCHEDULE$")


def locate_keys(text: str) -> dict[tuple[str, ...], int]:
    """Line numbers of tables and keys, for messages tomllib cannot place."""
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if header := HEADER.match(line):
            table = tuple(q or b for q, b in PART.findall(header.group(1)))
            found.setdefault(table, number)
        elif key := KEY.match(line):
            found.setdefault((*table, key.group(1).strip('"')), number)
    return found


def _check_keys(
    table: Mapping[str, Any], known: set[str], path: tuple[str, ...], where: _Where
) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(
                f"unknown key {'.'.join((*path, key))!r} (known: {', '.join(sorted(known))})",
                where(*path, key),
            )


def _table(
    data: Mapping[str, Any], key: str, path: tuple[str, ...], where: _Where
) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{'.'.join((*path, key))} must be a table", where(*path, key))
    return value


def _top_values(
    top: Mapping[str, Any], base: Path, env: Mapping[str, str], where: _Where
) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    sources = {key: where("cronsole", key) for key in top}
    database = env.get("CRONSOLE_DB") or top.get("database")
    if env.get("CRONSOLE_DB"):
        sources["database"] = "CRONSOLE_DB"
    values["database"] = _database(database, base, env, where)
    log_dir = _typed(top, "log_dir", str, where)
    values["log_dir"] = (base / log_dir) if log_dir else state_home(env) / "logs"
    modules = top.get("modules", [])
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(
            "modules must be a list of module names or .py paths", where("cronsole", "modules")
        )
    values["modules"] = tuple(modules)
    if "timezone" in top:
        zone = _typed(top, "timezone", str, where)
        values["timezone"] = _zone(zone, where("cronsole", "timezone"))
    for key in ("grace_period", "stale_timeout", "node_timeout"):
        if key in top:
            values[key] = _duration(top[key], key, where("cronsole", key))
    for key in ("log_max_bytes", "log_backups", "log_keep_rows"):
        if key in top:
            values[key] = _positive_int(top[key], key, where("cronsole", key))
    return values, sources


def _database(value: Any, base: Path, env: Mapping[str, str], where: _Where) -> str:
    if value is None:
        return str(state_home(env) / "cronsole.db")
    if not isinstance(value, str) or not value:
        raise ConfigError(
            "database must be a file path or a postgresql:// address", where("cronsole", "database")
        )
    if "://" in value:
        return value
    return os.path.abspath(base / Path(value).expanduser())  # links are not followed here


def _typed(table: Mapping[str, Any], key: str, kind: type, where: _Where, *path: str) -> Any:
    value = table.get(key)
    if value is not None and (
        not isinstance(value, kind) or isinstance(value, bool) and kind is not bool
    ):
        raise ConfigError(
            f"{key} must be {kind.__name__}, got {value!r}", where(*(path or ("cronsole",)), key)
        )
    return value


def _zone(name: str, location: str) -> str:
    try:
        load_zone(name)
    except ScheduleError as exc:
        raise ConfigError(str(exc), location) from None
    return name


def _duration(value: Any, key: str, location: str) -> float:
    try:
        return parse_duration(value, key)
    except UsageError as exc:
        raise ConfigError(str(exc), location) from None


def _positive_int(value: Any, key: str, location: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} must be a positive whole number, got {value!r}", location)
    return value


def _keys_of(where: _Where, *path: str) -> Callable[[str], str]:
    """Where each key of one table is written (the table itself for "")."""
    return lambda key: where(*path, *([key] if key else []))


def env_key(job: str) -> str:
    return "CRONSOLE_JOB_" + job.upper().replace("-", "_") + "_SCHEDULE"


def _job_config(name: str, table: Any, where: _Where, base: Path) -> JobConfig:
    path = ("jobs", name)
    if not isinstance(table, dict):
        raise ConfigError(f"jobs.{name} must be a table", where(*path))
    _check_keys(table, JOB_KEYS, path, where)
    values: dict[str, Any] = {"where": {key: where(*path, key) for key in table}}
    for key, kind in (("schedule", str), ("timezone", str), ("enabled", bool)):
        values[key] = _typed(table, key, kind, where, *path)
    if values["timezone"]:
        _zone(values["timezone"], where(*path, "timezone"))
    try:
        values["policy"] = parse_options({k: v for k, v in table.items() if k in OPTIONS})
    except PolicyError as exc:
        raise ConfigError(str(exc), where(*path, exc.key)) from None
    if COMMAND_KEYS & set(table):
        values["command"] = parse_command(
            {k: v for k, v in table.items() if k in COMMAND_KEYS}, base, lambda k: where(*path, k)
        )
    values["settings"] = _table(table, "settings", path, where)
    for key in values["settings"]:
        values["where"][f"settings.{key}"] = where(*path, "settings", key)
    return JobConfig(**values)
