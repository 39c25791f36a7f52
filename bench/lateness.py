"""Figure 4: scheduler lateness (the moment a job function starts − its scheduled time), with
the tick claimed in the database, for 100 jobs due in the same second and 1,000 jobs on
staggered intervals; side by side with a bare APScheduler BackgroundScheduler running no-op
jobs on the same intervals."""

from __future__ import annotations

import statistics
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from .common import report, stats

ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)  # cronsole's `every` ticks count from here


def intervals(case: str) -> list[int]:
    return [2] * 100 if case == "100 at once" else [3 + n % 7 for n in range(1000)]


def cronsole_lateness(case: str, seconds: float) -> list[float]:
    from cronsole.core.config import load_settings
    from cronsole.core.engine import build_engine
    from cronsole.core.scheduling.host import Host

    lines = ["import time", "from cronsole.core import JobContext, job", "SAMPLES = []"]
    for n, every in enumerate(intervals(case)):
        lines += [
            f'@job(name="j{n}", schedule="every {every}s")',
            f"def j{n}(ctx: JobContext) -> None:",
            "    SAMPLES.append(time.time() - ctx.scheduled_for.timestamp())",
        ]
    with tempfile.TemporaryDirectory(prefix="bench-lateness-") as folder:
        root = Path(folder)
        (root / "latejobs.py").write_text("\n".join(lines) + "\n")
        (root / "cronsole.toml").write_text(
            textwrap.dedent("""\
            [cronsole]
            database = "state/cronsole.db"
            modules = ["latejobs.py"]
            """)
        )
        host = Host(build_engine(load_settings(str(root / "cronsole.toml"), env={})))
        host.start()
        module = sys.modules["cronsole_user.latejobs"]
        module.SAMPLES.clear()
        time.sleep(seconds)
        host.stop(grace=5)
        host.engine.close()
        samples = list(module.SAMPLES)
        del sys.modules["cronsole_user.latejobs"]
    return samples


def apscheduler_lateness(case: str, seconds: float) -> list[float]:
    from apscheduler.schedulers.background import BackgroundScheduler

    samples: list[float] = []

    def make(every: int):  # type: ignore[no-untyped-def]
        def noop() -> None:
            now = time.time()
            anchor = ANCHOR.timestamp()
            samples.append(now - (anchor + (now - anchor) // every * every))

        return noop

    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 1000},
    )
    for n, every in enumerate(intervals(case)):
        scheduler.add_job(make(every), "interval", seconds=every, start_date=ANCHOR, id=f"j{n}")
    scheduler.start()
    time.sleep(seconds)
    scheduler.shutdown(wait=True)
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(repeat: int, quick: bool) -> None:
    seconds = 5.0 if quick else 12.0
    figures: dict[str, object] = {"seconds per round": seconds}
    for case in ("100 at once", "1,000 staggered"):
        p99: dict[str, list[float]] = {"cronsole": [], "apscheduler": []}
        for _ in range(repeat):
            for name, fn in (
                ("cronsole", cronsole_lateness),
                ("apscheduler", apscheduler_lateness),
            ):
                samples = [s * 1000 for s in fn(case, seconds)]
                p99[name].append(percentile(samples, 0.99))
                figures[f"{case}: {name} round {len(p99[name])} ms"] = {
                    "samples": len(samples),
                    "p50": round(statistics.median(samples), 2),
                    "p99": round(percentile(samples, 0.99), 2),
                    "max": round(max(samples), 2),
                }
        figures[f"{case}: cronsole p99 ms"] = stats(p99["cronsole"])
        figures[f"{case}: apscheduler p99 ms"] = stats(p99["apscheduler"])
        figures[f"{case}: p99 ratio"] = stats(
            [c / a for c, a in zip(p99["cronsole"], p99["apscheduler"], strict=True)]
        )
    report(
        "lateness",
        figures,
        {"p99 ratio": "<= 1.5 x bare APScheduler", "100 at once: cronsole p99": "< 100 ms"},
    )
