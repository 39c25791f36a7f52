"""The store contract: every backend implements these methods and passes the contract tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from ..models import (
    Attempt,
    Command,
    CommandStatus,
    Incident,
    Item,
    ItemStatus,
    JobState,
    LogEntry,
    Node,
    Overlap,
    Record,
    Run,
    RunReason,
    RunStatus,
    Settled,
    TenantCounts,
    Watermark,
)


class Store(Protocol):
    """Durable state shared by every process of one installation."""

    def describe(self) -> str:
        """Where the store lives, for `cronsole paths` and the status line."""
        ...

    def close(self) -> None:
        """Close every connection this process opened."""
        ...

    def connect(self) -> None:
        """Open this thread's connection now (a worker about to run runs), not at first use."""
        ...

    def changes(self) -> dict[str, int] | None:
        """A counter per table a console reads on each refresh (jobs, job_state, control, runs,
        tenant_counts, commands, records), moved in the same transaction as every write to it:
        a table whose counter has not moved is as it was. None where the backend keeps no
        counters (PostgreSQL): then every read is made afresh."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """Group this thread's writes into one transaction: all of them commit together at the
        end of the block, or none (the scheduler claims ticks due together this way)."""
        ...

    def copy_into(
        self, target: Store, progress: Callable[[str, int], None] = lambda table, rows: None
    ) -> dict[str, int]:
        """Copy every row into `target`, an empty store of either backend, in one transaction
        there (an interrupted copy leaves it empty); `progress(table, rows)` as it goes. The
        rows copied per table; UsageError when the target already holds data."""
        ...

    def integrity_ok(self) -> bool:
        """Run the backend's integrity check; True when it reports no damage."""
        ...

    def ensure_jobs(self, names: Sequence[str], now: datetime) -> None:
        """Create rows for jobs the registry knows and the store does not yet."""
        ...

    def job_states(self, names: Sequence[str] | None = None) -> dict[str, JobState]:
        """The run-time state of every job (or of those named that the store has), by name."""
        ...

    def job_state(self, name: str) -> JobState | None:
        """The run-time state of one job, or None when the store has never seen it."""
        ...

    def set_paused(
        self,
        name: str,
        paused: bool,
        now: datetime,
        reason: str | None = None,
        until: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        """Set or clear a pause; False when nothing changed (resume of a running job)."""
        ...

    def set_job_settings(
        self, name: str, settings: dict[str, Any], now: datetime, clear_state: Sequence[str] = ()
    ) -> None:
        """Replace a job's setting overrides and forget the named state keys, atomically."""
        ...

    def record_tick(self, name: str, at: datetime) -> None:
        """Remember the latest tick considered (claimed, skipped or paused) for catch-up."""
        ...

    def get_control(self, key: str) -> Any:
        """A process-wide control value (such as the global pause), or None."""
        ...

    def set_control(self, key: str, value: Any, now: datetime) -> None:
        """Set a process-wide control value."""
        ...

    def get_state(self, job: str, key: str, default: Any = None) -> Any:
        """One persistent state value of a job, or `default`."""
        ...

    def all_state(self, job: str) -> dict[str, Any]:
        """Every persistent state value of a job."""
        ...

    def set_state(self, job: str, key: str, value: Any, now: datetime) -> None:
        """Set one persistent state value of a job."""
        ...

    def delete_state(self, job: str, key: str) -> None:
        """Forget one persistent state value of a job."""
        ...

    def get_watermark(self, job: str) -> Watermark | None:
        """The job's composite cursor, or None before its first item."""
        ...

    def advance_watermark(self, job: str, mark: Watermark, now: datetime) -> None:
        """Move the job's cursor forward (never back) on its own."""
        ...

    def insert_run(
        self,
        job: str,
        scheduled_for: datetime,
        reason: RunReason,
        node: str,
        overlap: Overlap,
        now: datetime,
        overrides: dict[str, Any] | None = None,
    ) -> Run | None:
        """Claim a tick: insert its run under UNIQUE(job, scheduled_for), as running, queued
        or skipped per the overlap policy; None when another process already holds that tick."""
        ...

    def claim_ticks(
        self, ticks: Sequence[tuple[str, datetime, Overlap | None]], node: str, now: datetime
    ) -> list[Run]:
        """Many ticks claimed in one transaction, by one statement per step however many they
        are: each job's latest tick is recorded (`record_tick`), and each tick with an overlap
        policy (None: its job is paused, the tick is only recorded) gets its run row exactly
        as `insert_run` would make it. Returns the runs made, by id: a tick that already had
        its run (another node's) makes none."""
        ...

    def queue_run(
        self, job: str, scheduled_for: datetime, reason: RunReason, now: datetime
    ) -> Run | None:
        """Insert a queued run for a tick (backfill); None when the tick already has a run."""
        ...

    def runs_at(self, job: str, ticks: list[datetime]) -> dict[datetime, int]:
        """Which of these ticks already have a run (through the unique tick index)."""
        ...

    def record_missed(self, job: str, ticks: list[datetime], now: datetime, why: str) -> Run | None:
        """One `missed` row standing for ticks that will never run, with their count and span."""
        ...

    def start_queued_run(self, job: str, node: str, now: datetime, allow: bool) -> Run | None:
        """Move the oldest queued run of a job to running, unless one runs (and overlap forbids)."""
        ...

    def queued_jobs(self) -> list[str]:
        """Names of jobs that have queued runs waiting to start."""
        ...

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        now: datetime,
        error: str | None = None,
        summary: dict[str, Any] | None = None,
        left: int = 0,
    ) -> bool:
        """Close a running run; False when it was no longer running (abandoned by a sweep)."""
        ...

    def update_run_progress(
        self,
        run_id: int,
        total: int | None = None,
        processed: int = 0,
        failed: int = 0,
        skipped: int = 0,
    ) -> None:
        """Set a run's total and add to its processed, failed and skipped counts."""
        ...

    def get_run(self, run_id: int) -> Run | None:
        """One run by id, or None."""
        ...

    def list_runs(
        self,
        job: str | None = None,
        status: RunStatus | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Run]:
        """Runs newest first, optionally filtered (indexed by job and id)."""
        ...

    def active_runs(self) -> list[Run]:
        """Every queued or running run, oldest first (an indexed read)."""
        ...

    def skipped_after(self, job: str, run_id: int, limit: int) -> int:
        """How many of the job's ticks after run #run_id were skipped (at most `limit`)."""
        ...

    def last_runs(self) -> dict[str, Run]:
        """The latest finished run of each job (kept on the job row, so no history scan)."""
        ...

    def request_cancel(self, run_id: int, now: datetime) -> Run | None:
        """Queued runs are cancelled at once; running ones get a flag their runner watches."""
        ...

    def enqueue(
        self,
        job: str,
        key: str,
        now: datetime,
        payload: Any = None,
        tenant: str = "",
        queue: str = "default",
        max_attempts: int = 5,
    ) -> bool:
        """Add an item unless its key is already in the ledger; True when it was added."""
        ...

    def enqueue_many(
        self,
        job: str,
        entries: Sequence[tuple[str, Any, str]],
        now: datetime,
        queue: str = "default",
        max_attempts: int = 5,
    ) -> int:
        """Enqueue (key, payload, tenant) entries in one transaction, skipping keys already in
        the ledger; how many were added."""
        ...

    def claim_items(
        self,
        job: str,
        node: str,
        run_id: int | None,
        now: datetime,
        limit: int,
        per_tenant: int | None = None,
        queue: str = "default",
        start: int | None = None,
        reserved: bool = False,
    ) -> list[Item]:
        """Claim up to `limit` due items, at most `per_tenant` from any tenant, longest-waiting
        tenants first; every query walks an index, so the cost follows tenants, not history.
        The first `start` (all: None) are marked started in the same transaction. A retry run
        claims only the items reserved for it (`reserved`); other runs never take reserved ones."""
        ...

    def start_items(self, items: Sequence[Item], now: datetime) -> None:
        """Mark claimed items started, in one transaction: from now on a crash charges their
        attempt."""
        ...

    def complete_item(
        self,
        item: Item,
        now: datetime,
        result: Any = None,
        watermark: Watermark | None = None,
        start_next: Item | None = None,
    ) -> None:
        """Mark a claimed item done, with its result and optionally the watermark (and the
        next item to start, marked started), in one transaction; StaleClaim when the claim no
        longer holds."""
        ...

    def fail_item(
        self,
        item: Item,
        now: datetime,
        error: str,
        retry_at: datetime | None,
        watermark: Watermark | None = None,
        start_next: Item | None = None,
        traceback: str | None = None,
    ) -> ItemStatus:
        """Record a failure: retried after `retry_at` while attempts remain, else dead; the
        try is kept in the item's history with its error and `traceback`."""
        ...

    def settle_items(
        self,
        outcomes: Sequence[Settled],
        now: datetime,
        watermark: Watermark | None = None,
        starts: Sequence[Item] = (),
    ) -> list[Item]:
        """Record several outcomes in one transaction (group commit), `starts` marked started
        and the watermark moved with them; those whose claim no longer holds are left out,
        and returned."""
        ...

    def release_item(self, item: Item, now: datetime) -> None:
        """Give back an item that was claimed but never started (the attempt is not counted)."""
        ...

    def failed_of_run(self, run_id: int) -> int:
        """Items that failed in run #run_id and have not been done since."""
        ...

    def retry_items(
        self, job: str, now: datetime, run_id: int | None = None, reserve_for: int | None = None
    ) -> int:
        """Operator retry: failed and dead items (all of the job's, or those that failed in
        run #run_id and were not done since) become pending, their attempts kept and one more
        allowed, reserved for the retry run `reserve_for` when given."""
        ...

    def item_attempts(self, item_id: int, limit: int = 100) -> list[Attempt]:
        """The failed attempts of one item, oldest first, whichever run made them."""
        ...

    def run_attempts(self, run_id: int, limit: int = 300) -> list[Attempt]:
        """The failed attempts run #run_id made, in order (its successes are the items it
        completed, which keep its id)."""
        ...

    def release_run_claims(self, run_id: int, now: datetime, why: str) -> int:
        """Items a finished run still holds (their outcome could not be stored) become
        eligible again: `failed` with the attempt counted when their work had started,
        `pending` with it given back when it had not; how many."""
        ...

    def release_claims(self, nodes: list[str], now: datetime, why: str) -> int:
        """Items claimed by dead nodes become eligible again, as `release_run_claims` does."""
        ...

    def sweep_stale_items(self, cutoff: datetime, now: datetime) -> list[Item]:
        """Claims whose heartbeat stopped before `cutoff`: released, or dead when out of
        attempts; each exactly once, because the update checks the old claim token."""
        ...

    def heartbeat_items(self, node: str, now: datetime) -> None:
        """Refresh the heartbeat of every item this node holds."""
        ...

    def get_item(self, job: str, key: str) -> Item | None:
        """One ledger item by job and idempotency key, or None."""
        ...

    def known_keys(self, job: str, keys: Sequence[str]) -> set[str]:
        """Which of `keys` the job's ledger already holds (indexed lookups, in chunks)."""
        ...

    def list_items(
        self,
        job: str | None = None,
        run_id: int | None = None,
        status: ItemStatus | None = None,
        limit: int = 100,
        tenant: str | None = None,
    ) -> list[Item]:
        """Ledger items, optionally filtered, in id order."""
        ...

    def tenant_counts(self, job: str | None = None) -> list[TenantCounts]:
        """Per-tenant item counts from the counter rows (no scan of the ledger)."""
        ...

    def register_node(self, node: Node) -> None:
        """Record a starting process."""
        ...

    def heartbeat(self, node: str, now: datetime) -> list[int]:
        """Beat for the node and its running runs; returns its runs an operator cancelled."""
        ...

    def stop_node(self, node: str, now: datetime) -> None:
        """Record that a process stopped cleanly."""
        ...

    def nodes(self, live_since: datetime | None = None) -> list[Node]:
        """Processes not stopped, optionally only those that beat since `live_since`."""
        ...

    def last_stopped_host(self) -> Node | None:
        """The host node that most recently stopped cleanly, if any did."""
        ...

    def abandon_runs(self, nodes: list[str], now: datetime, why: str) -> list[int]:
        """Runs left `running` (or never started) by dead nodes become `abandoned`."""
        ...

    def add_command(
        self,
        action: str,
        who: str,
        origin: str,
        now: datetime,
        job: str | None = None,
        run_id: int | None = None,
        args: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> Command:
        """Write an operator command (the audit row) as pending."""
        ...

    def pending_commands(self, limit: int = 50) -> list[Command]:
        """Operator commands not yet applied, oldest first."""
        ...

    def claim_command(self, command_id: int, node: str, now: datetime) -> bool:
        """Take a pending command for applying; exactly one process wins."""
        ...

    def finish_command(
        self,
        command_id: int,
        status: CommandStatus,
        result: str,
        now: datetime,
        run_id: int | None = None,
    ) -> Command:
        """Record how a claimed command ended."""
        ...

    def get_command(self, command_id: int) -> Command | None:
        """One command by id, or None."""
        ...

    def list_commands(
        self, job: str | None = None, limit: int = 50, since: datetime | None = None
    ) -> list[Command]:
        """The operator audit trail, newest first, optionally for one job."""
        ...

    def add_logs(
        self, entries: Sequence[tuple[datetime, str, str | None, int | None, str, str]]
    ) -> None:
        """Append (at, level, job, run_id, logger, message) rows in one transaction."""
        ...

    def recent_logs(
        self,
        job: str | None = None,
        run_id: int | None = None,
        after_id: int = 0,
        limit: int = 200,
        levels: Sequence[str] | None = None,
    ) -> list[LogEntry]:
        """Log rows after `after_id`, oldest first, at most `limit` of the newest; with
        `levels`, only rows of those levels (filtered before the limit)."""
        ...

    def prune_logs(self, keep: int) -> int:
        """Keep only the newest `keep` log rows; returns how many were deleted."""
        ...

    def outcomes_since(self, job: str, since: datetime) -> dict[str, tuple[int, int]]:
        """(done, failed or dead) items per tenant whose outcome came since a time (an
        indexed read)."""
        ...

    def oldest_pending(self, job: str) -> dict[str, datetime]:
        """When the oldest pending item of each tenant was enqueued; one probe per tenant."""
        ...

    def put_records(self, collection: str, records: Sequence[Record], now: datetime) -> None:
        """Insert or replace records of a collection by key, in one transaction."""
        ...

    def get_record(self, collection: str, key: str) -> Record | None:
        """One record by key, or None."""
        ...

    def query_records(
        self,
        collection: str,
        grp: str | None = None,
        status: str | None = None,
        at_from: str | None = None,
        at_to: str | None = None,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[Record]:
        """Records by group, status and an `at` range [from, to), ordered by `at`."""
        ...

    def record_groups(self, collection: str, at_from: str) -> list[str]:
        """Distinct groups with a record at or after `at_from` (e.g. users active this week)."""
        ...

    def count_records(self, collection: str, status: str | None = None) -> int:
        """How many records a collection holds, optionally in one status."""
        ...

    def sweep_records(
        self,
        collection: str,
        status: str,
        before: str,
        new_status: str,
        now: datetime,
        change: Callable[[Record], Any],
    ) -> list[Record]:
        """Move records in `status` whose `at` is before the cutoff to `new_status`, with data
        from `change(record)`; each exactly once (the update re-checks the old status)."""
        ...

    def open_incident(
        self, key: str, job: str, kind: str, message: str, now: datetime
    ) -> tuple[Incident, bool]:
        """The open incident of `key`, and whether this call opened it (True for exactly one
        caller of several, across nodes); an incident already open counts one more occurrence
        and takes the newest message."""
        ...

    def incident_said(self, incident_id: int, now: datetime) -> None:
        """Note that the incident was sent to its channels now (its repeats count from here)."""
        ...

    def close_incidents(self, job: str, kinds: Sequence[str], now: datetime) -> list[Incident]:
        """Close the job's open incidents of these kinds; those closed by this call."""
        ...

    def close_incident(self, key: str, now: datetime) -> Incident | None:
        """Close the open incident of `key`; it, when this call closed it."""
        ...

    def list_incidents(self, open_only: bool = False, limit: int = 100) -> list[Incident]:
        """Incidents, newest first (only the open ones when asked)."""
        ...

    def archive_chunk(self, kind: str, before: datetime, limit: int, now: datetime) -> int:
        """Move up to `limit` rows of a history kind older than `before` into the archive, in one
        transaction (an interrupted archive resumes where it stopped, with no duplicates); how
        many, 0 when none are left."""
        ...

    def archived_run(self, run_id: int) -> Run | None:
        """A run that retention moved to the archive, or None."""
        ...

    def archived_runs(self, job: str | None = None, limit: int = 50) -> list[Run]:
        """Archived runs, newest first."""
        ...

    def archived_items(self, run_id: int, limit: int = 300) -> list[Item]:
        """The archived (done) items of a run."""
        ...

    def count_archived(self, kind: str) -> int:
        """How many rows of a kind the archive holds."""
        ...
