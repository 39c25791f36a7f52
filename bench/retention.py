"""Figure 7: archiving 500,000 old runs in chunks, as the retention job does (a chunk, then a
50 ms pause). Each chunk is one write transaction, so its duration is how long the write lock
is held; meanwhile a thread claims a tick every 100 ms (a small write, as the scheduler's claim
is) and we record how long each claim took, waiting included."""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .common import report, stats

PAUSE = 0.05  # RetentionSettings.pause


def fill(db: Path, rows: int) -> None:
    from cronsole.core.clock import iso
    from cronsole.core.store.sqlite import SQLiteStore

    SQLiteStore.open(db).close()
    old = iso(datetime.now(UTC) - timedelta(days=200))
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO runs (job, reason, status, scheduled_for, created_at, finished_at,"
            " summary) VALUES ('old', 'schedule', 'succeeded', ?, ?, ?, '{\"files\": 12}')",
            ((f"2000-{n:09d}", old, old) for n in range(rows)),
        )
    conn.close()


def one_round(rows: int, chunk: int) -> tuple[list[float], list[float], int]:
    from cronsole.core.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory(prefix="bench-retention-") as folder:
        db = Path(folder) / "state" / "cronsole.db"
        fill(db, rows)
        store = SQLiteStore.open(db)
        before = datetime.now(UTC) - timedelta(days=90)
        done = threading.Event()
        claims: list[float] = []

        def ticker() -> None:
            n = 0
            while not done.is_set():
                start = time.perf_counter()
                store.record_tick("ticker", datetime.now(UTC) + timedelta(seconds=n))
                claims.append((time.perf_counter() - start) * 1000)
                n += 1
                time.sleep(0.1)

        thread = threading.Thread(target=ticker)
        thread.start()
        chunks: list[float] = []
        moved = 0
        while True:
            start = time.perf_counter()
            n = store.archive_chunk("runs", before, chunk, datetime.now(UTC))
            chunks.append((time.perf_counter() - start) * 1000)
            moved += n
            if n == 0:
                break
            time.sleep(PAUSE)
        done.set()
        thread.join()
        store.close()
        return chunks, claims, moved


def run(repeat: int, quick: bool) -> None:
    rows, chunk = (50_000, 1000) if quick else (500_000, 1000)
    longest, p99_chunk, worst_claim, totals = [], [], [], []
    for _ in range(repeat):
        chunks, claims, moved = one_round(rows, chunk)
        assert moved == rows
        longest.append(max(chunks))
        p99_chunk.append(sorted(chunks)[int(0.99 * len(chunks))])
        worst_claim.append(max(claims))
        totals.append(sum(chunks) / 1000)
    report(
        "retention",
        {
            "rows": rows,
            "chunk size": chunk,
            "longest chunk (write lock held) ms": stats(longest),
            "p99 chunk ms": stats(p99_chunk),
            "longest tick-claim write meanwhile ms": stats(worst_claim),
            "whole archive s": stats(totals),
        },
        {"longest chunk": "< 200 ms", "tick claims": "on time (a claim waits at most one chunk)"},
    )
