"""cronsole's engine: scheduling, running and recording batch jobs. No UI imports here."""

from __future__ import annotations

__version__ = "0.1.0"

from .api import job  # noqa: E402
from .context import JobContext, Outcome  # noqa: E402
from .jobsettings import NoSettings  # noqa: E402
from .models import CatchUp, Item, Overlap, Watermark  # noqa: E402
from .scheduling.triggers import Fire, ScheduleError, fire_times  # noqa: E402

__all__ = [
    "CatchUp",
    "Fire",
    "Item",
    "JobContext",
    "NoSettings",
    "Outcome",
    "Overlap",
    "ScheduleError",
    "Watermark",
    "fire_times",
    "job",
]
