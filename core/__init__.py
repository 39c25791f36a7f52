"""cronsole's engine: scheduling, running and recording batch jobs. No UI imports here.

This package's top level is the public job API: everything a job module needs, and all that
the built-in jobs (`cronsole.jobs`) and the examples use (an import contract holds them to it).
The README's "Writing jobs" section documents it; each name's docstring says the rest.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import job  # noqa: E402
from .context import ActionContext, JobContext, Outcome, Records, error_text  # noqa: E402
from .durations import format_duration, parse_duration  # noqa: E402
from .errors import CronsoleError, JobFailed, StaleClaim, UsageError  # noqa: E402
from .files import FoundFile, atomic_write, remove_leftovers, safe_join, walk_files  # noqa: E402
from .health import Health, TenantHealth, Thresholds  # noqa: E402
from .jobsettings import NoSettings, SettingError  # noqa: E402
from .models import CatchUp, Item, Overlap, Record, RunReason, Watermark  # noqa: E402
from .periods import check_period, current_period  # noqa: E402
from .policy import Policy  # noqa: E402
from .registry import load_function  # noqa: E402
from .retry import Retryable, backoff, retry_after, with_retries  # noqa: E402
from .scheduling.triggers import Fire, Schedule, ScheduleError, fire_times  # noqa: E402
from .text import path_key, printable_path  # noqa: E402
from .windows import floor_to, plan_windows  # noqa: E402

__all__ = [
    # defining a job, and what its function and its actions receive
    "job",
    "JobContext",
    "ActionContext",
    "Outcome",
    "Records",
    "NoSettings",
    "SettingError",
    "Policy",
    "Overlap",
    "CatchUp",
    # what the ledger, the records and the runs hold
    "Item",
    "Watermark",
    "Record",
    "RunReason",
    # failures: raise these, or read them
    "CronsoleError",
    "UsageError",
    "StaleClaim",
    "JobFailed",
    "error_text",
    # schedules
    "Schedule",
    "ScheduleError",
    "Fire",
    "fire_times",
    # durations as operators write them ("30s", "5m", "2h")
    "parse_duration",
    "format_duration",
    # files, written and found safely; file names as keys and as shown
    "atomic_write",
    "safe_join",
    "walk_files",
    "FoundFile",
    "remove_leftovers",
    "path_key",
    "printable_path",
    # processing periods and time windows
    "check_period",
    "current_period",
    "plan_windows",
    "floor_to",
    # tenants' health, graded by JobContext.grade_tenants
    "Health",
    "TenantHealth",
    "Thresholds",
    # retries of remote calls (the same backoff as items)
    "Retryable",
    "with_retries",
    "retry_after",
    "backoff",
    # a user's hook named in settings ("module:function", the module a name or a .py path)
    "load_function",
]
