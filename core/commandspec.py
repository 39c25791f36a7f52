"""A command job's `[jobs.NAME]` keys, read and checked before anything runs: every mistake is
a ConfigError at its `file:line`."""

from __future__ import annotations

import getpass
import os
import pwd
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .durations import parse_duration
from .errors import ConfigError, UsageError

COMMAND_KEYS = {"command", "shell", "cwd", "env", "env_file", "user"}
COMMAND_KEYS |= {"success_exit_codes", "kill_after"}


@dataclass(frozen=True)
class CommandSpec:
    """What a command job runs, as its `[jobs.NAME]` table says."""

    argv: tuple[str, ...]  # with `shell`, ("/bin/sh", "-c", text)
    shell: bool = False
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    env_file: Path | None = None
    user: str | None = None
    success_exit_codes: frozenset[int] = frozenset({0})
    kill_after: float = 10.0


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and `#` comments skipped, one pair of quotes taken off), as
    systemd's EnvironmentFile reads them."""
    found = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"{path}:{number}: not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def parse_command(table: Mapping[str, Any], base: Path, where: Callable[[str], str]) -> CommandSpec:
    """The command keys of one job's table; `where(key)` locates a key for the message."""
    if "command" not in table:
        key = next(k for k in table if k in COMMAND_KEYS)
        raise ConfigError(f"{key} is a command job's key, and this job has no command", where(key))
    shell = table.get("shell", False)
    if not isinstance(shell, bool):
        raise ConfigError(f"shell must be true or false, got {shell!r}", where("shell"))
    values: dict[str, Any] = {"argv": _argv(table["command"], shell, where("command"))}
    values["shell"] = shell
    if "cwd" in table:
        values["cwd"] = _folder(table["cwd"], base, where("cwd"))
    values["env"] = _env(table.get("env", {}), where("env"))
    if "env_file" in table:
        values["env_file"] = _env_file(table["env_file"], base, where("env_file"))
    if "user" in table:
        values["user"] = _user(table["user"], where("user"))
    if "success_exit_codes" in table:
        values["success_exit_codes"] = _codes(
            table["success_exit_codes"], where("success_exit_codes")
        )
    if "kill_after" in table:
        try:
            values["kill_after"] = parse_duration(table["kill_after"], "kill_after")
        except UsageError as exc:
            raise ConfigError(str(exc), where("kill_after")) from None
    return CommandSpec(**values)


def _argv(value: Any, shell: bool, location: str) -> tuple[str, ...]:
    if shell:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError("with shell = true, command is one string for /bin/sh -c", location)
        return ("/bin/sh", "-c", value)
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"command: {exc} (it is split as a shell would)", location) from None
    if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
        raise ConfigError("command must be a string or a list of strings", location)
    if not value[0]:
        raise ConfigError("command names no program", location)
    return tuple(value)


def _path(value: Any, base: Path, what: str, location: str) -> Path:
    """A path as written, relative to cronsole.toml's folder."""
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a path, got {value!r}", location)
    return base / Path(value).expanduser()


def _folder(value: Any, base: Path, location: str) -> Path:
    path = _path(value, base, "cwd", location)
    if not path.is_dir():
        raise ConfigError(f"cwd: no folder at {path}", location)
    return path


def _env(value: Any, location: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError("env must be a table of names to strings", location)
    return dict(value)


def _env_file(value: Any, base: Path, location: str) -> Path:
    path = _path(value, base, "env_file", location)
    try:
        read_env_file(path)
    except OSError as exc:
        raise ConfigError(f"env_file: cannot read {path}: {exc.strerror}", location) from None
    except ValueError as exc:
        raise ConfigError(f"env_file: {exc}", location) from None
    return path


def _user(value: Any, location: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"user must be a user name, got {value!r}", location)
    try:
        pwd.getpwnam(value)
    except KeyError:
        raise ConfigError(f"user: no user {value!r} on this host", location) from None
    if os.geteuid() != 0 and value != getpass.getuser():
        raise ConfigError(f"user: only root may run a command as {value!r}", location)
    return value


def _codes(value: Any, location: str) -> frozenset[int]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
    ):
        raise ConfigError("success_exit_codes must be a list of exit codes (0 to 255)", location)
    return frozenset(value)
