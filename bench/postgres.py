"""Figure 5 on PostgreSQL: items claimed, processed (no-op) and completed per second through
the public job API by 1 and by 3 nodes (processes) on one database, 100 tenants with a
per-tenant limit; next to procrastinate's workers on the same server. Items are enqueued
before the clock starts (timed separately), so the figure is the work side of the queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from .common import report, stats

SERVER = os.environ.get("CRONSOLE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
JOB = """
from cronsole.core import JobContext, job

@job(schedule="0 0 1 1 *")
def bench_drain(ctx: JobContext) -> dict:
    done = 0
    while True:
        out = ctx.items.drain(lambda item: None, limit=500, per_tenant=25)
        if not out.done and not out.failed:
            return {"done": done}
        done += len(out.done)
"""


@contextmanager
def schema() -> Iterator[str]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{SERVER}{'&' if '?' in SERVER else '?'}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def cronsole_worker(folder: str, start_at: float) -> None:
    """One node: wait for the common start, drain until nothing is left, print the end."""
    from cronsole.core.config import load_settings
    from cronsole.core.engine import build_engine
    from cronsole.core.models import Overlap, RunReason, RunStatus

    engine = build_engine(load_settings(str(Path(folder) / "cronsole.toml"), env={}))
    now = datetime.now(UTC)
    run = engine.store.insert_run(
        "bench-drain",
        now.replace(microsecond=os.getpid() % 999_999),
        RunReason.MANUAL,
        engine.node_id,
        Overlap.ALLOW,
        now,
    )
    assert run is not None
    time.sleep(max(0.0, start_at - time.time()))
    final = engine.runner.execute(engine.jobs["bench-drain"], run)
    assert final.status is RunStatus.SUCCEEDED, final.error
    print(json.dumps({"end": time.time(), "done": final.summary["done"]}))
    engine.close()


def cronsole_run(nodes: int, items: int) -> tuple[float, float, list[int]]:
    """(enqueue items/s, work items/s, items each node did) for `nodes` processes on a fresh
    schema."""
    from cronsole.core.store import open_store

    with schema() as url, tempfile.TemporaryDirectory(prefix="bench-pg-") as folder:
        (Path(folder) / "benchjob.py").write_text(textwrap.dedent(JOB))
        (Path(folder) / "cronsole.toml").write_text(
            f'[cronsole]\ndatabase = "{url}"\nmodules = ["benchjob.py"]\n'
        )
        store = open_store(url)
        started = time.perf_counter()
        for first in range(0, items, 1000):
            store.enqueue_many(
                "bench-drain",
                [
                    (f"k{n}", {"n": n}, f"t{n % 100:02d}")
                    for n in range(first, min(items, first + 1000))
                ],
                datetime.now(UTC),
            )
        enqueue_rate = items / (time.perf_counter() - started)
        store.close()
        start_at = time.time() + 3.0  # every node imported and connected by then
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from bench.postgres import cronsole_worker;"
                    " cronsole_worker(sys.argv[1], float(sys.argv[2]))",
                    folder,
                    str(start_at),
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).parent.parent,
            )
            for _ in range(nodes)
        ]
        outputs = [
            json.loads((w.communicate(timeout=600)[0] or "{}").strip().splitlines()[-1])
            for w in workers
        ]
        assert sum(o["done"] for o in outputs) == items, outputs
        rate = items / (max(o["end"] for o in outputs) - start_at)
        return enqueue_rate, rate, sorted(o["done"] for o in outputs)


def procrastinate_run(workers: int, items: int) -> tuple[float, float]:
    """(defer items/s, work items/s) with procrastinate's worker, `workers` concurrent."""
    import procrastinate

    with schema() as url:
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
        done: list[int] = []

        @app.task(name="noop", queue="bench")
        def noop(n: int) -> None:
            done.append(n)

        with app.open():
            app.schema_manager.apply_schema()
            started = time.perf_counter()
            for first in range(0, items, 1000):
                noop.batch_defer(*({"n": n} for n in range(first, min(items, first + 1000))))
            defer_rate = items / (time.perf_counter() - started)
            started = time.perf_counter()
            app.run_worker(
                queues=["bench"],
                wait=False,
                concurrency=workers,
                install_signal_handlers=False,
                listen_notify=False,
            )
            seconds = time.perf_counter() - started
        assert len(done) == items, len(done)
        return defer_rate, items / seconds


def run(repeat: int, quick: bool) -> None:
    # 3,000: procrastinate managed about 40 jobs/s here with 10,000 queued (190/s with 1,000)
    items = 1_000 if quick else 3_000
    rates: dict[str, list[float]] = {
        k: []
        for k in (
            "cronsole 1 node",
            "cronsole 3 nodes",
            "procrastinate 1 worker",
            "procrastinate 3 concurrent",
            "cronsole enqueue",
            "procrastinate defer",
        )
    }
    shares: list[list[int]] = []  # items each of the 3 nodes did, per round
    for _ in range(repeat):  # interleaved, so a noisy moment hits all alike
        enqueue, one, _ = cronsole_run(1, items)
        _, three, share = cronsole_run(3, items)
        shares.append(share)
        defer, p_one = procrastinate_run(1, items)
        _, p_three = procrastinate_run(3, items)
        for key, value in (
            ("cronsole 1 node", one),
            ("cronsole 3 nodes", three),
            ("procrastinate 1 worker", p_one),
            ("procrastinate 3 concurrent", p_three),
            ("cronsole enqueue", enqueue),
            ("procrastinate defer", defer),
        ):
            rates[key].append(value)
    figures: dict[str, object] = {"items": items, "server": SERVER.rsplit("@", 1)[-1]}
    figures.update({f"{k} items/s": stats(v) for k, v in rates.items()})
    figures["cronsole 1 node / procrastinate 1 worker"] = stats(
        [
            c / p
            for c, p in zip(rates["cronsole 1 node"], rates["procrastinate 1 worker"], strict=True)
        ]
    )
    figures["cronsole 3 nodes: items each node did, per round (fewest first)"] = shares
    figures["cronsole 3 nodes / 1 node"] = stats(
        [t / o for t, o in zip(rates["cronsole 3 nodes"], rates["cronsole 1 node"], strict=True)]
    )
    report(
        "postgres",
        figures,
        {},
        notes=[
            "items are enqueued before the clock starts; the work figures are claim, no-op "
            "handler and completion",
            "cronsole nodes are separate processes; procrastinate's 3 are one worker with "
            "concurrency 3 (its own model), both against the same local server",
        ],
    )
