"""Progress of a run as operators read it: numbers first, with rate and ETA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import Run


@dataclass(frozen=True)
class Progress:
    processed: int
    failed: int
    total: int | None
    rate: float | None  # items (done or failed) per second since the run started
    eta_seconds: float | None  # None when the total or the rate is unknown
    left: int


def progress(run: Run, now: datetime) -> Progress:
    handled = run.processed + run.failed
    end = run.finished_at or now
    elapsed = (end - run.started_at).total_seconds() if run.started_at else 0.0
    rate = handled / elapsed if elapsed > 0 and handled else None
    eta = None
    if rate and run.total is not None and not run.status.finished:
        eta = max(0, run.total - handled) / rate
    return Progress(run.processed, run.failed, run.total, rate, eta, run.left)
