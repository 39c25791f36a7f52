"""The jobs of tests/core/test_job_api.py (written into each test's workspace as wsjobs.py)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cronsole.core import JobContext, Watermark, job


@dataclass(frozen=True)
class Batch:
    batch_size: int = field(default=10, metadata={"min": 1, "max": 1000})
    period: str = "2025-01"
    fail_keys: str = ""
    step: float = 0.0

    def __post_init__(self) -> None:
        year, _, month = self.period.partition("-")
        if not (year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
            raise ValueError(f"period must be YYYY-MM, got {self.period!r}")


@job(
    schedule="*/5 * * * *",
    settings=Batch,
    time_budget=10,
    resets_watermark=("period",),
    retry_base=30,
)
def ledger(ctx: JobContext[Batch]) -> dict:
    """Drains the ledger in batches."""
    return _drain(ctx, seen=None)


SEEN: list[int] = []  # grouped jobs: outcomes committed when each item started


def _drain(ctx: JobContext[Batch], seen: list[int] | None) -> dict:
    failing = set(ctx.settings.fail_keys.split(","))

    def handle(item):
        ctx.clock.advance(ctx.settings.step)  # type: ignore[attr-defined]  # the test freezes it
        if seen is not None:
            run = ctx._store.get_run(ctx.run.id)
            assert run is not None
            seen.append(run.processed + run.failed)
        if item.key in failing:
            raise RuntimeError(f"cannot process {item.key}")
        return {"key": item.key}

    out = ctx.items.drain(
        handle,
        limit=ctx.settings.batch_size,
        watermark=lambda item: Watermark(item.payload, item.key),
    )
    return {"done": len(out.done), "failed": len(out.failed), "left": len(out.left)}


@job(schedule="every 1h", settings=Batch, commit_every=4, time_budget=60)
def grouped(ctx: JobContext[Batch]) -> dict:
    """Outcomes committed four at a time."""
    return _drain(ctx, SEEN)


@job(schedule="every 1h", settings=Batch, commit_every="3s", time_budget=60)
def windowed(ctx: JobContext[Batch]) -> dict:
    """Outcomes committed in windows of three seconds."""
    return _drain(ctx, SEEN)


PEAK = {"now": 0, "max": 0}
LOCK = threading.Lock()


@job(schedule="0 2 * * *", timezone="Europe/Sofia")
def nightly(ctx: JobContext) -> None:
    """Five at a time."""

    def work(n):
        with LOCK:
            PEAK["now"] += 1
            PEAK["max"] = max(PEAK["max"], PEAK["now"])
        time.sleep(0.02)
        with LOCK:
            PEAK["now"] -= 1
        if n % 10 == 3:
            raise ValueError(f"entity {n} has no prices")

    ctx.run_items(range(40), work, concurrency=5)


def _down(depth: int) -> None:
    if depth == 0:
        raise RuntimeError("the remote end is down")
    _down(depth - 1)


@job(schedule="every 1h")
def broken(ctx: JobContext) -> None:
    """Always fails, far down the stack (as a library call would)."""
    _down(12)


@job(schedule="every 1h")
def timed(ctx: JobContext) -> dict[str, float]:
    """Items that take 1, 2 and 6 seconds on the test's frozen clock."""
    ctx.run_items([1, 2, 6], ctx.clock.advance)  # type: ignore[attr-defined]
    return {"estimate": ctx.item_estimate(), "floored": ctx.item_estimate(5.0)}
