"""The jobs of tests/reliability/test_nodes.py (written into each test's workspace as wsjobs.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cronsole.core import JobContext, job

SIDE = Path(os.environ["SIDE_EFFECTS"])


def mark(text: str) -> None:
    with SIDE.open("a") as handle:  # one short append: whole lines from every process
        handle.write(text + "\n")


@job(schedule="every 1s")
def tick(ctx: JobContext) -> None:
    """Records each tick it runs."""
    mark(f"tick {ctx.scheduled_for.isoformat()} {os.getpid()}")


@job(schedule="every 1s", overlap="allow")
def work(ctx: JobContext) -> None:
    """Runs overlap across nodes, so their claims meet: eight items, two per tenant."""

    def handle(item):
        time.sleep(0.05)
        mark(f"work {item.key} {os.getpid()}")

    ctx.items.drain(handle, limit=8, per_tenant=2)
