"""Figure 9: `cronsole --no-tui` under a standing backlog: 200,000 pending items over 1,000
tenants, drained by a job every 5 s (up to 2,000 items a run, 5 per tenant) while a feeder job
enqueues 2,000 new ones every 5 s, so the backlog stays where it started and the ledger grows
all the time; a health job grades the 1,000 tenants every 30 s. Sampled every 10 s: the
process's RSS, the SQLite WAL's size and the pending count. 30 minutes (`--quick`: 3
minutes); one round."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

from .common import report
from .memory import rss_mib, slope_per_10min

TENANTS, BACKLOG, PER_RUN = 1_000, 200_000, 2_000
SAMPLE_SECONDS = 10
JOBS = f"""\
import itertools
from cronsole.core import JobContext, Thresholds, job

COUNTER = itertools.count()


@job(schedule="every 5s")
def drain(ctx: JobContext) -> None:
    ctx.items.drain(lambda item: None, limit={PER_RUN}, per_tenant=5)


@job(schedule="every 5s")
def feed(ctx: JobContext) -> None:
    start = next(COUNTER) * {PER_RUN}
    fed = range(start, start + {PER_RUN})
    ctx.enqueue_for("drain", ((f"fed-{{n}}", None, f"tenant-{{n % {TENANTS}:04d}}") for n in fed))


@job(schedule="every 30s")
def health(ctx: JobContext) -> None:
    ctx.grade_tenants("drain", Thresholds())
"""


def workspace(root: Path) -> Path:
    (root / "soakjobs.py").write_text(JOBS)
    config = root / "cronsole.toml"
    config.write_text(
        textwrap.dedent("""\
        [cronsole]
        database = "state/cronsole.db"
        modules = ["soakjobs.py"]
        """)
    )
    from cronsole.core.config import load_settings
    from cronsole.core.engine import build_engine

    engine = build_engine(load_settings(str(config), env={}))
    store, now = engine.store, engine.clock.now()
    for start in range(0, BACKLOG, 10_000):
        store.enqueue_many(
            "drain",
            [
                (f"seed-{n}", None, f"tenant-{n % TENANTS:04d}")
                for n in range(start, start + 10_000)
            ],
            now,
        )
    engine.close()
    return config


def pending(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT sum(pending) FROM tenant_counts").fetchone()[0] or 0)


def run(repeat: int, quick: bool) -> None:
    minutes = 3.0 if quick else 30.0
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as folder:
        root = Path(folder)
        config = workspace(root)
        db = root / "state" / "cronsole.db"
        wal = db.with_name("cronsole.db-wal")
        stderr = (root / "stderr.log").open("wb")
        proc = subprocess.Popen(
            ["cronsole", "--no-tui", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        samples: list[tuple[float, float, float, int]] = []  # s, RSS MiB, WAL MiB, pending
        start = time.monotonic()
        try:
            while (elapsed := time.monotonic() - start) < minutes * 60:
                if proc.poll() is not None:
                    tail = (root / "stderr.log").read_text()[-2000:]
                    raise RuntimeError(f"cronsole exited {proc.returncode}: {tail}")
                size = wal.stat().st_size / 2**20 if wal.exists() else 0.0
                samples.append((elapsed, rss_mib(proc.pid), size, pending(db)))
                time.sleep(SAMPLE_SECONDS)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            stderr.close()
        with sqlite3.connect(db) as conn:
            done = conn.execute("SELECT count(*) FROM items WHERE status = 'done'").fetchone()[0]
        db_mib = db.stat().st_size / 2**20
    warm = [(t, m) for t, m, _, _ in samples if t >= minutes * 20]  # the last two thirds
    figures = {
        "minutes": minutes,
        "samples": len(samples),
        "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "unset (glibc default)"),
        "RSS MiB after 1 minute": round(next(m for t, m, _, _ in samples if t >= 60), 1),
        "RSS MiB at the end": round(samples[-1][1], 1),
        "RSS MiB max": round(max(m for _, m, _, _ in samples), 1),
        "RSS growth MiB per 10 min, last two thirds": round(slope_per_10min(warm), 2),
        "WAL MiB max": round(max(w for _, _, w, _ in samples), 1),
        "WAL MiB max at minute": round(max(samples, key=lambda s: s[2])[0] / 60, 1),
        "WAL MiB at the end": round(samples[-1][2], 1),
        "pending at the start, min, at the end": [
            samples[0][3],
            min(p for *_, p in samples),
            samples[-1][3],
        ],
        "items done": done,
        "database MiB at the end": round(db_mib, 1),
        "every 5 minutes (RSS, WAL)": [
            (round(m, 1), round(w, 1)) for t, m, w, _ in samples if int(t) % 300 < SAMPLE_SECONDS
        ],
    }
    report(
        "soak",
        figures,
        {"RSS": "flat after warm-up and < 150 MiB", "WAL": "< 64 MiB"},
        [
            "one round",
            f"{BACKLOG:,} pending items over {TENANTS:,} tenants at the start;"
            f" every 5 s a run drains up to {PER_RUN:,} (5 per tenant) and a feeder adds"
            f" {PER_RUN:,}",
        ],
    )
