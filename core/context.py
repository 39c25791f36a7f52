"""What a job function receives: settings, state, ledger, progress, budget, cancel, logger."""

from __future__ import annotations

import logging
import random
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from traceback import format_exc
from typing import Any, Generic, TypeVar

from .clock import Clock
from .errors import StaleClaim, StoreWriteFailed, TakenOver
from .events import EventHub, ItemFailed, RunProgressed
from .faults import fault
from .health import TenantHealth, Thresholds, save_health, tenant_health
from .models import Item, ItemStatus, Record, Run, RunReason, Settled, Watermark
from .registry import Job
from .retry import RANDOM, backoff
from .store import Store

T = TypeVar("T")
S = TypeVar("S")


@dataclass
class Outcome(Generic[T]):
    """What happened to a batch: done, failed (with error text), and never started."""

    done: list[tuple[T, Any]] = field(default_factory=list)
    failed: list[tuple[T, str]] = field(default_factory=list)
    left: list[T] = field(default_factory=list)
    taken_over: list[T] = field(default_factory=list)  # claims another node took meanwhile


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


TRACEBACK_FRAMES = 8


def traceback_text() -> str | None:
    """The traceback of the exception being handled, by its innermost frames (where it was
    raised, not where the runner called the job); None outside an `except`."""
    if sys.exc_info()[1] is None:
        return None
    return format_exc(limit=-TRACEBACK_FRAMES)


class JobContext(Generic[S]):
    def __init__(
        self,
        *,
        job: Job,
        run: Run,
        settings: S,
        store: Store,
        clock: Clock,
        hub: EventHub,
        node: str,
        cancel: threading.Event,
        log: logging.LoggerAdapter[logging.Logger],
        base_dir: Path,
        lapses: Callable[[], int] = lambda: 0,
        rng: random.Random = RANDOM,
    ) -> None:
        self.job, self.run, self.settings = job, run, settings
        self.rng = rng  # the random source of item backoff (the runner's)
        self.lapses = lapses  # how often this node was gone longer than node_timeout
        self.base_dir = base_dir  # the config file's folder: relative paths start here
        self._store, self.clock, self.hub, self.node = store, clock, hub, node
        self.log = log
        self._cancel = cancel
        self._started = clock.monotonic()
        self._timing = threading.Lock()  # items finish on several threads
        self._timed_items, self._timed_total = 0, 0.0  # a running mean, not every duration
        self.left = 0
        self.taken_over = 0  # items another node took while this run held them
        self.items = Ledger(self)
        self.state = StateView(store, job.name, clock)

    def records(self, collection: str) -> Records:
        """A collection of this installation's records (documents, stats, tracked batches)."""
        return Records(self._store, collection, self.clock)

    def watermark_of(self, job: str) -> Watermark | None:
        """Another job's watermark (read only): how far that job has got."""
        return self._store.get_watermark(job)

    def enqueue_for(self, job: str, entries: Iterable[tuple[str, Any, str]]) -> int:
        """Enqueue (key, payload, tenant) entries on another job's ledger, a producer feeding
        a consumer; how many were new."""
        return self._store.enqueue_many(job, list(entries), self.clock.now())

    def grade_tenants(self, job: str, limits: Thresholds) -> list[TenantHealth]:
        """Grade each tenant of `job` by its backlog, oldest pending item and failure rate
        over the last day, and keep the report that every shell reads; worst first."""
        now = self.clock.now()
        tenants = tenant_health(self._store, job, now, limits)
        save_health(self._store, job, now, tenants, limits)
        return tenants

    def archive(self, kind: str, before: datetime, limit: int) -> int:
        """Move up to `limit` rows of one history kind (runs, items, attempts, commands,
        logs) older than `before` into the archive, in one transaction; 0 when none are left."""
        return self._store.archive_chunk(kind, before, limit, self.clock.now())

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def scheduled_for(self) -> datetime:
        """The tick this run stands for (for backfills, the window to compute)."""
        return self.run.scheduled_for

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait, waking at once when the run is cancelled or stopped; True if it was."""
        return self._cancel.wait(seconds)

    def time_left(self) -> float:
        if self.job.policy.time_budget is None:
            return float("inf")
        return self.job.policy.time_budget - (self.clock.monotonic() - self._started)

    def item_estimate(self, floor: float = 0.0) -> float:
        """Mean duration of the items so far in this run, never below `floor`."""
        with self._timing:
            count, total = self._timed_items, self._timed_total
        return max(floor, total / count) if count else floor

    def can_start(self, estimate: float = 0.0) -> bool:
        """False once cancelled or when the budget left cannot fit one more item."""
        return not self.cancelled and self.time_left() > self.item_estimate(estimate)

    def stopped_early(self, left: int) -> None:
        """Record that the budget ended the run with `left` items not started."""
        self.left += left

    @property
    def watermark(self) -> Watermark | None:
        return self._store.get_watermark(self.job.name)

    def set_total(self, total: int) -> None:
        self._store.update_run_progress(self.run.id, total=total)
        self._publish_progress()

    def add_progress(self, processed: int = 0, failed: int = 0, skipped: int = 0) -> None:
        """For work outside the ledger; ledger outcomes are counted by the store itself."""
        self._store.update_run_progress(
            self.run.id, processed=processed, failed=failed, skipped=skipped
        )
        self._publish_progress()

    def _publish_progress(self) -> None:
        run = self._store.get_run(self.run.id)
        if run is not None:
            self.hub.publish(
                RunProgressed(
                    self.clock.now(), run.id, run.job, run.processed, run.failed, run.total
                )
            )

    def run_items(
        self,
        items: Iterable[T],
        fn: Callable[[T], Any],
        concurrency: int = 1,
        estimate: float = 0.0,
        count: bool = True,
    ) -> Outcome[T]:
        """Run `fn` on each item, never more than `concurrency` at once; one item's failure
        never stops the others; no item starts once cancelled or out of budget."""
        outcome: Outcome[T] = Outcome()
        iterator = iter(items)
        if concurrency <= 1:
            self._run_inline(iterator, fn, outcome, count, estimate)
        else:
            self._run_pooled(iterator, fn, outcome, count, estimate, concurrency)
        if outcome.left and not self.cancelled:
            self.stopped_early(len(outcome.left))
        return outcome

    def _run_inline(
        self,
        iterator: Iterator[T],
        fn: Callable[[T], Any],
        outcome: Outcome[T],
        count: bool,
        estimate: float,
    ) -> None:
        """One at a time in this thread: no pool, no hand-off, this thread's connection."""
        for item in iterator:
            if not self.can_start(estimate):
                outcome.left = [item, *iterator]
                return
            try:
                outcome.done.append((item, self._timed(fn, item)))
                ok = True
            except Exception as exc:
                self._failed(outcome, item, exc)
                ok = False
            if count:
                self.add_progress(processed=int(ok), failed=int(not ok))

    def _run_pooled(
        self,
        iterator: Iterator[T],
        fn: Callable[[T], Any],
        outcome: Outcome[T],
        count: bool,
        estimate: float,
        concurrency: int,
    ) -> None:
        with ThreadPoolExecutor(
            max_workers=max(1, concurrency), thread_name_prefix=f"run-{self.run.id}"
        ) as pool:
            running: dict[Future[Any], T] = {}
            for item in iterator:
                while len(running) >= concurrency:
                    self._collect(running, outcome, count, FIRST_COMPLETED)
                if not self.can_start(estimate):
                    outcome.left = [item, *iterator]
                    break
                running[pool.submit(self._timed, fn, item)] = item
            while running:
                self._collect(running, outcome, count, FIRST_COMPLETED)

    def _failed(self, outcome: Outcome[T], item: T, exc: BaseException) -> None:
        if isinstance(exc, StaleClaim):  # not ours any more: neither done nor failed here
            outcome.taken_over.append(item)
            self.taken_over += 1
            self.log.info("%s", exc)
            return
        outcome.failed.append((item, error_text(exc)))
        self.log.warning("item %s failed: %s", _label(item), error_text(exc))

    def _timed(self, fn: Callable[[T], Any], item: T) -> Any:
        start = self.clock.monotonic()
        try:
            return fn(item)
        finally:
            took = self.clock.monotonic() - start
            with self._timing:
                self._timed_items += 1
                self._timed_total += took

    def _collect(
        self, running: dict[Future[Any], T], outcome: Outcome[T], count: bool, how: str
    ) -> None:
        finished, _ = wait(running, return_when=how)
        for future in finished:
            item = running.pop(future)
            exc = future.exception()
            if exc is None:
                outcome.done.append((item, future.result()))
            else:
                self._failed(outcome, item, exc)
        if count and finished:
            failed = sum(1 for f in finished if f.exception() is not None)
            self.add_progress(processed=len(finished) - failed, failed=failed)


def _label(item: Any) -> str:
    return repr(item.key) if isinstance(item, Item | Record) else repr(item)[:200]


@dataclass(frozen=True)
class ActionContext:
    """What a job's operator action receives (no run: actions act outside the schedule)."""

    job: str
    settings: Any
    clock: Clock
    base_dir: Path
    log: logging.Logger
    _store: Store

    def records(self, collection: str) -> Records:
        return Records(self._store, collection, self.clock)


class Records:
    """One record collection: put, get, range queries and stale sweeps, all through the store."""

    def __init__(self, store: Store, collection: str, clock: Clock) -> None:
        self.store, self.collection, self.clock = store, collection, clock

    def put(self, key: str, data: Any, grp: str = "", at: str = "", status: str = "") -> None:
        self.put_many([Record(key, data, grp, at, status)])

    def put_many(self, records: list[Record]) -> None:
        if records:
            self.store.put_records(self.collection, records, self.clock.now())

    def get(self, key: str) -> Record | None:
        return self.store.get_record(self.collection, key)

    def query(
        self,
        grp: str | None = None,
        status: str | None = None,
        at_from: str | None = None,
        at_to: str | None = None,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[Record]:
        return self.store.query_records(
            self.collection, grp, status, at_from, at_to, limit, newest_first
        )

    def groups(self, at_from: str) -> list[str]:
        return self.store.record_groups(self.collection, at_from)

    def count(self, status: str | None = None) -> int:
        return self.store.count_records(self.collection, status)

    def sweep(
        self, status: str, before: str, new_status: str, change: Callable[[Record], Any]
    ) -> list[Record]:
        return self.store.sweep_records(
            self.collection, status, before, new_status, self.clock.now(), change
        )


class StateView:
    """Persistent key/values of one job, JSON-serialisable."""

    def __init__(self, store: Store, job: str, clock: Clock) -> None:
        self._store, self._job, self._clock = store, job, clock

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.get_state(self._job, key, default)

    def set(self, key: str, value: Any) -> None:
        self._store.set_state(self._job, key, value, self._clock.now())

    def delete(self, key: str) -> None:
        self._store.delete_state(self._job, key)


class Ledger:
    """The run's view of the item ledger; outcomes commit with progress (and the watermark)."""

    def __init__(self, ctx: JobContext[Any]) -> None:
        self._ctx = ctx
        self._suspect = False  # a claim of this run was refused or may have been taken over
        self._lapses = ctx.lapses()
        # drain: claimed items not yet marked started, in the order they start, and those
        # marked (an item is marked in the transaction of the outcome before it)
        self._unstarted: deque[Item] = deque()
        self._marked: set[int] = set()
        self._lock = threading.Lock()
        # group commit (`commit_every`): outcomes kept until the group is full or its window
        # has passed, then written in one transaction with the starts and watermark they carry
        self._every = ctx.job.policy.commit_every
        self._group: list[Settled] = []
        self._group_starts: list[Item] = []
        self._group_mark: Watermark | None = None
        self._group_since = 0.0
        self._group_lock = threading.Lock()
        self._refused: set[int] = set()  # ids of grouped outcomes refused as taken over

    def enqueue(
        self, key: str, payload: Any = None, tenant: str = "", queue: str = "default"
    ) -> bool:
        ctx = self._ctx
        return ctx._store.enqueue(
            ctx.job.name,
            key,
            ctx.clock.now(),
            payload=payload,
            tenant=tenant,
            queue=queue,
            max_attempts=ctx.job.policy.max_attempts,
        )

    def enqueue_many(self, entries: Iterable[tuple[str, Any, str]], queue: str = "default") -> int:
        """Enqueue (key, payload, tenant) entries in one transaction; how many were new."""
        ctx = self._ctx
        return ctx._store.enqueue_many(
            ctx.job.name,
            list(entries),
            ctx.clock.now(),
            queue=queue,
            max_attempts=ctx.job.policy.max_attempts,
        )

    def known(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys this job's ledger already holds, whatever their state."""
        return self._ctx._store.known_keys(self._ctx.job.name, keys)

    def claim(
        self,
        limit: int,
        per_tenant: int | None = None,
        queue: str = "default",
        start: int | None = None,
    ) -> list[Item]:
        """Claim due items. The first `start` are marked started (all of them by default):
        a crash charges a started item's attempt and gives back one never started. A job
        that claims for itself marks the rest with `start()` or an outcome's `start_next`.
        A retry run claims only the items reserved for it."""
        ctx = self._ctx
        return ctx._store.claim_items(
            ctx.job.name,
            ctx.node,
            ctx.run.id,
            ctx.clock.now(),
            limit,
            per_tenant=per_tenant,
            queue=queue,
            start=start,
            reserved=ctx.run.reason is RunReason.RETRY,
        )

    def start(self, items: Sequence[Item]) -> None:
        """Mark claimed items started, in one transaction."""
        self._ctx._store.start_items(items, self._ctx.clock.now())

    def complete(
        self,
        item: Item,
        result: Any = None,
        watermark: Watermark | None = None,
        start_next: Item | None = None,
    ) -> None:
        """Done; `start_next` is marked started in the same transaction."""
        if self._every.grouped:
            self._keep(Settled(item, self._ctx.clock.now(), result), watermark, start_next)
            return
        self._ctx._store.complete_item(item, self._ctx.clock.now(), result, watermark, start_next)

    def fail(
        self,
        item: Item,
        error: str,
        retry: bool = True,
        watermark: Watermark | None = None,
        start_next: Item | None = None,
        traceback: str | None = None,
    ) -> None:
        """Failed with `error`: tried again after the job's backoff while `retry` and tries
        remain. The try keeps `traceback`, by default that of the exception being handled."""
        ctx = self._ctx
        now = ctx.clock.now()
        retry_at = now + timedelta(seconds=self.backoff(item.attempts)) if retry else None
        trace = traceback_text() if traceback is None else traceback
        if self._every.grouped:
            self._keep(Settled(item, now, None, error, retry_at, trace), watermark, start_next)
        else:
            ctx._store.fail_item(item, now, error, retry_at, watermark, start_next, trace)
        ctx.hub.publish(ItemFailed(now, ctx.job.name, ctx.run.id, item.key, error))

    def _keep(self, outcome: Settled, watermark: Watermark | None, start: Item | None) -> None:
        """Add an outcome to the open group; commit the group once it is full or its window
        has passed."""
        with self._group_lock:
            if not self._group:
                self._group_since = self._ctx.clock.monotonic()
            self._group.append(outcome)
            if start is not None:
                self._group_starts.append(start)
            if watermark is not None and (self._group_mark is None or self._group_mark < watermark):
                self._group_mark = watermark
            every = self._every
            due = len(self._group) >= every.items or (
                every.seconds is not None
                and self._ctx.clock.monotonic() - self._group_since >= every.seconds
            )
            if not due:
                return
            try:
                self._commit_group()
            except StoreWriteFailed as exc:  # kept, and tried again with the next outcome
                self._ctx.log.warning(
                    "%d item outcomes not stored yet: %s", len(self._group), error_text(exc)
                )

    def flush(self) -> None:
        """Commit the open group, if any (the drain and the run's end do this); a write the
        store refuses raises, the group kept."""
        with self._group_lock:
            if self._group:
                self._commit_group()

    def _commit_group(self) -> None:
        """Write the group in one transaction. Outcomes of claims taken over meanwhile are
        refused one by one, not the group; a write the store refuses keeps the group for the
        next commit (at the run's end its claims are released, their outcome unrecorded)."""
        ctx = self._ctx
        refused = ctx._store.settle_items(
            self._group, ctx.clock.now(), self._group_mark, self._group_starts
        )
        fault("after_item_commit")
        self._group, self._group_starts, self._group_mark = [], [], None
        for item in refused:
            ctx.log.info("item %r: the claim was taken over; result refused", item.key)
        if refused:
            self._suspect = True
            ctx.taken_over += len(refused)
            self._refused.update(item.id for item in refused)

    def backoff(self, attempts: int) -> float:
        """The wait before an item that failed `attempts` times is tried again."""
        job = self._ctx.job
        return backoff(attempts, job.policy.retry_base, job.policy.retry_cap, rng=self._ctx.rng)

    def release(self, item: Item) -> None:
        self._ctx._store.release_item(item, self._ctx.clock.now())

    def _check_still_mine(self, item: Item) -> None:
        """After this node was away (paused, or its heartbeat failing) longer than
        node_timeout, or once a result was refused, each claim is read again before its work
        starts: one another node took over is not done a second time here."""
        if not (self._suspect or self._ctx.lapses() != self._lapses):
            return
        self._suspect = True
        now = self._ctx._store.get_item(item.job, item.key)
        if (
            now is None
            or now.status is not ItemStatus.CLAIMED
            or now.claim_token != item.claim_token
        ):
            raise TakenOver(f"item {item.key!r}: taken over while this node was away; skipped")

    def drain(
        self,
        handle: Callable[[Item], Any],
        limit: int,
        per_tenant: int | None = None,
        concurrency: int = 1,
        watermark: Callable[[Item], Watermark] | None = None,
        estimate: float = 0.0,
        queue: str = "default",
    ) -> Outcome[Item]:
        """Claim up to `limit` due items and handle each, recording every outcome; items not
        started (budget or cancel) are released for the next run, their attempt given back.
        The first `concurrency` are marked started with the claim, each next one with the
        outcome before it: a crash charges only items whose work had begun or was next."""
        # outcomes committed in groups mark no next item: every item claimed starts now
        first = None if self._every.grouped else max(1, concurrency)
        items = self.claim(limit, per_tenant, queue, start=first)
        with self._lock:
            self._marked = {i.id for i in items[:first]}
            self._unstarted = deque(items[first:])
        try:
            outcome = self._ctx.run_items(
                items,
                lambda item: self._handle(item, handle, watermark),
                concurrency=concurrency,
                estimate=estimate,
                count=False,
            )
        finally:
            self.flush()
        for item in outcome.left:
            self.release(item)
        return self._without_refused(outcome)

    def _without_refused(self, outcome: Outcome[Item]) -> Outcome[Item]:
        """Grouped outcomes refused at their commit count as taken over, not done or failed."""
        if not self._refused:
            return outcome
        gone = self._refused
        outcome.taken_over += [i for i, _ in outcome.done + outcome.failed if i.id in gone]
        outcome.done = [(i, r) for i, r in outcome.done if i.id not in gone]
        outcome.failed = [(i, e) for i, e in outcome.failed if i.id not in gone]
        return outcome

    def _next(self) -> Item | None:
        """The item that starts after this outcome, in the order run_items starts them."""
        with self._lock:
            return self._unstarted.popleft() if self._unstarted else None

    def _ensure_started(self, item: Item) -> None:
        """An item whose mark did not land with an outcome (that write failed) gets its own."""
        with self._lock:
            marked = item.id in self._marked
        if not marked:
            self._ctx._store.start_items([item], self._ctx.clock.now())

    def _settled(self, write: Callable[[Item | None], None]) -> None:
        """An outcome write that also marks the next item started."""
        following = self._next()
        write(following)
        if following is not None:
            with self._lock:
                self._marked.add(following.id)

    def _handle(
        self,
        item: Item,
        handle: Callable[[Item], Any],
        watermark: Callable[[Item], Watermark] | None,
    ) -> Any:
        mark = watermark(item) if watermark else None
        self._ensure_started(item)
        fault("before_item")
        self._check_still_mine(item)
        try:
            result = handle(item)
            fault("after_side_effect")
        except Exception as exc:
            error = error_text(exc)
            try:
                self._settled(
                    lambda following: self.fail(item, error, watermark=mark, start_next=following)
                )
            except StaleClaim as stale:
                self._ctx.log.warning("%s", stale)
            raise
        try:
            self._settled(lambda following: self.complete(item, result, mark, following))
        except StaleClaim:
            self._suspect = True  # taken over once: check every claim left before its work
            raise
        except StoreWriteFailed as exc:  # done, but not recorded: it is retried (at least once)
            try:
                self.fail(item, f"outcome not stored: {error_text(exc)}", watermark=None)
            except (StoreWriteFailed, StaleClaim):
                pass  # still unreachable: the run's end releases the claim
            raise
        fault("after_item_commit")
        return result
