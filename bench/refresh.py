"""Figure 6: the console's periodic snapshot read (jobs, tenants with health, running and recent
runs, new log records) against 10k, 100k and 1M items and runs of history: it should cost the
same at every size, because every query walks an index instead of scanning history."""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .common import report, stats

JOBS, TENANTS = 100, 100


def fill(folder: Path, rows: int) -> Path:
    lines = ["from cronsole.core import JobContext, job"]
    for n in range(JOBS):
        lines += [
            f'@job(name="job-{n:03d}", schedule="0 * * * *")',
            f"def job_{n}(ctx: JobContext) -> None:",
            "    pass",
        ]
    (folder / "jobs100.py").write_text("\n".join(lines) + "\n")
    config = folder / "cronsole.toml"
    config.write_text('[cronsole]\ndatabase = "state/cronsole.db"\nmodules = ["jobs100.py"]\n')
    from cronsole.core.config import load_settings
    from cronsole.core.engine import build_engine

    build_engine(load_settings(str(config), env={})).close()  # schema and job rows
    from cronsole.core.clock import iso

    now = datetime.now(UTC)
    stamp = iso(now)
    second = timedelta(seconds=1)
    conn = sqlite3.connect(folder / "state" / "cronsole.db")
    with conn:
        conn.executemany(
            "INSERT INTO runs (job, reason, status, scheduled_for, created_at, started_at,"
            " finished_at, processed) VALUES (?, 'schedule', 'succeeded', ?, ?, ?, ?, 10)",
            (
                (f"job-{n % JOBS:03d}", iso(tick), iso(tick), iso(tick), iso(tick + second))
                for n in reversed(range(rows))  # oldest first: a job's last run is its newest
                for tick in [now - timedelta(minutes=n)]
            ),
        )
        conn.execute(
            "UPDATE jobs SET last_run_id = (SELECT max(id) FROM runs WHERE runs.job = jobs.name)"
        )
        conn.executemany(
            "INSERT INTO items (job, tenant, key, status, created_at, updated_at)"
            " VALUES ('job-000', ?, ?, ?, ?, ?)",
            (
                (
                    f"tenant-{n % TENANTS:03d}",
                    f"k{n}",
                    "pending" if n % 50 == 0 else "done",
                    stamp,
                    stamp,
                )
                for n in range(rows)
            ),
        )
        conn.execute(
            "INSERT INTO tenant_counts (job, queue, tenant, pending, done)"
            " SELECT job, queue, tenant, sum(status = 'pending'), sum(status = 'done')"
            " FROM items GROUP BY job, queue, tenant"
        )
    conn.close()
    return config


def measure(config: Path, reads: int) -> list[float]:
    from cronsole.core.config import load_settings
    from cronsole.core.engine import build_engine
    from cronsole.core.snapshot import take_snapshot

    engine = build_engine(load_settings(str(config), env={}))
    take_snapshot(engine)  # warm the page cache once, as a running console has
    last_log = 0
    times = []
    for _ in range(reads):
        start = time.perf_counter()
        snapshot = take_snapshot(engine, after_log=last_log)
        times.append((time.perf_counter() - start) * 1000)
        assert len(snapshot.jobs) == JOBS and len(snapshot.tenants) == TENANTS
    engine.close()
    return times


def run(repeat: int, quick: bool) -> None:
    sizes = [1_000, 10_000] if quick else [10_000, 100_000, 1_000_000]
    figures: dict[str, object] = {}
    medians: dict[int, list[float]] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-refresh-") as folder:
            config = fill(Path(folder), size)
            medians[size] = [statistics.median(measure(config, 20)) for _ in range(repeat)]
        figures[f"snapshot ms at {size:,} items and runs"] = stats(medians[size])
    small, large = sizes[0], sizes[-1]
    figures[f"{large:,} / {small:,}"] = stats(
        [b / a for a, b in zip(medians[small], medians[large], strict=True)]
    )
    report(
        "refresh",
        figures,
        {f"snapshot ms at {large:,}": "< 10", f"{large:,} / {small:,}": "about 1 (flat)"},
        [f"{JOBS} jobs, {TENANTS} tenants; 20 reads per round, median per round"],
    )
