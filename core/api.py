"""The job API: `@job` attaches a JobSpec to a plain function and returns it unchanged."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .durations import parse_duration
from .jobsettings import NoSettings
from .models import CatchUp, Overlap
from .scheduling.triggers import Schedule

ATTRIBUTE = "__cronsole_job__"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class JobSpec:
    """A job's definition as written in code; config and environment may override parts."""

    name: str
    schedule: str
    timezone: str | None = None
    settings: type = NoSettings
    overlap: Overlap = Overlap.SKIP
    catch_up: CatchUp = CatchUp.LATEST
    catch_up_window: float = 86400.0
    time_budget: float | None = None
    timeout: float | None = None  # past it the run is `timed_out` and its claims released
    jitter: float = 0.0
    max_attempts: int = 5
    retry_base: float = 30.0
    retry_cap: float = 3600.0
    resets_watermark: tuple[str, ...] = ()
    enabled: bool = True
    description: str = ""
    schedule_check: Callable[[Schedule], None] | None = None
    actions: Mapping[str, Action] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionContext:
    """What a job's operator action receives (no run: actions act outside the schedule)."""

    job: str
    settings: Any
    store: Any  # the Store; typed loosely to keep this module free of the store package
    clock: Any
    base_dir: Path
    log: logging.Logger


Action = Callable[[ActionContext, list[str]], str]


def job(
    name: str | None = None,
    *,
    schedule: str,
    timezone: str | None = None,
    settings: type = NoSettings,
    overlap: Overlap | str = Overlap.SKIP,
    catch_up: CatchUp | str = CatchUp.LATEST,
    catch_up_window: str | float = 86400.0,
    time_budget: str | float | None = None,
    timeout: str | float | None = None,
    jitter: str | float = 0.0,
    max_attempts: int = 5,
    retry_base: str | float = 30.0,
    retry_cap: str | float = 3600.0,
    resets_watermark: tuple[str, ...] = (),
    enabled: bool = True,
    schedule_check: Callable[[Schedule], None] | None = None,
    actions: Mapping[str, Action] | None = None,
) -> Callable[[F], F]:
    """Declare a job. The function takes a JobContext; its docstring is the job's description.

    `enabled=False` keeps a job out of the scheduler unless the config has a table for it
    (how built-in jobs ship); `schedule_check` may refuse a schedule with ValueError;
    `actions` are named operator actions (e.g. "submit") the shells can call."""

    def attach(fn: F) -> F:
        job_name = name or fn.__name__.replace("_", "-")
        if not NAME.match(job_name):
            raise ValueError(f"bad job name {job_name!r}: use lower-case letters, digits, - and _")
        spec = JobSpec(
            name=job_name,
            schedule=schedule,
            timezone=timezone,
            settings=settings,
            overlap=Overlap(overlap),
            catch_up=CatchUp(catch_up),
            catch_up_window=parse_duration(catch_up_window, "catch_up_window"),
            time_budget=None if time_budget is None else parse_duration(time_budget),
            timeout=None if timeout is None else parse_duration(timeout, "timeout"),
            jitter=parse_duration(jitter, "jitter"),
            max_attempts=max_attempts,
            retry_base=parse_duration(retry_base),
            retry_cap=parse_duration(retry_cap),
            resets_watermark=tuple(resets_watermark),
            enabled=enabled,
            description=(inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " "),
            schedule_check=schedule_check,
            actions=dict(actions or {}),
        )
        setattr(fn, ATTRIBUTE, spec)
        return fn

    return attach


def spec_of(obj: object) -> JobSpec | None:
    spec = getattr(obj, ATTRIBUTE, None)
    return spec if isinstance(spec, JobSpec) else None
