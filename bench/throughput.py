"""Figure 5: items enqueued, claimed, processed (no-op) and completed per second in one process,
100 tenants with a per-tenant limit, through the public job API; side by side with huey's
SqliteHuey and with raw batched SQLite (`UPDATE ... RETURNING`), all at synchronous=NORMAL in
WAL mode on the same disk."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from .common import report, stats, timed

JOB = """
import os
from cronsole.core import JobContext, job

N = int(os.environ["BENCH_ITEMS"])

@job(schedule="0 0 1 1 *", commit_every=int(os.environ["BENCH_COMMIT_EVERY"]))
def bench_drain(ctx: JobContext) -> dict:
    for start in range(0, N, 1000):  # enqueued in batches of 1,000, one transaction each
        ctx.items.enqueue_many((f"k{n}", {"n": n}, f"t{n % 100:02d}")
                               for n in range(start, min(N, start + 1000)))
    done = 0
    while True:
        out = ctx.items.drain(lambda item: None, limit=1000, per_tenant=50)
        if not out.done and not out.failed:
            return {"done": done}
        done += len(out.done)
"""


def cronsole_run(folder: Path, items: int, commit_every: int = 1) -> float:
    """Items per second; `commit_every` outcomes per transaction (1: each alone)."""
    from cronsole.core.config import load_settings
    from cronsole.core.engine import build_engine
    from cronsole.core.models import Overlap, RunReason, RunStatus

    (folder / "benchjob.py").write_text(textwrap.dedent(JOB))
    config = folder / "cronsole.toml"
    config.write_text('[cronsole]\ndatabase = "state/cronsole.db"\nmodules = ["benchjob.py"]\n')
    os.environ["BENCH_ITEMS"] = str(items)
    os.environ["BENCH_COMMIT_EVERY"] = str(commit_every)
    engine = build_engine(load_settings(str(config), env={}))
    now = datetime.now(UTC)
    run = engine.store.insert_run(
        "bench-drain", now, RunReason.MANUAL, engine.node_id, Overlap.ALLOW, now
    )
    assert run is not None
    finished = []
    seconds = timed(lambda: finished.append(engine.runner.execute(engine.jobs["bench-drain"], run)))
    assert finished[0].status is RunStatus.SUCCEEDED, finished[0].error
    assert finished[0].summary["done"] == items, finished[0].summary
    engine.close()
    return items / seconds


def huey_run(folder: Path, items: int) -> float:
    from huey import SqliteHuey
    from huey.storage import SqliteStorage

    class NormalSync(SqliteStorage):  # type: ignore[misc]
        def _create_connection(self) -> sqlite3.Connection:
            conn = super()._create_connection()
            conn.execute("PRAGMA synchronous = NORMAL")
            return conn

    huey = SqliteHuey(filename=str(folder / "huey.db"), storage_class=NormalSync)

    @huey.task()
    def noop(n: int) -> int:
        return n

    def work() -> None:
        for n in range(items):
            noop(n)
        done = 0
        while (task := huey.dequeue()) is not None:
            huey.execute(task)
            done += 1
        assert done == items

    return items / timed(work)


def raw_run(folder: Path, items: int, batch: int = 100) -> float:
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, tenant TEXT, key TEXT UNIQUE,"
        " status TEXT, result TEXT)"
    )
    conn.execute("CREATE INDEX pending ON items (status, id)")

    def work() -> None:
        for start in range(0, items, batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO items (tenant, key, status) VALUES (?, ?, 'pending')",
                [(f"t{n % 100:02d}", f"k{n}") for n in range(start, start + batch)],
            )
            conn.execute("COMMIT")
        done = 0
        while True:
            conn.execute("BEGIN IMMEDIATE")
            ids = [
                r[0]
                for r in conn.execute(
                    "UPDATE items SET status = 'claimed' WHERE id IN (SELECT id FROM items"
                    " WHERE status = 'pending' ORDER BY id LIMIT ?) RETURNING id",
                    (batch,),
                )
            ]
            conn.execute("COMMIT")
            if not ids:
                break
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "UPDATE items SET status = 'done', result = 'null' WHERE id = ?",
                [(i,) for i in ids],
            )
            conn.execute("COMMIT")
            done += len(ids)
        assert done == items

    rate = items / timed(work)
    conn.close()
    return rate


GROUP = 100  # outcomes per transaction in the group-commit series


def run(repeat: int, quick: bool) -> None:
    items = 2_000 if quick else 20_000
    small, large = (500, 6_000) if quick else (5_000, 60_000)  # items per run: stays flat?
    rates: dict[str, list[float]] = {"cronsole": [], "grouped": [], "huey": [], "raw_sqlite": []}
    by_size: dict[int, list[float]] = {small: [], large: []}
    for _ in range(repeat):  # interleaved, so a noisy moment hits all three alike
        for name, fn in (
            ("cronsole", cronsole_run),
            ("grouped", lambda folder, n: cronsole_run(folder, n, GROUP)),
            ("huey", huey_run),
            ("raw_sqlite", raw_run),
        ):
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as folder:
                rates[name].append(fn(Path(folder), items))
        for size in by_size:
            with tempfile.TemporaryDirectory(prefix="bench-cronsole-") as folder:
                by_size[size].append(cronsole_run(Path(folder), size))
    vs_huey = [c / h for c, h in zip(rates["cronsole"], rates["huey"], strict=True)]
    grouped_vs_huey = [c / h for c, h in zip(rates["grouped"], rates["huey"], strict=True)]
    vs_raw = [c / r for c, r in zip(rates["cronsole"], rates["raw_sqlite"], strict=True)]
    flat = [b / s for b, s in zip(by_size[large], by_size[small], strict=True)]
    report(
        "throughput",
        {
            "items": items,
            "cronsole items/s": stats(rates["cronsole"]),
            "huey items/s": stats(rates["huey"]),
            "raw batched SQLite items/s": stats(rates["raw_sqlite"]),
            "cronsole / huey": stats(vs_huey),
            f"cronsole commit_every={GROUP} items/s": stats(rates["grouped"]),
            f"cronsole commit_every={GROUP} / huey": stats(grouped_vs_huey),
            "cronsole / raw batched SQLite": stats(vs_raw),
            f"cronsole items/s, {small:,} items in one run": stats(by_size[small]),
            f"cronsole items/s, {large:,} items in one run": stats(by_size[large]),
            f"cronsole {large:,} / {small:,} items per run": stats(flat),
        },
        {
            "cronsole / huey": ">= 1.5",
            f"cronsole commit_every={GROUP} / huey": ">= 3",
            "cronsole / raw batched SQLite": ">= 0.4",
            f"cronsole {large:,} / {small:,} items per run": ">= 0.95",
        },
    )
