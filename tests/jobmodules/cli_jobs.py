"""The jobs of tests/tui/test_cli.py (written into each test's workspace as wsjobs.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cronsole.core import JobContext, job


@dataclass(frozen=True)
class Opts:
    batch_size: int = field(default=10, metadata={"min": 1})


@job(schedule="30 2 * * *", timezone="Europe/Sofia", settings=Opts)
def nightly(ctx: JobContext[Opts]) -> dict:
    """Counts to batch_size."""
    ctx.run_items(range(ctx.settings.batch_size), lambda n: n)
    return {"counted": ctx.settings.batch_size}


@job(schedule="every 1h")
def broken(ctx: JobContext) -> None:
    """Always fails."""
    raise RuntimeError("\x1b]0;owned\x07 remote down")
