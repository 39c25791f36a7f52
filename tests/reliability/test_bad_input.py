"""Bad input: files changing under the ingest, hot WAL files, odd API payloads, commands at
bad moments, and odd entities and tenants (B2, B6–B9)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.commands import Commands
from cronsole.core.models import CommandStatus, ItemStatus, Record, RunStatus
from cronsole.core.scheduling.host import Host
from tests.conftest import T0, Workspace, eventually, frozen, run_job
from tests.core.test_host import JOBS as HOST_JOBS
from tests.core.test_host import gate
from tests.procs import cli, query


def ingest(ws: Workspace, clock: FrozenClock):  # type: ignore[no-untyped-def]
    ws.configure("""
[jobs.invoice-ingest]
[jobs.invoice-ingest.settings]
period = "2026-03"
batch_size = 100
settle_seconds = 10
""")
    return ws.engine(clock, builtin=True)


def put(ws: Workspace, name: str, data: bytes, age: float) -> Path:
    path = ws.root / "storage/invoices/Acme-123456789/2026/03/invoice" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = T0.timestamp() - age
    os.utime(path, (stamp, stamp))
    return path


@pytest.mark.scenario("B2")
def test_replaced_empty_and_growing_files_follow_the_policy(
    workspace: Workspace, clock: FrozenClock
) -> None:
    engine = ingest(workspace, clock)
    put(workspace, "empty.pdf", b"", age=100)
    replaced = put(workspace, "replaced.pdf", b"%PDF first", age=90)
    growing = put(workspace, "growing.pdf", b"%PDF part", age=1)  # written a moment ago
    first = run_job(engine, "invoice-ingest")
    assert (first.status, first.processed, first.failed) == (RunStatus.SUCCEEDED, 2, 0)
    docs = {r.key.rsplit("/", 1)[1]: r.data for r in engine.store.query_records("document")}
    assert docs["empty.pdf"]["size"] == 0 and docs["empty.pdf"]["status"] == "ok"
    assert "growing.pdf" not in docs  # still being written: the next tick takes it

    replaced.write_bytes(b"%PDF second version")
    os.utime(replaced, (T0.timestamp() + 5, T0.timestamp() + 5))
    growing.write_bytes(b"%PDF part and the rest")
    os.utime(growing, (T0.timestamp() + 10, T0.timestamp() + 10))
    clock.advance(60)
    second = run_job(engine, "invoice-ingest")
    assert (second.status, second.processed, second.failed) == (RunStatus.SUCCEEDED, 2, 0)
    docs = {r.key.rsplit("/", 1)[1]: r.data for r in engine.store.query_records("document")}
    assert docs["replaced.pdf"]["size"] == len(b"%PDF second version")  # updated, not doubled
    assert docs["growing.pdf"]["size"] == len(b"%PDF part and the rest")
    assert len(docs) == 3


WRITE_AND_DIE = """
import os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from cronsole.core.models import Record
from cronsole.core.store.sqlite import SQLiteStore

store = SQLiteStore.open(Path(sys.argv[1]))
store.put_records("kept", [Record(f"k{n}", {"n": n}) for n in range(50)], datetime.now(UTC))
os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint: the commits are in the -wal
"""


@pytest.mark.sqlite_only
@pytest.mark.scenario("B6")
def test_a_hot_wal_from_a_crash_recovers_normally(workspace: Workspace) -> None:
    workspace.configure("")
    script = workspace.root / "die.py"
    script.write_text(textwrap.dedent(WRITE_AND_DIE))
    died = subprocess.run([sys.executable, str(script), str(workspace.db)], timeout=60)
    assert died.returncode == -9
    wal = workspace.db.with_name(workspace.db.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # a hot journal, left by the crash
    result = cli(workspace, "runs")
    assert result.returncode == 0, result.stderr
    assert query(workspace, "SELECT count(*) FROM records WHERE collection = 'kept'") == [(50,)]
    assert query(workspace, "PRAGMA integrity_check") == [("ok",)]


@pytest.fixture
def host(workspace: Workspace, clock: FrozenClock) -> Host:
    workspace.write(HOST_JOBS)
    return workspace.host(clock)


@pytest.mark.scenario("B8")
def test_commands_at_bad_moments_are_idempotent_audited_and_never_concurrent(host: Host) -> None:
    commands, store = host.commands, host.engine.store
    resumed = commands.resume("blocking")  # not paused
    assert resumed.status is CommandStatus.APPLIED and "not paused" in str(resumed.result)

    host.claim_ticks("blocking", [T0])  # a run in flight
    frozen(host.engine).advance(1)
    fired = commands.fire("blocking")
    commands.apply_pending()
    fired = store.get_command(fired.id) or fired
    changed = commands.set("window", {})  # a settings change while a run is in flight
    assert changed.status is CommandStatus.APPLIED
    running = [r for r in store.list_runs(job="blocking") if r.status is RunStatus.RUNNING]
    assert len(running) == 1, "two runs of one job at once"

    # the console and the CLI pause the same job at the same moment
    other = Commands(host.engine)
    threads = [
        threading.Thread(target=c.pause, args=("blocking",), kwargs={"reason": who})
        for c, who in ((commands, "console"), (other, "cli"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    pauses = [c for c in store.list_commands(job="blocking") if c.action == "pause"]
    assert len(pauses) == 2 and all(c.status is CommandStatus.APPLIED for c in pauses)
    assert store.job_state("blocking").paused  # type: ignore[union-attr]
    gate().set()
    host.engine.runner.wait_idle(5)
    actions = [c.action for c in store.list_commands(job="blocking")]
    assert sorted(actions) == ["fire", "pause", "pause", "resume"]  # every one audited
    assert fired.status is CommandStatus.APPLIED
    assert "a run of blocking is in flight" in str(fired.result)  # queued behind it
    statuses = sorted(r.status.value for r in store.list_runs(job="blocking"))
    assert statuses == ["queued", "succeeded"]  # the queued one waits out the pause


@pytest.mark.scenario("B9")
def test_vanished_entities_empty_and_odd_tenants_are_handled(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.configure("[jobs.nightly-entities]\n[jobs.tenant-queue]\n[jobs.tenant-health]\n")
    engine = workspace.engine(clock, builtin=True)
    days = [(T0 - timedelta(days=d)).date().isoformat() for d in range(1, 4)]
    for symbol in ("AAA", "GONE"):
        engine.store.put_records("entity", [Record(symbol, {})], T0)
        engine.store.put_records(
            "price",
            [
                Record(f"{symbol}|{d}", {"close": 5 + n}, grp=symbol, at=d)
                for n, d in enumerate(days)
            ],
            T0,
        )
    engine.store.put_records("entity", [Record("AAA", {"again": True})], T0)  # a duplicate
    first = run_job(engine, "nightly-entities", at=T0)
    assert (first.processed, first.failed) == (2, 0)
    with engine.store._db.write() as c:  # type: ignore[attr-defined]  # GONE vanishes
        c.execute("DELETE FROM records WHERE collection = 'entity' AND key = 'GONE'")
    engine.store.enqueue(
        "nightly-entities", f"{days[0]}:GONE", T0, payload={"symbol": "GONE", "day": days[0]}
    )
    again = run_job(engine, "nightly-entities", at=T0 + timedelta(days=1))
    assert again.status is RunStatus.PARTIAL
    [gone] = engine.store.list_items(job="nightly-entities", status=ItemStatus.FAILED)
    assert gone.error == "LookupError: entity 'GONE' no longer exists"

    case = {"suite": "s", "cases": [{"expected": 1, "output": 1}]}
    odd = ["", " ", "x" * 500, "名前", "a'; DROP TABLE items; --", "%_\\", "tab\there"]
    for n, tenant in enumerate(odd):
        engine.store.enqueue("tenant-queue", f"odd-{n}", T0, tenant=tenant, payload=case)
    run = run_job(engine, "tenant-queue")
    assert run.status is RunStatus.SUCCEEDED and run.processed == len(odd)
    assert set(run.summary["tenants"]) == set(odd)
    health = run_job(engine, "tenant-health")
    assert health.status is RunStatus.SUCCEEDED
    assert run_job(engine, "tenant-queue").processed == 0  # empty tenants: nothing to do
    eventually(lambda: engine.store.tenant_counts("tenant-queue") != [])
