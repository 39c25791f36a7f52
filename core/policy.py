"""A job's policy: how its ticks start, how long a run may take, how items are retried.

Each option is written once, here: its type, default, parsing and help. `@job(...)` keywords,
the `[jobs.NAME]` keys of cronsole.toml, the job view (`cronsole job NAME`, the console's job
screen) and `config show` all come from this one definition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .durations import format_duration, parse_duration
from .errors import UsageError
from .models import CatchUp, Overlap


class PolicyError(UsageError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _choice(enum: type[StrEnum]) -> Callable[[Any, str], Any]:
    def parse(value: Any, key: str) -> Any:
        try:
            return enum(value)
        except ValueError:
            choices = ", ".join(e.value for e in enum)
            raise UsageError(f"{key}: {value!r} is not one of {choices}") from None

    return parse


def _duration(value: Any, key: str) -> float:
    return parse_duration(value, key)


def _optional_duration(value: Any, key: str) -> float | None:
    return None if value is None else parse_duration(value, key)


def _attempts(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{key} must be a whole number, got {value!r}")
    if value < 1:
        raise UsageError(f"{key} must be at least 1")
    return value


MAX_GROUP = 1000  # outcomes in one group commit, at most


@dataclass(frozen=True)
class CommitEvery:
    """How many item outcomes share one transaction: up to `items`, or with a window, those
    of `seconds` (a group commits at the first outcome that long after its first, and
    always when the run's drain ends)."""

    items: int = 1
    seconds: float | None = None

    @property
    def grouped(self) -> bool:
        return self.items > 1 or self.seconds is not None

    def __str__(self) -> str:
        return format_duration(self.seconds) if self.seconds is not None else str(self.items)


def _commit_every(value: Any, key: str) -> CommitEvery:
    """A whole number of outcomes (1, the default, commits each alone), or a window ("2s")."""
    if isinstance(value, CommitEvery):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_GROUP:
            raise UsageError(f"{key} must be from 1 to {MAX_GROUP} outcomes, got {value}")
        return CommitEvery(value)
    if not isinstance(value, str):
        raise UsageError(f"{key} must be a number of outcomes or a window like '2s', got {value!r}")
    seconds = parse_duration(value, key)
    if not 0 < seconds <= 60:
        raise UsageError(f"{key}: a window must be longer than 0 and at most 60s, got {value!r}")
    return CommitEvery(MAX_GROUP, seconds)


EVENTS = ("failed", "partial", "timed_out", "stuck", "health", "recovered")  # what `on` names


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{key} must be a list of names, got {value!r}")
    return tuple(value)


def _events(value: Any, key: str) -> tuple[str, ...]:
    names = _names(value, key)
    for name in names:
        if name not in EVENTS:
            raise UsageError(f"{key}: {name!r} is not one of {', '.join(EVENTS)}")
    return names


def _as_text(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def _as_duration(value: float | None) -> str:
    return format_duration(value) if value else "none"


def _option(
    default: Any, parse: Callable[[Any, str], Any], help: str, show: Callable[[Any], Any] = _as_text
) -> Any:
    return field(default=default, metadata={"parse": parse, "show": show, "help": help})


@dataclass(frozen=True)
class Policy:
    overlap: Overlap = _option(
        Overlap.SKIP,
        _choice(Overlap),
        "a tick while a run is in flight: `skip` it, `queue` one run behind, or `allow` both",
    )
    catch_up: CatchUp = _option(
        CatchUp.LATEST,
        _choice(CatchUp),
        "ticks missed while stopped: run the `latest`, `all` inside the window, or `none`",
    )
    catch_up_window: float = _option(
        86400.0,
        _duration,
        "how far back `catch_up = all` replays",
        lambda seconds: format_duration(seconds),
    )
    time_budget: float | None = _option(
        None,
        _optional_duration,
        "a run takes no new item once the budget left cannot fit one (`stopped_early`)",
        _as_duration,
    )
    timeout: float | None = _option(
        None,
        _optional_duration,
        "a run still going after this long is closed `timed_out`, its claims released",
        _as_duration,
    )
    jitter: float = _option(
        0.0,
        _duration,
        "a scheduled start waits a random 0..jitter (a fire, retry or backfill does not)",
        _as_duration,
    )
    max_attempts: int = _option(5, _attempts, "tries per item before it is `dead`")
    retry_base: float = _option(
        30.0,
        _duration,
        "the first wait before a failed item is tried again; it doubles each try",
        lambda seconds: format_duration(seconds),
    )
    retry_cap: float = _option(
        3600.0,
        _duration,
        "the longest wait between tries of an item",
        lambda seconds: format_duration(seconds),
    )

    commit_every: CommitEvery = _option(
        CommitEvery(),
        _commit_every,
        "item outcomes committed together: a number, or a window like `2s`; for idempotent"
        " items (after a crash up to one group repeats)",
        lambda every: every.items if every.seconds is None else str(every),
    )

    alert: tuple[str, ...] = _option(
        (),
        _names,
        "the `[alerts.NAME]` channels told of this job's incidents",
        lambda names: ", ".join(names) or "none",
    )
    on: tuple[str, ...] = _option(
        ("failed", "timed_out", "stuck", "recovered"),
        _events,
        "which incidents are said: `failed`, `partial`, `timed_out`, `stuck`, `health`,"
        " `recovered`",
        lambda names: ", ".join(names),
    )
    expect_every: float | None = _option(
        None,
        _optional_duration,
        "a dead-man's switch: an incident when the job has not succeeded for this long",
        _as_duration,
    )

    def updated(self, values: Mapping[str, Any]) -> Policy:
        """This policy with `values` (as written in code or TOML) parsed and applied."""
        return dataclasses.replace(self, **parse_options(values))

    def shown(self) -> dict[str, Any]:
        """Each option as an operator reads it (durations as `5m`, unset as `none`)."""
        return {f.name: f.metadata["show"](getattr(self, f.name)) for f in dataclasses.fields(self)}


OPTIONS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Policy)}


def parse_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """Each option parsed; PolicyError names the first key that is unknown or bad."""
    parsed = {}
    for key, value in values.items():
        option = OPTIONS.get(key)
        if option is None:
            raise PolicyError(key, f"unknown option {key!r} (known: {', '.join(OPTIONS)})")
        try:
            parsed[key] = option.metadata["parse"](value, key)
        except UsageError as exc:
            raise PolicyError(key, str(exc)) from None
    return parsed


def help_of(key: str) -> str:
    return str(OPTIONS[key].metadata["help"])
