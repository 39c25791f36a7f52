"""Nodes claiming from one PostgreSQL queue at the same moment each take a share (issue 19:
with three nodes one took all 3,000 items, because a claim locked every tenant with work and
a node finding them locked concluded the queue was empty)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from cronsole.core import faults
from cronsole.core.models import Item
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
