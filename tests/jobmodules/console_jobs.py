"""The jobs of tests/tui/test_console.py (written into each test's workspace as wsjobs.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cronsole.core import JobContext, job

GATE = threading.Event()


@dataclass(frozen=True)
class Period:
    period: str = "2025-01"


@job(schedule="*/5 * * * *", settings=Period, resets_watermark=("period",))
def ingest(ctx: JobContext[Period]) -> None:
    """Waits for the test, so it is in flight."""
    GATE.wait(10)


@job(schedule="0 2 * * *", timezone="Europe/Sofia")
def nightly(ctx: JobContext) -> None:
    """Does nothing."""
