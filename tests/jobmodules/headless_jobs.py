"""The jobs of tests/e2e/test_headless.py (written into each test's workspace as wsjobs.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cronsole.core import JobContext, job

SIDE = Path(os.environ["SIDE_EFFECTS"])


def mark(text: str) -> None:
    with SIDE.open("a") as handle:
        handle.write(text + "\n")


@job(schedule="every 1s")
def tick(ctx: JobContext) -> None:
    """Records each tick it runs."""
    mark(f"tick {ctx.scheduled_for.isoformat()} {os.getpid()}")


@job(schedule="0 0 1 1 *")
def slow(ctx: JobContext) -> None:
    """Forty items of 0.2 s, stopping between items when asked."""
    for n in range(40):
        ctx.items.enqueue(f"item-{n}", payload=n)

    def handle(item):
        time.sleep(0.2)
        mark(f"slow {item.key}")

    ctx.items.drain(handle, limit=40)


@job(schedule="0 0 1 1 *")
def stubborn(ctx: JobContext) -> None:
    """Ignores cancellation."""
    mark("stubborn started")
    time.sleep(60)
