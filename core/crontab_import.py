"""A crontab, read as cron reads it (`man 5 crontab`), turned into `[jobs.NAME]` tables of
command jobs. Environment lines reach the jobs after them (CRON_TZ and TZ as their time zone);
what a command job cannot express (@reboot, an unescaped `%`, which cron turns into standard
input) is written as a comment with the reason, never dropped in silence."""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .scheduling.triggers import ScheduleError, parse_schedule

ENV_LINE = re.compile(r"""^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$""")
SHELL_CHARS = set("|&;<>()$`\\\"'*?[#~=%\n")  # a command with any of these needs /bin/sh
WRAPPERS = {"env", "exec", "nice", "ionice", "nohup", "sudo", "timeout", "chronic"}
SKIPPED_HEADS = {"cd", "test", "[", "true", ":"}  # a segment that starts so runs nothing to name
MAX_NAME = 63


@dataclass
class Imported:
    """What one crontab became: TOML tables, and what was done, one line each."""

    tables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: int = 0


def local_zone() -> str | None:
    """The IANA name of this host's zone, in which cron reads a crontab without CRON_TZ."""
    if os.environ.get("TZ", "").strip(":"):
        return os.environ["TZ"].strip(":")
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    try:
        return Path("/etc/timezone").read_text().strip() or None
    except OSError:
        return None


def import_crontab(text: str, system: bool, taken: set[str], zone: str | None) -> Imported:
    """`system`: lines carry a user field after the schedule (/etc/crontab, /etc/cron.d);
    `taken`: job names already in use; `zone`: the zone of lines without CRON_TZ or TZ."""
    out = Imported()
    env: dict[str, str] = {}
    used = set(taken)
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if (assignment := ENV_LINE.match(line)) and not line.startswith(("@", "*")):
            key, value = assignment[1], _unquote(assignment[2])
            env[key] = value
            out.notes.append(f"line {number}: {key} kept for the jobs after it")
            if key == "MAILTO":
                out.notes.append(
                    f"line {number}: cronsole does not mail output: it is the run's log"
                )
            continue
        _entry(out, number, line, system, dict(env), used, zone)
    return out


def _entry(
    out: Imported,
    number: int,
    line: str,
    system: bool,
    env: dict[str, str],
    used: set[str],
    zone: str | None,
) -> None:
    width = 1 if line.startswith("@") else 5
    parts = line.split(None, width)
    schedule, rest = " ".join(parts[:width]), parts[width] if len(parts) > width else ""
    user = None
    if system:
        user, _, rest = rest.partition(" ")
        rest = rest.strip()
    if schedule.lower() == "@reboot":
        return _skip(out, number, line, "@reboot: cronsole runs jobs on a schedule, not at boot")
    if not rest:
        return _skip(out, number, line, "no command on this line")
    command, stdin = _percent(rest)
    if stdin is not None:
        return _skip(out, number, line, "an unescaped % (cron's standard input) in the command")
    timezone = env.pop("CRON_TZ", None) or env.get("TZ") or zone  # CRON_TZ is cron's alone
    try:
        parse_schedule(schedule, timezone or "UTC")
    except ScheduleError as exc:
        return _skip(out, number, line, f"schedule: {exc}")
    name = _name(command, used)
    out.names.append(name)
    out.tables.append(_table(name, number, schedule, timezone, command, user, env))
    out.notes.append(f"line {number}: job {name} ({schedule})")
    return None


def _skip(out: Imported, number: int, line: str, why: str) -> None:
    out.skipped += 1
    out.notes.append(f"line {number}: not imported: {why}")
    out.tables.append(f"# line {number}, not imported ({why}):\n# {line}\n")


def _percent(command: str) -> tuple[str, str | None]:
    """The command with `\\%` made `%`, and what an unescaped `%` starts (None: none)."""
    parts = re.split(r"(?<!\\)%", command, maxsplit=1)
    stdin = parts[1] if len(parts) > 1 else None
    return parts[0].replace("\\%", "%").strip(), stdin


def _name(command: str, used: set[str]) -> str:
    """The program a command runs, as a unique job name: `cd /x && ./build.sh` is `build`."""
    program = "command"
    for segment in re.split(r"&&|\|\||[;|]", command):
        words = [w.strip("\"'") for w in segment.split() if "=" not in w]
        if not words or Path(words[0]).name in SKIPPED_HEADS:
            continue
        found = (w for w in words if w[:1] not in ("-", "") and not w.isdigit())
        program = next((w for w in found if Path(w).name not in WRAPPERS), program)
        break
    stem = re.sub(r"[^a-z0-9_-]+", "-", Path(program).stem.lower()).strip("-_") or "command"
    stem = stem[: MAX_NAME - 4]
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _table(
    name: str,
    number: int,
    schedule: str,
    timezone: str | None,
    command: str,
    user: str | None,
    env: dict[str, str],
) -> str:
    lines = [f"# crontab line {number}", f"[jobs.{name}]", f"schedule = {_quote(schedule)}"]
    if timezone:
        lines.append(f"timezone = {_quote(timezone)}")
    shell = env.get("SHELL", "/bin/sh")
    if SHELL_CHARS & set(command) and shell != "/bin/sh":  # cron runs `$SHELL -c command`
        lines.append(f'command = [{_quote(shell)}, "-c", {_quote(command)}]')
    elif SHELL_CHARS & set(command):
        lines += [f"command = {_quote(command)}", "shell = true"]
    else:
        lines.append(f"command = [{', '.join(_quote(w) for w in shlex.split(command))}]")
    if user:
        lines.append(f"user = {_quote(user)}")
    if env:
        pairs = ", ".join(f"{key} = {_quote(value)}" for key, value in env.items())
        lines.append(f"env = {{ {pairs} }}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)
