"""What the engine does every tick, beat and console refresh walks an index: no statement on
those paths reads a whole table, however much history the database holds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cronsole.core.models import ItemStatus, Node, Overlap, RunReason, RunStatus
from cronsole.core.store.sqlite import SQLiteStore
from tests.conftest import T0

HISTORY = ("runs", "items", "logs", "records", "archive")
PARTIAL = ("runs_active", "items_claimed")  # these hold only live rows: scanning them is fine


def test_the_frequent_statements_never_scan_a_history_table(tmp_path: Path) -> None:
    store = SQLiteStore.open(tmp_path / "c.db")
    store.register_node(Node("n1", "host", "h", 1, T0, T0, "test"))
    store.enqueue("job", "k1", T0, tenant="t1")
    conn = store._db.get()  # the statements below run on this thread's connection
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    run = store.insert_run("job", T0, RunReason.SCHEDULE, "n1", Overlap.SKIP, T0)
    assert run is not None
    store.queue_run("job", T0 + timedelta(minutes=1), RunReason.MANUAL, T0)
    store.start_queued_run("job", "n1", T0, allow=False)
    store.queued_jobs()
    store.heartbeat("n1", T0)
    store.heartbeat_items("n1", T0)
    for item in store.claim_items("job", "n1", run.id, T0, limit=10, per_tenant=5):
        store.complete_item(item, T0)
    store.update_run_progress(run.id, processed=1)
    store.finish_run(run.id, RunStatus.SUCCEEDED, T0)
    store.active_runs()
    store.last_runs()
    store.job_states()
    store.nodes(live_since=T0)
    store.pending_commands()
    store.recent_logs(after_id=0)
    store.prune_logs(1000)
    store.tenant_counts()
    store.sweep_stale_items(T0, T0)
    store.abandon_runs(["n0"], T0, "dead")
    conn.set_trace_callback(None)
    scans = []
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
            continue
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql):
            detail = row["detail"]
            scan = any(detail.startswith(f"SCAN {table}") for table in HISTORY)
            if (
                scan
                and not any(f"INDEX {index}" in detail for index in PARTIAL)
                or "idx_runs_job_id" in detail
            ):  # a job's whole run history
                scans.append(f"{detail}: {sql}")
    assert scans == []
    assert len(statements) > 20  # the trace saw the calls above


def test_claims_and_a_tenants_listings_walk_one_index_in_order(tmp_path: Path) -> None:
    """The claim takes a tenant's due items in id order straight off the index (no sort of
    every due item per claim), and the console's tenant and health reads do the same."""
    store = SQLiteStore.open(tmp_path / "c.db")
    for n in range(30):
        store.enqueue("job", f"k{n}", T0, tenant="t1", queue="qa" if n % 3 else "qb")
    conn = store._db.get()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    claimed = store.claim_items("job", "n1", None, T0, limit=4, per_tenant=4, queue="qa")
    pending = store.list_items("job", status=ItemStatus.PENDING, tenant="t1", limit=5)
    oldest = store.oldest_pending("job")
    conn.set_trace_callback(None)
    assert [i.key for i in claimed] == ["k1", "k2", "k4", "k5"]
    assert [i.key for i in pending] == ["k0", "k3", "k6", "k7", "k8"]  # both queues, merged
    assert oldest == {"t1": T0}
    plans = {
        sql: [row["detail"] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        for sql in statements
        if "FROM items" in sql
    }
    assert len(plans) >= 3
    for sql, plan in plans.items():
        assert not any("TEMP B-TREE" in step for step in plan), (sql, plan)
        assert not any(step.startswith("SCAN items") for step in plan), (sql, plan)


# what an outcome changes on an item row (a claim, status and its claim columns)
OUTCOME_COLUMNS = {"status", "claim_owner", "claim_token", "result", "error", "not_before"}
OUTCOME_COLUMNS |= {"reserved_for", "updated_at", "heartbeat_at"}


def test_an_item_outcome_rewrites_four_indexes_at_most(tmp_path: Path) -> None:
    """Each index holding a column an outcome changes is one more B-tree rewritten per
    outcome: the tenant's (claims, listings), the run's, the claimed (partial) and the
    health one (recent outcomes by update)."""
    conn = SQLiteStore.open(tmp_path / "c.db")._db.get()
    touched = []
    for index in conn.execute("PRAGMA index_list(items)").fetchall():
        columns = {r["name"] for r in conn.execute(f"PRAGMA index_info({index['name']})")}
        if columns & OUTCOME_COLUMNS or index["partial"]:
            touched.append(index["name"])
    assert sorted(touched) == [
        "idx_items_job_status_updated_at",
        "idx_items_job_tenant_status_queue_id",
        "idx_items_run_id_status",
        "items_claimed",
    ]
