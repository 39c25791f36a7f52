"""The job API: `@job` attaches a JobSpec to a plain function and returns it unchanged."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .jobsettings import NoSettings

if TYPE_CHECKING:
    from .context import ActionContext
from .policy import Policy
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
    policy: Policy = Policy()
    resets_watermark: tuple[str, ...] = ()
    enabled: bool = True
    description: str = ""
    schedule_check: Callable[[Schedule], None] | None = None
    actions: Mapping[str, Action] = field(default_factory=dict)


Action = Callable[["ActionContext", list[str]], str]  # a result line for the operator


def job(
    name: str | None = None,
    *,
    schedule: str,
    timezone: str | None = None,
    settings: type = NoSettings,
    resets_watermark: tuple[str, ...] = (),
    enabled: bool = True,
    schedule_check: Callable[[Schedule], None] | None = None,
    actions: Mapping[str, Action] | None = None,
    **policy: Any,
) -> Callable[[F], F]:
    """Declare a job. The function takes a JobContext; its docstring is the job's description.

    The other keywords are the job's policy (`overlap`, `catch_up`, `catch_up_window`,
    `time_budget`, `timeout`, `jitter`, `max_attempts`, `retry_base`, `retry_cap`: see
    `cronsole.core.policy`); durations take seconds or text such as "30s", "5m".
    `enabled=False` keeps a job out of the scheduler unless the config has a table for it
    (how built-in jobs ship); `schedule_check` may refuse a schedule with ValueError;
    `actions` are named operator actions (e.g. "submit") the shells can call."""
    options = Policy().updated(policy)

    def attach(fn: F) -> F:
        job_name = name or fn.__name__.replace("_", "-")
        if not NAME.match(job_name):
            raise ValueError(f"bad job name {job_name!r}: use lower-case letters, digits, - and _")
        spec = JobSpec(
            name=job_name,
            schedule=schedule,
            timezone=timezone,
            settings=settings,
            policy=options,
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
