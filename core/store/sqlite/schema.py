"""The SQLite schema, applied through sqlite-utils migrations (one set, named 'cronsole')."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.db import Table
from sqlite_utils.migrations import Migrations

from ..migrations import NAMES

APPLICATION_ID = 0x43524F4E  # "CRON": marks a database as ours
migrations = Migrations("cronsole")


def _table(db: Database, name: str) -> Table:
    table = db[name]
    assert isinstance(table, Table)
    return table


@migrations(name="0001_initial")
def initial(db: Database) -> None:
    _table(db, "jobs").create(
        {
            "name": str,
            "paused": int,
            "pause_reason": str,
            "pause_until": str,
            "paused_by": str,
            "settings": str,
            "last_tick": str,
            "last_run_id": int,
            "updated_at": str,
        },
        pk="name",
        not_null={"paused", "settings"},
        defaults={"paused": 0, "settings": "{}"},
    )
    _table(db, "job_state").create(
        {"job": str, "key": str, "value": str, "updated_at": str}, pk=("job", "key")
    )
    _table(db, "control").create({"key": str, "value": str, "updated_at": str}, pk="key")
    _create_runs(db)
    _create_items(db)
    _table(db, "tenant_counts").create(
        {
            "job": str,
            "queue": str,
            "tenant": str,
            "pending": int,
            "claimed": int,
            "done": int,
            "failed": int,
            "dead": int,
            "last_claim_at": str,
        },
        pk=("job", "queue", "tenant"),
        defaults={"pending": 0, "claimed": 0, "done": 0, "failed": 0, "dead": 0},
        not_null={"pending", "claimed", "done", "failed", "dead"},
    )
    _create_commands(db)
    _table(db, "nodes").create(
        {
            "id": str,
            "role": str,
            "hostname": str,
            "pid": int,
            "started_at": str,
            "heartbeat_at": str,
            "version": str,
            "stopped_at": str,
        },
        pk="id",
    )
    logs = _table(db, "logs")
    logs.create(
        {
            "id": int,
            "at": str,
            "level": str,
            "job": str,
            "run_id": int,
            "logger": str,
            "message": str,
        },
        pk="id",
    )
    logs.create_index(["run_id", "id"])
    logs.create_index(["job", "id"])


def _create_runs(db: Database) -> None:
    runs = _table(db, "runs")
    runs.create(
        {
            "id": int,
            "job": str,
            "reason": str,
            "status": str,
            "scheduled_for": str,
            "node": str,
            "created_at": str,
            "started_at": str,
            "finished_at": str,
            "heartbeat_at": str,
            "total": int,
            "processed": int,
            "failed": int,
            "skipped": int,
            "left": int,
            "error": str,
            "summary": str,
            "overrides": str,
            "cancel_requested": int,
        },
        pk="id",
        not_null={"job", "reason", "status", "scheduled_for"},
        defaults={
            "processed": 0,
            "failed": 0,
            "skipped": 0,
            "left": 0,
            "cancel_requested": 0,
            "summary": "{}",
            "overrides": "{}",
        },
    )
    runs.create_index(["job", "scheduled_for"], unique=True)
    runs.create_index(["job", "id"])
    db.execute(
        "CREATE INDEX runs_active ON runs(status, job) WHERE status IN ('queued', 'running')"
    )


def _create_items(db: Database) -> None:
    items = _table(db, "items")
    items.create(
        {
            "id": int,
            "job": str,
            "queue": str,
            "tenant": str,
            "key": str,
            "status": str,
            "attempts": int,
            "max_attempts": int,
            "not_before": str,
            "claim_owner": str,
            "claim_token": str,
            "claimed_at": str,
            "heartbeat_at": str,
            "run_id": int,
            "payload": str,
            "result": str,
            "error": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"job", "queue", "tenant", "key", "status", "attempts", "not_before"},
        defaults={
            "attempts": 0,
            "max_attempts": 5,
            "not_before": "",
            "queue": "default",
            "tenant": "",
        },
    )
    items.create_index(["job", "key"], unique=True)
    items.create_index(["job", "queue", "tenant", "status", "not_before"])
    items.create_index(["run_id", "status"])
    db.execute(
        "CREATE INDEX items_claimed ON items(claim_owner, heartbeat_at) WHERE status = 'claimed'"
    )


def _create_commands(db: Database) -> None:
    commands = _table(db, "commands")
    commands.create(
        {
            "id": int,
            "created_at": str,
            "who": str,
            "origin": str,
            "action": str,
            "job": str,
            "run_id": int,
            "args": str,
            "reason": str,
            "status": str,
            "applied_by": str,
            "applied_at": str,
            "result": str,
        },
        pk="id",
        not_null={"action", "status"},
        defaults={"args": "{}"},
    )
    commands.create_index(["job", "id"])
    db.execute("CREATE INDEX commands_pending ON commands(id) WHERE status = 'pending'")


@migrations(name="0002_records_and_archive")
def records_and_archive(db: Database) -> None:
    """Generic record collections for jobs' own data, and the archive that retention fills."""
    records = _table(db, "records")
    records.create(
        {
            "collection": str,
            "key": str,
            "grp": str,
            "at": str,
            "status": str,
            "data": str,
            "updated_at": str,
        },
        pk=("collection", "key"),
        not_null={"grp", "at", "status"},
        defaults={"grp": "", "at": "", "status": ""},
    )
    records.create_index(["collection", "grp", "at"])
    records.create_index(["collection", "at"])
    records.create_index(["collection", "status", "at"])
    _table(db, "archive").create(
        {"kind": str, "id": str, "data": str, "archived_at": str}, pk=("kind", "id")
    )
    items = _table(db, "items")
    items.create_index(["job", "status", "updated_at"])


@migrations(name="0003_item_history")
def item_history(db: Database) -> None:
    """Which run tried which item, with what outcome (one row per attempt); when a claimed
    item's work started (a claim never started is released, not charged); and the retry run
    an item is reserved for."""
    db.execute("ALTER TABLE items ADD COLUMN started_at TEXT")
    db.execute("ALTER TABLE items ADD COLUMN reserved_for INTEGER")
    attempts = _table(db, "item_attempts")
    attempts.create(
        {
            "id": int,
            "item_id": int,
            "job": str,
            "key": str,
            "tenant": str,
            "run_id": int,
            "attempt": int,
            "outcome": str,
            "error": str,
            "at": str,
        },
        pk="id",
        not_null={"item_id", "job", "key", "attempt", "outcome", "at"},
    )
    attempts.create_index(["run_id", "id"])  # a run's ledger, the failures a retry takes;
    # ids grow with time, so retention's oldest-first scan needs no index on `at`


@migrations(name="0004_item_lookups")
def item_lookups(db: Database) -> None:
    """One item's attempts, and one tenant's items by state, without a scan."""
    _table(db, "item_attempts").create_index(["item_id", "id"])
    _table(db, "items").create_index(["job", "tenant", "status", "id"])


@migrations(name="0005_item_tracebacks")
def item_tracebacks(db: Database) -> None:
    """Where each failed try raised, beside its one-line error."""
    db.execute("ALTER TABLE item_attempts ADD COLUMN traceback TEXT")


@migrations(name="0006_one_tenant_index")
def one_tenant_index(db: Database) -> None:
    """Claims and a tenant's listings read one index, in id order: every item outcome
    rewrites one index fewer, and a claim no longer sorts a tenant's due items."""
    db.execute("DROP INDEX idx_items_job_queue_tenant_status_not_before")
    db.execute("DROP INDEX idx_items_job_tenant_status_id")
    _table(db, "items").create_index(["job", "tenant", "status", "queue", "id"])


# the tables a console reads on every refresh; `changes` counts the writes to each
WATCHED = ("jobs", "job_state", "control", "runs", "tenant_counts", "commands", "records")


@migrations(name="0007_change_counters")
def change_counters(db: Database) -> None:
    """A counter per watched table, moved by triggers in the writing transaction itself, so
    every writer (another process, an older code path) keeps it: a reader that finds a
    counter where it was knows that table is as it read it, and an idle console reads the
    counters instead of the tables."""
    _table(db, "changes").create({"topic": str, "n": int}, pk="topic", not_null={"n"})
    for table in WATCHED:
        db.execute("INSERT INTO changes (topic, n) VALUES (?, 0)", [table])
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f"CREATE TRIGGER changes_{table}_{event.lower()} AFTER {event} ON {table}"
                f" BEGIN UPDATE changes SET n = n + 1 WHERE topic = '{table}'; END"
            )


@migrations(name="0008_incidents")
def incidents(db: Database) -> None:
    """Alert incidents; at most one open per key, which is how one node of several opens it."""
    _table(db, "incidents").create(
        {
            "id": int,
            "key": str,
            "job": str,
            "kind": str,
            "status": str,
            "opened_at": str,
            "updated_at": str,
            "closed_at": str,
            "said_at": str,
            "occurrences": int,
            "message": str,
        },
        pk="id",
        not_null={"key", "job", "kind", "status", "opened_at", "updated_at", "occurrences"},
    )
    db.execute("CREATE UNIQUE INDEX incidents_open ON incidents(key) WHERE status = 'open'")
    db.execute("CREATE INDEX incidents_job ON incidents(job, status)")


KNOWN = set(NAMES)  # each one is a @migrations function above (tests/core/test_store_contract.py)
