"""Nodes sharing one PostgreSQL queue (issue 19): claiming at the same moment each takes a
share (with three nodes one took all 3,000 items: a claim locked every tenant with work, and a
node finding them locked concluded the queue was empty), and item outcomes do not queue on the
writers' lock, yet keep every counter exact."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest

from cronsole.core import faults
from cronsole.core.errors import StaleClaim
from cronsole.core.models import Item, ItemStatus, Overlap, RunReason, Settled, Watermark
from cronsole.core.store import Store, open_store
from tests.conftest import T0

HOLD = 0.6  # how long the first claim keeps its locks (a fault point sleeps inside it)


@pytest.fixture
def stores(pg_address: str) -> Iterator[tuple[Store, Store]]:
    """Two nodes' stores on one schema; the first claim made holds its locks for HOLD."""
    first, second = open_store(pg_address), open_store(pg_address)
    faults.configure(f"mid_claim=sleep:{HOLD}")
    yield first, second
    faults.configure(None)
    first.close()
    second.close()


def enqueue(store: Store, tenants: int, each: int) -> None:
    for t in range(tenants):
        store.enqueue_many("job", [(f"t{t}-{n}", None, f"t{t}") for n in range(each)], T0)


def meanwhile(claim: Callable[[], list[Item]]) -> tuple[threading.Thread, list[list[Item]]]:
    """`claim` on a thread, which is inside its transaction once this returns."""
    out: list[list[Item]] = []
    thread = threading.Thread(target=lambda: out.append(claim()))
    thread.start()
    time.sleep(HOLD / 3)
    return thread, out


def test_a_claim_locks_only_the_tenants_it_takes_from(stores: tuple[Store, Store]) -> None:
    a, b = stores
    enqueue(a, tenants=10, each=5)
    thread, first = meanwhile(lambda: a.claim_items("job", "a", None, T0, 10, per_tenant=5))
    second = b.claim_items("job", "b", None, T0, 10, per_tenant=5)
    thread.join()
    # b did not wait for a: it took two other tenants while a held its two
    assert len(second) == 10 and len(first[0]) == 10
    tenants = [{i.tenant for i in first[0]}, {i.tenant for i in second}]
    assert len(tenants[0]) == 2 and len(tenants[1]) == 2 and not tenants[0] & tenants[1]


def test_a_claim_that_finds_every_tenant_held_waits_instead_of_giving_up(
    stores: tuple[Store, Store],
) -> None:
    a, b = stores
    enqueue(a, tenants=1, each=10)
    thread, first = meanwhile(lambda: a.claim_items("job", "a", None, T0, 5))
    second = b.claim_items("job", "b", None, T0, 5)  # the one tenant is a's until it commits
    thread.join()
    assert len(first[0]) == 5 and len(second) == 5
    assert not {i.key for i in first[0]} & {i.key for i in second}
    assert b.claim_items("job", "b", None, T0, 5) == []  # empty now: at once, no waiting


def test_outcomes_do_not_wait_for_the_writers_lock_unless_they_move_the_watermark(
    pg_address: str,
) -> None:
    store = open_store(pg_address)
    enqueue(store, tenants=1, each=2)
    first, second = store.claim_items("job", "n", None, T0, 2)
    with psycopg.connect(pg_address) as writer:  # another node's long write, holding the lock
        writer.execute("SELECT pg_advisory_xact_lock(hashtext('cronsole:' || current_schema()))")
        done = threading.Thread(target=lambda: store.complete_item(first, T0, "ok"))
        done.start()
        done.join(timeout=4)
        assert not done.is_alive()  # completed while the lock was held
        mark = Watermark(T0.isoformat(), "t0-1")
        moved = threading.Thread(target=lambda: store.complete_item(second, T0, "ok", mark))
        moved.start()
        moved.join(timeout=HOLD)
        assert moved.is_alive()  # the watermark's read-compare-write waits its turn
        writer.rollback()
    moved.join(timeout=5)
    assert not moved.is_alive()
    assert [i.status for i in store.list_items("job")] == [ItemStatus.DONE, ItemStatus.DONE]
    assert store.get_watermark("job") == mark
    store.close()


def test_a_deadlock_the_server_breaks_is_retried_and_the_outcome_stored_once(
    pg_address: str,
) -> None:
    store = open_store(pg_address)
    enqueue(store, tenants=1, each=1)
    [item] = store.claim_items("job", "n", None, T0, 1)
    with psycopg.connect(pg_address) as other:
        other.execute("SET deadlock_timeout = '20s'")  # the store's side detects it, at 1 s
        other.execute("UPDATE tenant_counts SET last_claim_at = last_claim_at")  # holds t0
        done = threading.Thread(target=lambda: store.complete_item(item, T0, "ok"))
        done.start()
        time.sleep(0.3)  # the outcome holds the item's row and waits for t0's counter
        # ... and this waits for the item's row: a cycle, which the server breaks
        other.execute("UPDATE items SET updated_at = updated_at WHERE id = %s", (item.id,))
        other.commit()
    done.join(timeout=10)
    assert not done.is_alive()
    [counts] = store.tenant_counts("job")
    assert (counts.done, counts.claimed, counts.pending) == (1, 0, 0)
    assert store.list_items("job")[0].status is ItemStatus.DONE
    store.close()


def test_three_nodes_settling_at_once_keep_every_counter_exact(pg_address: str) -> None:
    nodes = [open_store(pg_address) for _ in range(3)]
    enqueue(nodes[0], tenants=4, each=60)
    runs = []
    for n, store in enumerate(nodes):
        run = store.insert_run(
            "job", T0.replace(minute=n), RunReason.MANUAL, f"n{n}", Overlap.ALLOW, T0
        )
        assert run is not None
        runs.append(run.id)

    def work(n: int) -> None:
        store = nodes[n]
        while claimed := store.claim_items("job", f"n{n}", runs[n], T0, 10, per_tenant=5):
            for item in claimed:
                if item.key.endswith("7"):
                    store.fail_item(item, T0, "boom", None)  # dead at once
                else:
                    store.complete_item(item, T0, "ok")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    items = nodes[0].list_items("job", limit=1000)
    dead = [i for i in items if i.status is ItemStatus.DEAD]
    assert len(items) == 240 and len(dead) == 24
    assert all(i.status is ItemStatus.DONE for i in items if i not in dead)
    counts = nodes[0].tenant_counts("job")
    assert sorted((c.done, c.dead, c.claimed, c.pending) for c in counts) == [(54, 6, 0, 0)] * 4
    finished = [nodes[0].get_run(r) for r in runs]
    assert sum(r.processed for r in finished if r) == 216
    assert sum(r.failed for r in finished if r) == 24
    assert all(r and r.processed > 0 for r in finished)  # each node did a share
    for store in nodes:
        store.close()


def test_completions_racing_a_sweeper_and_a_retry_keep_one_owner_and_exact_counters(
    pg_address: str,
) -> None:
    """A node completes its claims (singly and in groups) while a sweeper declares them all
    stale and another node retries and takes the swept ones. Each item ends with exactly one
    accepted outcome per claim: a late result of the first node is refused, never counted;
    the tenant counters equal a recount and each run's progress equals its accepted outcomes."""
    setup = open_store(pg_address)
    enqueue(setup, tenants=5, each=40)
    runs = [
        setup.insert_run("job", T0.replace(minute=n), RunReason.MANUAL, f"n{n}", Overlap.ALLOW, T0)
        for n in range(2)
    ]
    assert all(runs)
    first_run, second_run = (r.id for r in runs if r is not None)
    owner, sweeper, retrier = (open_store(pg_address) for _ in range(3))
    mine = owner.claim_items("job", "n0", first_run, T0, limit=200)
    assert len(mine) == 200
    accepted: list[Item] = []
    refused: list[Item] = []
    later = T0 + timedelta(hours=1)

    def complete() -> None:
        for n in range(0, 200, 10):
            if n % 20:  # every other ten as one group, the rest one by one
                gone = owner.settle_items([Settled(i, T0, "ok") for i in mine[n : n + 10]], T0)
                refused.extend(gone)
                accepted.extend(i for i in mine[n : n + 10] if i not in gone)
                continue
            for item in mine[n : n + 10]:
                try:
                    owner.complete_item(item, T0, "ok")
                    accepted.append(item)
                except StaleClaim:
                    refused.append(item)

    def sweep() -> None:
        while len(accepted) < 30:  # once the first node is well under way
            time.sleep(0.001)
        for _ in range(5):
            sweeper.sweep_stale_items(later, later)

    second: list[Item] = []

    def retry() -> None:
        for _ in range(20):
            retrier.retry_items("job", later)
            for item in retrier.claim_items("job", "n1", second_run, later, limit=50):
                retrier.complete_item(item, later, "again")
                second.append(item)

    errors: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                fn()
            except BaseException as exc:  # the test fails on it, not a thread warning
                errors.append(exc)

        return body

    threads = [threading.Thread(target=guarded(fn)) for fn in (complete, sweep, retry)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(accepted) + len(refused) == 200 and len(accepted) > 0
    items = {i.key: i for i in setup.list_items("job", limit=1000)}
    for item in accepted:  # the first node's result stood: nothing took the item after it
        assert items[item.key].status is ItemStatus.DONE and items[item.key].result == "ok"
    for item in second:
        assert items[item.key].status is ItemStatus.DONE and items[item.key].result == "again"
    assert not {i.key for i in accepted} & {i.key for i in second}
    counted = Counter((i.tenant, i.status.value) for i in items.values())
    for counts in setup.tenant_counts("job"):
        for state in ("pending", "claimed", "done", "failed", "dead"):
            assert getattr(counts, state) == counted[(counts.tenant, state)], (counts, state)
    first, later_run = setup.get_run(first_run), setup.get_run(second_run)
    assert first is not None and first.processed == len(accepted)
    assert later_run is not None and later_run.processed == len(second)
    for store in (setup, owner, sweeper, retrier):
        store.close()
