"""The Store contract, run against both backends (the `store` and `address` fixtures run each
test on a SQLite file and on a PostgreSQL schema), and each backend's refusals."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from cronsole.core.clock import FrozenClock, iso
from cronsole.core.errors import StaleClaim, StoreUnusable
from cronsole.core.models import (
    CommandStatus,
    ItemStatus,
    Node,
    Overlap,
    RunReason,
    RunStatus,
    Settled,
    Watermark,
)
from cronsole.core.store import Store, open_store
from cronsole.core.store.sqlite import SQLiteStore
from tests.conftest import T0


def test_a_tick_is_claimed_once(store: Store) -> None:
    first = store.insert_run("job", T0, RunReason.SCHEDULE, "a", Overlap.ALLOW, T0)
    second = store.insert_run("job", T0, RunReason.SCHEDULE, "b", Overlap.ALLOW, T0)
    assert first is not None and first.status is RunStatus.RUNNING and first.node == "a"
    assert second is None
    assert len(store.list_runs(job="job")) == 1


@pytest.mark.scenario("F9")
def test_ticks_claimed_from_many_threads_yield_one_run_each(address: str) -> None:
    open_store(address).close()
    stores = [open_store(address) for _ in range(4)]
    ticks = [T0 + timedelta(seconds=i) for i in range(30)]
    wins: list[int] = []

    def claim(store: Store, node: str) -> None:
        for tick in ticks:
            if store.insert_run("job", tick, RunReason.SCHEDULE, node, Overlap.ALLOW, T0):
                wins.append(1)

    threads = [threading.Thread(target=claim, args=(s, f"n{i}")) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 30
    assert len(stores[0].list_runs(job="job", limit=100)) == 30
    for s in stores:
        s.close()


def test_overlap_skip_records_the_skipped_tick_with_its_reason(store: Store) -> None:
    running = store.insert_run("job", T0, RunReason.SCHEDULE, "a", Overlap.SKIP, T0)
    skipped = store.insert_run(
        "job", T0 + timedelta(minutes=1), RunReason.SCHEDULE, "a", Overlap.SKIP, T0
    )
    assert running is not None and skipped is not None
    assert skipped.status is RunStatus.SKIPPED
    assert skipped.error == f"overlap: run #{running.id} is still running"


def test_overlap_queue_keeps_one_queued_run(store: Store) -> None:
    store.insert_run("job", T0, RunReason.SCHEDULE, "a", Overlap.QUEUE, T0)
    queued = store.insert_run(
        "job", T0 + timedelta(minutes=1), RunReason.SCHEDULE, "a", Overlap.QUEUE, T0
    )
    third = store.insert_run(
        "job", T0 + timedelta(minutes=2), RunReason.SCHEDULE, "a", Overlap.QUEUE, T0
    )
    assert queued is not None and queued.status is RunStatus.QUEUED
    assert third is not None and third.status is RunStatus.SKIPPED
    assert store.start_queued_run("job", "a", T0, allow=False) is None  # one still runs


def test_finish_run_is_refused_after_abandonment(store: Store) -> None:
    run = store.insert_run("job", T0, RunReason.SCHEDULE, "dead", Overlap.SKIP, T0)
    assert run is not None
    assert store.abandon_runs(["dead"], T0, "abandoned") == [run.id]
    assert not store.finish_run(run.id, RunStatus.SUCCEEDED, T0)
    assert store.get_run(run.id).status is RunStatus.ABANDONED  # type: ignore[union-attr]


def test_enqueue_is_idempotent_by_key(store: Store) -> None:
    assert store.enqueue("job", "k1", T0, payload={"a": 1}, tenant="t")
    assert not store.enqueue("job", "k1", T0, payload={"a": 2}, tenant="t")
    item = store.get_item("job", "k1")
    assert item is not None and item.payload == {"a": 1}
    assert [c.pending for c in store.tenant_counts("job")] == [1]


def test_claim_takes_at_most_per_tenant_from_each_tenant(store: Store) -> None:
    for i in range(50):
        store.enqueue("job", f"big-{i}", T0, tenant="big")
    for tenant in ("a", "b", "c"):
        for i in range(3):
            store.enqueue("job", f"{tenant}-{i}", T0, tenant=tenant)
    claimed = store.claim_items("job", "n", None, T0, limit=100, per_tenant=5)
    by_tenant = {t: sum(1 for i in claimed if i.tenant == t) for t in ("big", "a", "b", "c")}
    assert by_tenant == {"big": 5, "a": 3, "b": 3, "c": 3}
    counts = {c.tenant: (c.pending, c.claimed) for c in store.tenant_counts("job")}
    assert counts["big"] == (45, 5)


def test_claim_rotates_tenants_when_the_limit_is_small(store: Store) -> None:
    for tenant in ("a", "b", "c"):
        for i in range(4):
            store.enqueue("job", f"{tenant}-{i}", T0, tenant=tenant)
    first = store.claim_items("job", "n", None, T0, limit=2, per_tenant=1)
    second = store.claim_items("job", "n", None, T0 + timedelta(seconds=1), limit=2, per_tenant=1)
    assert {i.tenant for i in first} == {"a", "b"}
    assert {i.tenant for i in second} == {"c", "a"}


def test_complete_commits_outcome_progress_and_watermark_together(store: Store) -> None:
    run = store.insert_run("job", T0, RunReason.SCHEDULE, "n", Overlap.SKIP, T0)
    assert run is not None
    store.enqueue("job", "k", T0)
    [item] = store.claim_items("job", "n", run.id, T0, limit=1)
    store.complete_item(item, T0, result={"ok": True}, watermark=Watermark("2026-01-01", "k"))
    assert store.get_item("job", "k").status is ItemStatus.DONE  # type: ignore[union-attr]
    assert store.get_run(run.id).processed == 1  # type: ignore[union-attr]
    assert store.get_watermark("job") == Watermark("2026-01-01", "k")


def test_watermark_never_moves_back(store: Store) -> None:
    store.advance_watermark("job", Watermark("2026-01-02", "a"), T0)
    store.advance_watermark("job", Watermark("2026-01-01", "z"), T0)
    store.advance_watermark("job", Watermark("2026-01-02", "0"), T0)
    assert store.get_watermark("job") == Watermark("2026-01-02", "a")


@pytest.mark.scenario("F10")
def test_a_late_completion_after_a_sweep_is_refused(store: Store) -> None:
    store.enqueue("job", "k", T0)
    [item] = store.claim_items("job", "old-owner", None, T0, limit=1)
    swept = store.sweep_stale_items(T0 + timedelta(minutes=31), T0 + timedelta(minutes=31))
    assert [i.key for i in swept] == ["k"]
    assert store.sweep_stale_items(T0 + timedelta(hours=1), T0 + timedelta(hours=1)) == []
    with pytest.raises(StaleClaim):
        store.complete_item(item, T0 + timedelta(minutes=32))
    assert store.get_item("job", "k").status is ItemStatus.FAILED  # type: ignore[union-attr]


def test_a_group_of_outcomes_commits_together_and_refuses_only_what_was_taken_over(
    store: Store,
) -> None:
    """Group commit: done and failed outcomes of two tenants, a start mark and the watermark
    in one transaction; the one claim swept meanwhile is refused alone, and every counter
    equals a recount of the items."""
    run = store.insert_run("job", T0, RunReason.SCHEDULE, "n", Overlap.SKIP, T0)
    assert run is not None
    store.enqueue("job", "k1", T0, tenant="b")
    [swept] = store.claim_items("job", "old", run.id, T0, limit=1)  # its node will go quiet
    for n in (0, 2, 3, 4, 5):
        store.enqueue("job", f"k{n}", T0, tenant="ab"[n % 2], max_attempts=1 if n == 3 else 5)
    later = T0 + timedelta(minutes=31)
    items = store.claim_items("job", "n", run.id, later, limit=5, start=4)
    by_key = {item.key: item for item in items}
    assert [i.key for i in store.sweep_stale_items(later, later)] == ["k1"]
    retry = T0 + timedelta(minutes=40)
    refused = store.settle_items(
        [
            Settled(by_key["k4"], later, {"n": 4}),
            Settled(by_key["k0"], later, {"n": 0}),
            Settled(swept, later, {"n": 1}),
            Settled(by_key["k2"], later, None, "ValueError: two", retry, "Traceback …"),
            Settled(by_key["k3"], later, None, "ValueError: three", retry),
        ],
        later,
        Watermark("2026-01-04", "k4"),
        [by_key["k5"]],
    )
    assert refused == [swept]
    status = {i.key: (i.status, i.result, i.error) for i in store.list_items("job")}
    assert status == {
        "k0": (ItemStatus.DONE, {"n": 0}, None),
        "k1": (ItemStatus.FAILED, None, f"stale: no heartbeat since {iso(T0)}"),
        "k2": (ItemStatus.FAILED, None, "ValueError: two"),
        "k3": (ItemStatus.DEAD, None, "ValueError: three"),
        "k4": (ItemStatus.DONE, {"n": 4}, None),
        "k5": (ItemStatus.CLAIMED, None, None),
    }
    failed = store.get_item("job", "k2")
    assert failed is not None and failed.not_before == retry
    assert [t.traceback for t in store.item_attempts(failed.id)] == ["Traceback …"]
    finished = store.get_run(run.id)
    assert finished is not None and (finished.processed, finished.failed) == (2, 2)
    assert store.get_watermark("job") == Watermark("2026-01-04", "k4")
    # every counter equals a recount of the items themselves
    counted = Counter((i.tenant, i.status.value) for i in store.list_items("job"))
    for counts in store.tenant_counts("job"):
        for state in ("pending", "claimed", "done", "failed", "dead"):
            assert getattr(counts, state) == counted[(counts.tenant, state)], (counts, state)
    # the start mark landed: a crash now charges k5's attempt instead of giving it back
    assert store.release_run_claims(run.id, later, "released") == 1
    assert store.get_item("job", "k5").status is ItemStatus.FAILED  # type: ignore[union-attr]


def test_a_group_refuses_a_done_outcome_whose_item_was_claimed_again(store: Store) -> None:
    """The item is `claimed` again, by another node: only the claim token tells the claims
    apart, for the done outcomes a group settles in one statement as for one by one."""
    for key in ("k1", "k2"):
        store.enqueue("job", key, T0)
    old = {i.key: i for i in store.claim_items("job", "old", None, T0, limit=2)}
    assert store.release_claims(["old"], T0, "node gone") == 2  # never started: given back
    new = {i.key: i for i in store.claim_items("job", "new", None, T0, limit=1)}
    assert list(new) == ["k1"]
    [k2] = store.claim_items("job", "old", None, T0, limit=1)
    refused = store.settle_items([Settled(old["k1"], T0, "late"), Settled(k2, T0, "ok")], T0)
    assert refused == [old["k1"]]
    k1 = store.get_item("job", "k1")
    assert k1 is not None and (k1.status, k1.claim_token) == (
        ItemStatus.CLAIMED,
        new["k1"].claim_token,
    )
    assert store.settle_items([Settled(new["k1"], T0, "mine")], T0) == []
    done = {i.key: (i.status, i.result) for i in store.list_items("job")}
    assert done == {"k1": (ItemStatus.DONE, "mine"), "k2": (ItemStatus.DONE, "ok")}


def test_an_incident_opens_once_counts_while_open_and_closes_once(
    store: Store, address: str
) -> None:
    """Two processes seeing the same failure at once: exactly one of them opens it."""
    from concurrent.futures import ThreadPoolExecutor

    from cronsole.core.store import open_store

    other = open_store(address)
    try:
        with ThreadPoolExecutor(8) as pool:
            opened = list(
                pool.map(
                    lambda n: (store if n % 2 else other).open_incident(
                        "backup:failed", "backup", "failed", f"run #{n} failed", T0
                    )[1],
                    range(8),
                )
            )
    finally:
        other.close()
    assert opened.count(True) == 1
    [incident] = store.list_incidents(open_only=True)
    assert (incident.occurrences, incident.kind, incident.status) == (8, "failed", "open")
    store.incident_said(incident.id, T0)
    assert store.close_incidents("backup", ["stuck"], T0) == []  # another kind: left open
    [closed] = store.close_incidents("backup", ["failed", "silent"], T0 + timedelta(hours=1))
    assert (closed.id, closed.status, closed.said_at) == (incident.id, "closed", T0)
    assert store.close_incidents("backup", ["failed"], T0) == []  # closed once
    again, new = store.open_incident("backup:failed", "backup", "failed", "again", T0)
    assert new and again.id != incident.id and again.occurrences == 1
    assert store.close_incident("backup:stuck", T0) is None  # none open under that key
    shut = store.close_incident("backup:failed", T0)
    assert shut is not None and shut.id == again.id and shut.status == "closed"
    assert store.close_incident("backup:failed", T0) is None
    store.open_incident("backup:failed", "backup", "failed", "third", T0)
    assert [i.id for i in store.list_incidents()][1:] == [again.id, incident.id]


def test_failures_retry_until_attempts_run_out(store: Store) -> None:
    store.enqueue("job", "k", T0, max_attempts=2)
    [item] = store.claim_items("job", "n", None, T0, limit=1)
    status = store.fail_item(item, T0, "boom", retry_at=T0 + timedelta(seconds=30))
    assert status is ItemStatus.FAILED
    assert store.claim_items("job", "n", None, T0 + timedelta(seconds=29), limit=1) == []
    [again] = store.claim_items("job", "n", None, T0 + timedelta(seconds=30), limit=1)
    assert again.attempts == 2
    assert store.fail_item(again, T0, "boom", T0) is ItemStatus.DEAD
    assert store.retry_items("job", T0) == 1
    revived = store.get_item("job", "k")
    assert revived is not None and revived.status is ItemStatus.PENDING
    assert (revived.attempts, revived.max_attempts) == (2, 3)  # cumulative; one more allowed
    assert [(c.pending, c.dead, c.failed) for c in store.tenant_counts("job")] == [(1, 0, 0)]


def test_an_items_attempts_and_a_tenants_items_are_listed(store: Store) -> None:
    """What the console's item and tenant screens read: every failed try of one item, in
    order, and one tenant's items by state."""
    store.enqueue("job", "a", T0, tenant="acme", max_attempts=3)
    for n in (1, 2):
        [item] = store.claim_items("job", "n", None, T0 + timedelta(minutes=n), limit=1)
        at = T0 + timedelta(minutes=n)
        store.fail_item(item, at, f"boom {n}", at, traceback=f"Traceback …\nValueError: boom {n}")
    store.enqueue("job", "b", T0, tenant="globex")
    store.enqueue("job", "c", T0, tenant="acme")
    failing = store.get_item("job", "a")
    assert failing is not None
    tries = store.item_attempts(failing.id)
    assert [(t.attempt, t.error, t.outcome, t.traceback) for t in tries] == [
        (1, "boom 1", ItemStatus.FAILED, "Traceback …\nValueError: boom 1"),
        (2, "boom 2", ItemStatus.FAILED, "Traceback …\nValueError: boom 2"),
    ]
    assert [i.key for i in store.list_items("job", tenant="acme")] == ["a", "c"]
    failed = store.list_items("job", tenant="acme", status=ItemStatus.FAILED)
    assert [i.key for i in failed] == ["a"]
    assert store.list_items("job", tenant="initech") == []


def test_claims_of_dead_nodes_are_released(store: Store) -> None:
    store.enqueue("job", "k", T0)
    store.claim_items("job", "dead", None, T0, limit=1)
    assert store.release_claims(["dead"], T0, "released") == 1
    assert len(store.claim_items("job", "alive", None, T0, limit=1)) == 1


def test_a_command_is_claimed_by_exactly_one_process(store: Store) -> None:
    command = store.add_command("fire", "op@host", "cli", T0, job="job")
    assert store.pending_commands()[0].id == command.id
    assert store.claim_command(command.id, "a", T0)
    assert not store.claim_command(command.id, "b", T0)
    done = store.finish_command(command.id, CommandStatus.APPLIED, "ok", T0, run_id=7)
    assert done.applied_by == "a" and done.run_id == 7 and store.pending_commands() == []


def test_pause_state_and_settings_round_trip(store: Store) -> None:
    store.set_paused("job", True, T0, "maintenance", T0 + timedelta(hours=1), "op")
    state = store.job_state("job")
    assert state is not None and state.paused and state.pause_reason == "maintenance"
    assert state.pause_until == T0 + timedelta(hours=1)
    store.set_state("job", "watermark", {"at": "x", "key": "y"}, T0)
    store.set_job_settings("job", {"period": "2025-02"}, T0, clear_state=("watermark",))
    assert store.get_watermark("job") is None
    assert store.job_state("job").settings == {"period": "2025-02"}  # type: ignore[union-attr]
    assert store.set_paused("job", False, T0) and not store.set_paused("job", False, T0)


def test_heartbeat_reports_cancel_requests(store: Store, clock: FrozenClock) -> None:
    store.register_node(Node("n", "host", "h", 1, T0, T0, "0"))
    run = store.insert_run("job", T0, RunReason.SCHEDULE, "n", Overlap.SKIP, T0)
    assert run is not None
    store.request_cancel(run.id, T0)
    assert store.heartbeat("n", T0) == [run.id]


def test_logs_are_bounded(store: Store) -> None:
    store.add_logs([(T0, "INFO", "job", None, "x", f"line {i}") for i in range(50)])
    assert store.prune_logs(10) == 40
    assert [e.message for e in store.recent_logs(limit=3)] == ["line 47", "line 48", "line 49"]


@pytest.mark.scenario("S6")
def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o002)
    try:
        opened = SQLiteStore.open(tmp_path / "state" / "c.db")
        opened.enqueue("job", "k", T0)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "state").iterdir()}
        opened.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert modes == {name: 0o600 for name in modes} and "c.db" in modes


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_wal_shrinks_back_after_a_burst_of_writes(tmp_path: Path) -> None:
    """SQLite reuses its WAL file but never shrinks it on its own: one burst (200,000 items
    enqueued, say) left it at its high-water mark for good (issue 19: 153 MB)."""
    from cronsole.core.models import Record
    from cronsole.core.store.sqlite.connection import WAL_LIMIT

    opened = SQLiteStore.open(tmp_path / "state" / "c.db")
    try:
        burst = [
            Record(f"r{n}", {"blob": hashlib.sha256(b"%d" % n).hexdigest() * 1500})
            for n in range(400)
        ]  # about 38 MB, in one transaction
        opened.put_records("bulk", burst, T0)
        wal = tmp_path / "state" / "c.db-wal"
        assert wal.stat().st_size > 2 * WAL_LIMIT
        opened.set_state("job", "after", 1, T0)  # the next write starts the WAL over
        assert wal.stat().st_size <= WAL_LIMIT
    finally:
        opened.close()


@pytest.mark.parametrize("content", [b"not a database at all" * 10, b"", b"SQLite format 3\x00"])
@pytest.mark.scenario("B6")
def test_non_databases_are_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.db"
    path.write_bytes(content + b"x" * 200 if content else b"\x00" * 300)
    before = _digest(path)
    with pytest.raises(StoreUnusable):
        SQLiteStore.open(path)
    assert _digest(path) == before


@pytest.mark.scenario("B6")
def test_a_foreign_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreUnusable, match="not a cronsole database"):
        SQLiteStore.open(path)
    assert _digest(path) == before


@pytest.mark.scenario("B6")
def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    SQLiteStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
        " VALUES ('cronsole', '9999_from_the_future', 'x')"
    )
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreUnusable, match="newer cronsole"):
        SQLiteStore.open(path)
    assert _digest(path) == before


@pytest.mark.scenario("B6")
def test_a_truncated_database_is_refused_untouched(tmp_path: Path) -> None:
    path, _ = _whole_then_cut(tmp_path)
    before = _digest(path)
    with pytest.raises(StoreUnusable):
        SQLiteStore.open(path)
    assert _digest(path) == before


def _whole_then_cut(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "c.db"
    opened = SQLiteStore.open(path)
    for i in range(300):
        opened.enqueue("job", f"k{i}", T0, payload="x" * 200)
    opened.close()
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path, whole


def test_a_file_being_checkpointed_is_waited_for_not_called_truncated(tmp_path: Path) -> None:
    """A checkpoint writes page 1 (the header with the new size) before the pages after it,
    with the -wal file beside it; another process opening then sees a short file for a moment.
    That was 'the database file is truncated' (exit 4) for one of several processes starting
    together on a new database."""
    path, whole = _whole_then_cut(tmp_path)
    wal = path.with_name(path.name + "-wal")
    wal.write_bytes(b"")  # what a live writer leaves beside the file while it checkpoints

    def finish_checkpoint() -> None:
        time.sleep(0.3)
        with path.open("r+b") as handle:  # the pages after page 1, in place, as SQLite does
            handle.seek(len(whole) // 2)
            handle.write(whole[len(whole) // 2 :])
        wal.unlink()

    writer = threading.Thread(target=finish_checkpoint)
    writer.start()
    SQLiteStore.open(path).close()
    writer.join()
    assert SQLiteStore.open(path).get_item("job", "k299") is not None


def test_a_short_file_with_a_wal_that_never_completes_is_refused(tmp_path: Path) -> None:
    path, _ = _whole_then_cut(tmp_path)
    path.with_name(path.name + "-wal").write_bytes(b"")
    before = _digest(path)
    with pytest.raises(StoreUnusable, match="truncated"):
        SQLiteStore.open(path)
    assert _digest(path) == before


def test_reopening_keeps_data_and_schema(address: str) -> None:
    first = open_store(address)
    first.enqueue("job", "k", T0)
    first.close()
    second = open_store(address)
    assert second.get_item("job", "k") is not None and second.integrity_ok()
    second.close()


def test_records_upsert_and_range_queries(store: Store) -> None:
    from cronsole.core.models import Record

    store.put_records(
        "price",
        [
            Record(f"AAA|2026-01-{d:02d}", {"close": d}, grp="AAA", at=f"2026-01-{d:02d}")
            for d in range(1, 11)
        ],
        T0,
    )
    store.put_records(
        "price", [Record("AAA|2026-01-05", {"close": 50}, grp="AAA", at="2026-01-05")], T0
    )
    got = store.query_records("price", grp="AAA", at_from="2026-01-04", at_to="2026-01-07")
    assert [r.data["close"] for r in got] == [4, 50, 6]
    newest = store.query_records("price", grp="AAA", limit=2, newest_first=True)
    assert [r.at for r in newest] == ["2026-01-10", "2026-01-09"]
    assert store.record_groups("price", "2026-01-09") == ["AAA"]
    assert store.count_records("price") == 10


def test_sweep_records_moves_each_stuck_record_once(store: Store) -> None:
    from cronsole.core.models import Record

    store.put_records(
        "call",
        [
            Record("old", {}, at="2026-01-01T00:00", status="processing"),
            Record("new", {}, at="2026-01-01T00:50", status="processing"),
            Record("ok", {}, at="2026-01-01T00:00", status="done"),
        ],
        T0,
    )
    moved = store.sweep_records(
        "call", "processing", "2026-01-01T00:30", "failed", T0, lambda r: {"reason": "timeout"}
    )
    assert [r.key for r in moved] == ["old"]
    assert (
        store.sweep_records("call", "processing", "2026-01-01T00:30", "failed", T0, lambda r: {})
        == []
    )
    assert store.get_record("call", "old").data == {"reason": "timeout"}  # type: ignore


def test_archive_moves_old_history_in_chunks_and_resumes(store: Store) -> None:
    for i in range(25):
        run = store.insert_run(
            "job", T0 + timedelta(minutes=i), RunReason.SCHEDULE, "n", Overlap.ALLOW, T0
        )
        assert run is not None
        store.finish_run(run.id, RunStatus.SUCCEEDED, T0 + timedelta(minutes=i))
    cutoff = T0 + timedelta(minutes=20)
    assert store.archive_chunk("runs", cutoff, 8, T0) == 8
    assert store.archive_chunk("runs", cutoff, 8, T0) == 8
    assert store.archive_chunk("runs", cutoff, 8, T0) == 4
    assert store.archive_chunk("runs", cutoff, 8, T0) == 0
    assert store.count_archived("runs") == 20 and len(store.list_runs(limit=100)) == 5


def test_archiving_done_items_keeps_tenant_counts_right(store: Store) -> None:
    for i in range(3):
        store.enqueue("job", f"k{i}", T0, tenant="t")
    for item in store.claim_items("job", "n", None, T0, limit=2):
        store.complete_item(item, T0)
    assert store.archive_chunk("items", T0 + timedelta(days=1), 100, T0) == 2
    [counts] = store.tenant_counts("job")
    assert (counts.pending, counts.done) == (1, 0)


def test_health_reads_failures_and_oldest_pending_per_tenant(store: Store) -> None:
    store.enqueue("job", "a1", T0, tenant="a")
    store.enqueue("job", "a2", T0 + timedelta(minutes=5), tenant="a")
    store.enqueue("job", "b1", T0, tenant="b")
    [item] = store.claim_items("job", "n", None, T0, limit=1, per_tenant=1)
    store.fail_item(item, T0 + timedelta(minutes=1), "boom", None)
    [done] = store.claim_items("job", "n", None, T0, limit=1, per_tenant=1)
    store.complete_item(done, T0 + timedelta(minutes=1))
    assert store.outcomes_since("job", T0) == {"a": (0, 1), "b": (1, 0)}
    assert store.outcomes_since("job", T0 + timedelta(minutes=2)) == {}
    assert store.oldest_pending("job") == {"a": T0 + timedelta(minutes=5)}


def test_a_command_being_applied_reads_back(store: Store) -> None:
    command = store.add_command("fire", "op", "cli", T0, job="job")
    assert store.claim_command(command.id, "host", T0)
    seen = store.get_command(command.id)
    assert seen is not None and seen.status is CommandStatus.APPLYING


def test_threads_that_end_do_not_keep_their_connections(store: Store) -> None:
    """Every run works in fresh threads; their connections must not pile up (file handles)."""
    import os
    import threading

    def work() -> None:
        store.enqueue("job", f"k-{threading.get_ident()}-{time.monotonic_ns()}", T0)

    before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(os.listdir("/proc/self/fd")) - before < 10
    assert len(store.list_items(job="job", limit=1000)) == 200


def test_enqueue_many_adds_new_keys_once_and_counts_them(store: Store) -> None:
    store.enqueue("job", "a", T0, tenant="t1")
    added = store.enqueue_many(
        "job", [("a", 1, "t1"), ("b", 2, "t1"), ("c", 3, "t2"), ("b", 9, "t1")], T0
    )
    assert added == 2
    assert store.get_item("job", "b").payload == 2  # type: ignore[union-attr]
    assert {c.tenant: c.pending for c in store.tenant_counts("job")} == {"t1": 2, "t2": 1}


OPEN_AT = """
import sys, time
from pathlib import Path
from cronsole.core.store.sqlite import SQLiteStore
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all at the same moment
SQLiteStore.open(Path(sys.argv[1])).close()
"""


@pytest.mark.slow
def test_processes_starting_together_on_a_new_database_all_open_it(tmp_path: Path) -> None:
    """Each opener migrates in turn; none is told 'database is locked' (that was exit 4)."""
    import subprocess
    import sys

    for attempt in range(8):
        path = tmp_path / f"try-{attempt}" / "cronsole.db"
        at = str(time.time() + 1.0)
        openers = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(path), at], stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        results = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in openers]
        assert all(code == 0 for code, _ in results), results


def test_text_that_is_not_utf8_is_stored_escaped(store: Store) -> None:
    """Arguments and file names can carry bytes that are not UTF-8 (lone surrogates in
    Python); any write stores them as \\udcNN escapes instead of failing."""
    assert store.enqueue("job", "scan-\udcff.pdf", T0, payload={"path": "scan-\udcff.pdf"})
    [item] = store.claim_items("job", "n", None, T0, limit=1)
    store.fail_item(item, T0, "ValueError: cannot read scan-\udcff.pdf", None)
    assert store.enqueue_many("job", [("b\udcfe", None, "t\udcfd")], T0) == 1
    found = store.get_item("job", "scan-\\udcff.pdf")
    assert found is not None and found.error == "ValueError: cannot read scan-\\udcff.pdf"
    assert found.payload == {"path": "scan-\udcff.pdf"}  # JSON keeps the real name
    assert {c.tenant for c in store.tenant_counts("job")} == {"", "t\\udcfd"}


def test_postgres_claims_skip_what_another_node_has_locked(pg_address: str) -> None:
    """A node in the middle of claiming a tenant does not hold the others up: they take the
    next tenant at once (FOR UPDATE SKIP LOCKED) instead of waiting for its commit."""
    import psycopg

    store = open_store(pg_address)
    for tenant in ("t1", "t2"):
        for n in range(3):
            store.enqueue("job", f"{tenant}-{n}", T0, tenant=tenant)
    with psycopg.connect(pg_address) as other:  # a transaction, as a claiming node holds one
        other.execute("SELECT * FROM tenant_counts WHERE tenant = 't1' FOR UPDATE")
        other.execute("SELECT * FROM items WHERE key = 't2-0' FOR UPDATE")
        claimed = store.claim_items("job", "n2", None, T0, limit=10)
        assert sorted(i.key for i in claimed) == ["t2-1", "t2-2"]
    assert sorted(i.key for i in store.claim_items("job", "n3", None, T0, limit=10)) == [
        "t1-0",
        "t1-1",
        "t1-2",
        "t2-0",
    ]
    store.close()


def test_postgres_refuses_a_foreign_or_newer_schema_untouched(pg_address: str) -> None:
    import psycopg

    with psycopg.connect(pg_address, autocommit=True) as conn:
        conn.execute("CREATE TABLE jobs (x int)")
    with pytest.raises(StoreUnusable, match="not a cronsole database"):
        open_store(pg_address)
    with psycopg.connect(pg_address, autocommit=True) as conn:
        conn.execute("DROP TABLE jobs")
    open_store(pg_address).close()
    with psycopg.connect(pg_address, autocommit=True) as conn:
        conn.execute("INSERT INTO cronsole_migrations (name) VALUES ('9999_future')")
        before = conn.execute("SELECT count(*) FROM cronsole_migrations").fetchone()
    with pytest.raises(StoreUnusable, match="newer cronsole"):
        open_store(pg_address)
    with psycopg.connect(pg_address, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM cronsole_migrations").fetchone() == before


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    with pytest.raises(StoreUnusable) as caught:
        open_store("postgresql://cronsole:s3cret@127.0.0.1:1/nowhere")
    assert "s3cret" not in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("postgresql://cronsole:***@127.0.0.1:1/nowhere: ")


def test_a_finished_run_gives_back_the_claims_it_still_holds(store: Store) -> None:
    for n in range(3):
        store.enqueue("job", f"k{n}", T0)
    first, second, _ = store.claim_items("job", "n", 7, T0, limit=3)
    store.complete_item(first, T0)
    assert store.release_run_claims(7, T0, "released: outcome unrecorded") == 2
    assert store.release_run_claims(7, T0, "again") == 0
    assert {i.key: i.status for i in store.list_items(job="job")} == {
        "k0": ItemStatus.DONE,
        "k1": ItemStatus.FAILED,
        "k2": ItemStatus.FAILED,
    }
    [counts] = store.tenant_counts("job")
    assert (counts.claimed, counts.failed, counts.done) == (0, 2, 1)


def applied_migrations(address: str) -> list[str]:
    """The migration names a database records, in the order they were applied."""
    if "://" not in address:
        with sqlite3.connect(address) as conn:
            rows = conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'cronsole' ORDER BY id"
            ).fetchall()
        return [r[0] for r in rows]
    import psycopg

    with psycopg.connect(address) as conn:
        found = conn.execute("SELECT name FROM cronsole_migrations ORDER BY applied_at, name")
        return [r[0] for r in found.fetchall()]


def test_both_backends_apply_the_one_migration_list(address: str) -> None:
    from cronsole.core.store.migrations import NAMES

    open_store(address).close()
    assert applied_migrations(address) == list(NAMES)


def test_the_sqlite_schema_defines_each_listed_migration_in_order() -> None:
    import sqlite_utils

    from cronsole.core.store.migrations import NAMES
    from cronsole.core.store.sqlite.schema import migrations

    pending = migrations.pending(sqlite_utils.Database(memory=True))
    assert [m.name for m in pending] == list(NAMES)


def test_a_postgres_database_from_before_the_one_list_is_brought_up_to_it(
    pg_address: str,
) -> None:
    """Such a database recorded 0001_initial with the records and archive tables in it and no
    0002: opening it applies 0002 over those tables and keeps their rows."""
    import psycopg

    from cronsole.core.models import Record

    store = open_store(pg_address)
    store.put_records("batch", [Record("b1", {"n": 1})], T0)
    store.close()
    with psycopg.connect(pg_address, autocommit=True) as conn:
        conn.execute("DELETE FROM cronsole_migrations WHERE name = '0002_records_and_archive'")
    store = open_store(pg_address)
    try:
        assert store.get_record("batch", "b1") is not None
    finally:
        store.close()
    assert "0002_records_and_archive" in applied_migrations(pg_address)
