"""The jobs of tests/core/test_host.py (written into each test's workspace as wsjobs.py)."""

from __future__ import annotations

import threading

from cronsole.core import JobContext, job

GATE = threading.Event()


@job(schedule="*/5 * * * *")
def quick(ctx: JobContext) -> None:
    """Does nothing, quickly."""


@job(schedule="every 1m")
def blocking(ctx: JobContext) -> None:
    """Waits for the test (or a cancel) before it ends."""
    while not GATE.wait(0.01):
        if ctx.cancelled:
            return


@job(schedule="0 * * * *", catch_up="all", catch_up_window="3h")
def hourly(ctx: JobContext) -> None:
    """Backfills hours."""


@job(schedule="0 * * * *", catch_up="none")
def forgetful(ctx: JobContext) -> None:
    """Never catches up."""


@job(schedule="every 1m", overlap="queue")
def patient(ctx: JobContext) -> None:
    """Queues one run behind the one in flight."""
    while not GATE.wait(0.01):
        pass


@job(schedule="0 * * * *")
def window(ctx: JobContext) -> dict:
    """Processes the hour it stands for; fails items whose key says so."""
    for n in range(3):
        ctx.items.enqueue(f"{ctx.scheduled_for:%H}-{n}")

    def handle(item):
        if item.key.endswith("-1") and not ctx.state.get("healed"):
            raise ValueError("bad row")

    ctx.items.drain(handle, limit=10)
    return {"hour": ctx.scheduled_for.hour}
