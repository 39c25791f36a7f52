"""The jobs of tests/core/test_run_timeout.py (written into each test's workspace as wsjobs.py)."""

from __future__ import annotations

import threading

from cronsole.core import JobContext, job

RELEASE = threading.Event()
REFUSED: list[object] = []


def hang(ctx):
    """Claims two items, then hangs (ignoring cancel) until the test lets it report."""
    ctx.items.enqueue_many([("a", None, "t"), ("b", None, "t")])
    items = ctx.items.claim(2)
    RELEASE.wait(30)
    for item in items:
        try:
            ctx.items.complete(item, "late")
        except Exception as exc:
            REFUSED.append(type(exc).__name__)


@job(schedule="0 * * * *", timeout="1s")
def limited(ctx: JobContext) -> None:
    """Hangs past its timeout."""
    hang(ctx)


@job(schedule="0 * * * *")
def deaf(ctx: JobContext) -> None:
    """Hangs and does not listen to cancel."""
    hang(ctx)
