"""The item ledger: idempotent enqueue, fair claiming, compare-and-set outcomes, counters."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar

from ...clock import iso, parse_iso
from ...errors import StaleClaim
from ...faults import fault
from ...models import Attempt, Item, ItemStatus, Settled, TenantCounts, Watermark
from . import Conn, Database, Row
from .misc import advance_watermark_in
from .rows import dumps, marks, to_attempt, to_counts, to_item, valid, where

T = TypeVar("T")
STATUSES = tuple(s.value for s in ItemStatus)
# waits before a claim that found every tenant with work held by other claims asks again
CLAIM_PAUSES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8)


def _new_counter(c: Conn, job: str, queue: str, tenant: str) -> None:
    """The counter row of a tenant, before its first item enters the ledger."""
    c.execute(
        "INSERT INTO tenant_counts (job, queue, tenant) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (job, queue, tenant),
    )


def _count(c: Conn, job: str, queue: str, tenant: str, **delta: int) -> None:
    """Keep per-tenant counters in the same transaction as the item change they mirror."""
    assert set(delta) <= set(STATUSES)
    sets = ", ".join(f"{status} = {status} + ?" for status in delta)
    c.execute(
        f"UPDATE tenant_counts SET {sets} WHERE job = ? AND queue = ? AND tenant = ?",
        (*delta.values(), job, queue, tenant),
    )


def _attempted(
    c: Conn,
    item: Item,
    attempt: int,
    outcome: ItemStatus,
    error: str | None,
    traceback: str | None,
    now: datetime,
) -> None:
    c.execute(
        "INSERT INTO item_attempts (item_id, job, key, tenant, run_id, attempt, outcome, error,"
        " traceback, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.id,
            item.job,
            item.key,
            item.tenant,
            item.run_id,
            attempt,
            outcome.value,
            error,
            traceback,
            iso(now),
        ),
    )


def _failure(item: Item, retry_at: datetime | None) -> tuple[ItemStatus, str]:
    """A failed try's status, and when it may be tried again: dead once no tries remain."""
    if retry_at is not None and item.attempts < item.max_attempts:
        return ItemStatus.FAILED, iso(retry_at)
    return ItemStatus.DEAD, ""


class ItemsMixin:
    _db: Database
    SKIP_LOCKED = ""  # PostgreSQL: nodes claiming at once pass over each other's tenants
    FOR_UPDATE = False  # PostgreSQL: a group's items are locked first, in id order

    def _claiming(self) -> AbstractContextManager[Conn]:
        """The claim's transaction: a write, alone among writers (SQLite)."""
        return self._db.write()

    def _settling(self, body: Callable[[Conn], T], watermark: Watermark | None) -> T:
        """An item outcome's transaction: a write, alone among writers (SQLite)."""
        with self._db.write() as c:
            return body(c)

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
        return self.enqueue_many(job, [(key, payload, tenant)], now, queue, max_attempts) == 1

    def enqueue_many(
        self,
        job: str,
        entries: Sequence[tuple[str, Any, str]],
        now: datetime,
        queue: str = "default",
        max_attempts: int = 5,
    ) -> int:
        added: Counter[str] = Counter()
        at = iso(now)
        with self._db.write() as c:
            for key, payload, tenant in entries:
                cursor = c.execute(
                    "INSERT INTO items (job, queue, tenant, key, status, max_attempts, payload,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)"
                    " ON CONFLICT (job, key) DO NOTHING",
                    (job, queue, tenant, key, max_attempts, dumps(payload), at, at),
                )
                added[tenant] += cursor.rowcount
            for tenant, count in added.items():
                if count:
                    _new_counter(c, job, queue, tenant)
                    _count(c, job, queue, tenant, pending=count)
        return sum(added.values())

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
        for pause in (*CLAIM_PAUSES, None):
            with self._claiming() as c:
                claimed, seen = self._claim(
                    c, job, queue, node, run_id, now, limit, per_tenant, reserved
                )
                fault("mid_claim")
                if claimed and start != 0:  # None: every item claimed starts now
                    self._start(c, claimed if start is None else claimed[:start], now)
                # nothing, while other nodes' claims hold tenants with work: ask again
                # (only where rows are skipped: SQLite has one writer at a time)
                held = (
                    not claimed
                    and bool(self.SKIP_LOCKED)
                    and self._tenants_with_work(c, job, queue) > seen
                )
            if not held or pause is None:
                return claimed
            time.sleep(pause)
        raise AssertionError("unreachable: the last pause is None")

    def _claim(
        self,
        c: Conn,
        job: str,
        queue: str,
        node: str,
        run_id: int | None,
        now: datetime,
        limit: int,
        per_tenant: int | None,
        reserved: bool,
    ) -> tuple[list[Item], int]:
        """Lock as many tenants with work as the claim can take from (on PostgreSQL: skipping
        those other claims hold), least recently claimed first, and claim their items; the
        items and how many tenants were looked at."""
        claimed: list[Item] = []
        seen: list[str] = []
        while len(claimed) < limit:
            room = limit - len(claimed)
            not_seen = f" AND tenant NOT IN ({', '.join('?' * len(seen))})" if seen else ""
            tenants = c.execute(
                "SELECT tenant FROM tenant_counts WHERE job = ? AND queue = ?"
                f" AND pending + failed > 0{not_seen}"
                " ORDER BY coalesce(last_claim_at, ''), tenant LIMIT ?" + self.SKIP_LOCKED,
                (job, queue, *seen, -(-room // (per_tenant or room))),
            ).fetchall()
            if not tenants:
                break
            for row in tenants:
                seen.append(row["tenant"])
                room = limit - len(claimed)
                take = min(room, per_tenant) if per_tenant else room
                claimed += self._claim_tenant(
                    c, job, queue, row["tenant"], node, run_id, now, take, reserved
                )
        return claimed, len(seen)

    def _tenants_with_work(self, c: Conn, job: str, queue: str) -> int:
        return int(
            c.execute(
                "SELECT count(*) FROM tenant_counts WHERE job = ? AND queue = ?"
                " AND pending + failed > 0",
                (job, queue),
            ).fetchone()[0]
        )

    def _start(self, c: Conn, items: Sequence[Item], now: datetime) -> None:
        """Mark claimed items started: from now on a crash charges their attempt."""
        c.executemany(
            "UPDATE items SET started_at = ? WHERE id = ? AND claim_token = ?",
            [(iso(now), item.id, item.claim_token) for item in items],
        )

    def start_items(self, items: Sequence[Item], now: datetime) -> None:
        with self._db.write() as c:
            self._start(c, items, now)

    def _claim_tenant(
        self,
        c: Conn,
        job: str,
        queue: str,
        tenant: str,
        node: str,
        run_id: int | None,
        now: datetime,
        take: int,
        reserved: bool = False,
    ) -> list[Item]:
        claimed: list[Item] = []
        only = "reserved_for = ?" if reserved else "reserved_for IS NULL"
        mine = (run_id,) if reserved else ()
        at = iso(now)
        for status in ("pending", "failed"):
            # one statement chooses and marks the lot (locking what it takes, on PostgreSQL);
            # the token is new for this claim, and the compare-and-set checks it with the id
            rows = c.execute(
                "UPDATE items SET status = 'claimed', claim_owner = ?, claim_token = ?,"
                " claimed_at = ?, heartbeat_at = ?, run_id = ?, attempts = attempts + 1,"
                " started_at = NULL, updated_at = ? WHERE id IN (SELECT id FROM items"
                " WHERE job = ? AND queue = ? AND tenant = ? AND status = ? AND not_before <= ?"
                f" AND {only} ORDER BY id LIMIT ?{self.SKIP_LOCKED}) RETURNING *",
                (
                    node,
                    uuid.uuid4().hex,
                    at,
                    at,
                    run_id,
                    at,
                    job,
                    queue,
                    tenant,
                    status,
                    at,
                    *mine,
                    take - len(claimed),
                ),
            ).fetchall()
            if rows:
                _count(c, job, queue, tenant, **{status: -len(rows)}, claimed=len(rows))
                claimed += sorted((to_item(row) for row in rows), key=lambda item: item.id)
        if claimed:
            c.execute(
                "UPDATE tenant_counts SET last_claim_at = ? WHERE job = ? AND queue = ?"
                " AND tenant = ?",
                (at, job, queue, tenant),
            )
        return claimed

    def _item(self, c: Conn, item_id: int) -> Item:
        return to_item(c.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone())

    def _settle(
        self,
        c: Conn,
        item: Item,
        status: ItemStatus,
        now: datetime,
        traceback: str | None = None,
        **columns: Any,
    ) -> None:
        """Move a claimed item on, only if our claim still holds (compare-and-set). A failure
        is kept in the item's history with the run that tried it and its traceback (a later
        run may take the item again); a success needs no row there: the item keeps the run
        that did it. Any move ends a retry run's reservation."""
        if not self._moved(c, item, status, now, **columns):
            raise StaleClaim(f"item {item.key!r}: the claim was taken over; result refused")
        _count(c, item.job, item.queue, item.tenant, claimed=-1, **{status.value: 1})
        if status in (ItemStatus.FAILED, ItemStatus.DEAD):
            _attempted(c, item, item.attempts, status, columns.get("error"), traceback, now)

    def _moved(
        self, c: Conn, item: Item, status: ItemStatus, now: datetime, **columns: Any
    ) -> bool:
        """The compare-and-set of `_settle`: whether the claim still held."""
        sets = ", ".join(f"{name} = ?" for name in columns)
        cursor = c.execute(
            f"UPDATE items SET status = ?, claim_owner = NULL, claim_token = NULL, {sets},"
            " reserved_for = NULL, updated_at = ? WHERE id = ? AND status = 'claimed'"
            " AND claim_token = ?",
            (status, *columns.values(), iso(now), item.id, item.claim_token),
        )
        return bool(cursor.rowcount == 1)

    def complete_item(
        self,
        item: Item,
        now: datetime,
        result: Any = None,
        watermark: Watermark | None = None,
        start_next: Item | None = None,
    ) -> None:

        def settle(c: Conn) -> None:
            self._settle(c, item, ItemStatus.DONE, now, result=dumps(result), error=None)
            if start_next is not None:
                self._start(c, [start_next], now)
            if item.run_id is not None:
                c.execute("UPDATE runs SET processed = processed + 1 WHERE id = ?", (item.run_id,))
            if watermark is not None:
                advance_watermark_in(c, item.job, watermark, now)
                fault("before_watermark_commit")

        self._settling(settle, watermark)

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
        status, not_before = _failure(item, retry_at)

        def settle(c: Conn) -> None:
            self._settle(c, item, status, now, traceback, error=error, not_before=not_before)
            if start_next is not None:
                self._start(c, [start_next], now)
            if item.run_id is not None:
                c.execute("UPDATE runs SET failed = failed + 1 WHERE id = ?", (item.run_id,))
            if watermark is not None:
                advance_watermark_in(c, item.job, watermark, now)

        self._settling(settle, watermark)
        return status

    def settle_items(
        self,
        outcomes: Sequence[Settled],
        now: datetime,
        watermark: Watermark | None = None,
        starts: Sequence[Item] = (),
    ) -> list[Item]:
        """Several outcomes in one transaction (a job's `commit_every`), each a compare-and-set
        as in complete_item and fail_item, with `starts` marked started and the watermark
        moved; the items whose claim no longer held are left as they are and returned. Rows
        are locked in one order (items by id, then tenant counters, then runs), so groups and
        single outcomes committing at once cannot deadlock."""
        ordered = sorted(outcomes, key=lambda o: o.item.id)

        def settle(c: Conn) -> list[Item]:
            refused: list[Item] = []
            tenants: dict[tuple[str, str, str], Counter[str]] = {}
            runs: dict[int, Counter[str]] = {}
            if self.FOR_UPDATE and len(ordered) > 1:  # every item locked now, in id order
                ids = [o.item.id for o in ordered]
                c.execute(
                    f"SELECT id FROM items WHERE id IN ({marks(len(ids))}) ORDER BY id FOR UPDATE",
                    ids,
                )
            done = self._done_together(c, [o for o in ordered if o.error is None])
            for o in ordered:
                item = o.item
                if o.error is None:
                    status, held = ItemStatus.DONE, item.id in done
                else:
                    status, not_before = _failure(item, o.retry_at)
                    held = self._moved(c, item, status, o.at, error=o.error, not_before=not_before)
                if not held:
                    refused.append(item)
                    continue
                delta = tenants.setdefault((item.job, item.queue, item.tenant), Counter())
                delta.update({status.value: 1, "claimed": -1})
                if status is not ItemStatus.DONE:
                    _attempted(c, item, item.attempts, status, o.error, o.traceback, o.at)
                if item.run_id is not None:
                    runs.setdefault(item.run_id, Counter())[
                        "processed" if status is ItemStatus.DONE else "failed"
                    ] += 1
            for (job, queue, tenant), delta in sorted(tenants.items()):
                _count(c, job, queue, tenant, **delta)
            if starts:
                self._start(c, starts, now)
            for run_id, moved in sorted(runs.items()):
                sets = ", ".join(f"{name} = {name} + ?" for name in moved)
                c.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*moved.values(), run_id))
            if watermark is not None and ordered:
                advance_watermark_in(c, ordered[0].item.job, watermark, now)
            fault("mid_group")
            return refused

        return self._settling(settle, watermark)

    def _done_together(self, c: Conn, outcomes: list[Settled]) -> set[int]:
        """`_moved` for many done outcomes, one statement per 200 of them: each item's
        compare-and-set on its claim token; the ids whose claim still held."""
        held: set[int] = set()
        for start in range(0, len(outcomes), 200):
            chunk = outcomes[start : start + 200]
            values = [(o.item.id, o.item.claim_token, dumps(o.result), iso(o.at)) for o in chunk]
            rows = c.execute(
                f"WITH v(id, token, result, at) AS (VALUES {marks(len(chunk), 4)})"
                " UPDATE items SET status = 'done', claim_owner = NULL, claim_token = NULL,"
                " result = v.result, error = NULL, reserved_for = NULL, updated_at = v.at"
                " FROM v WHERE items.id = v.id AND items.status = 'claimed'"
                " AND items.claim_token = v.token RETURNING items.id",
                [x for row in values for x in row],
            ).fetchall()
            held |= {int(row["id"]) for row in rows}
        return held

    def release_item(self, item: Item, now: datetime) -> None:
        with self._db.write() as c:
            self._give_back(c, item, now)

    def _give_back(self, c: Conn, item: Item, now: datetime) -> None:
        self._settle(c, item, ItemStatus.PENDING, now, attempts=item.attempts - 1)

    def _lost_claim(
        self, c: Conn, row: Row, item: Item, status: ItemStatus, error: str, now: datetime
    ) -> bool:
        """A claim whose run will not report (dead node, stale, unrecorded end): given back
        when its work never started, else settled as `status`, the attempt counted. False
        when the claim moved on since `row` was read (settled by its owner, whose outcomes
        skip the writers' lock on PostgreSQL, or claimed anew): left as it is."""
        try:
            if row["started_at"] is None:
                self._give_back(c, item, now)
            else:
                self._settle(c, item, status, now, error=error, not_before="")
        except StaleClaim:
            return False
        return True

    RUN_FAILED = (
        "status IN ('failed', 'dead') AND id IN (SELECT item_id FROM item_attempts"
        " WHERE run_id = ? AND outcome IN ('failed', 'dead'))"
    )

    def item_attempts(self, item_id: int, limit: int = 100) -> list[Attempt]:
        return self._attempts("item_id", item_id, limit)

    def run_attempts(self, run_id: int, limit: int = 300) -> list[Attempt]:
        return self._attempts("run_id", run_id, limit)

    def _attempts(self, column: str, value: int, limit: int) -> list[Attempt]:
        sql = f"SELECT * FROM item_attempts WHERE {column} = ? ORDER BY id LIMIT ?"
        return valid(to_attempt, self._db.get().execute(sql, (value, limit)).fetchall())

    def failed_of_run(self, run_id: int) -> int:
        row = (
            self._db.get()
            .execute(f"SELECT count(*) AS n FROM items WHERE {self.RUN_FAILED}", (run_id,))
            .fetchone()
        )
        return int(row["n"])

    def retry_items(
        self, job: str, now: datetime, run_id: int | None = None, reserve_for: int | None = None
    ) -> int:
        where, params = "job = ? AND status IN ('failed', 'dead')", [job]
        if run_id is not None:
            where, params = f"job = ? AND {self.RUN_FAILED}", [job, str(run_id)]
        with self._db.write() as c:
            rows = c.execute(f"SELECT * FROM items WHERE {where}", tuple(params)).fetchall()
            moved = 0
            for row in rows:
                cursor = c.execute(
                    "UPDATE items SET status = 'pending', not_before = '', reserved_for = ?,"
                    " max_attempts = CASE WHEN max_attempts > attempts THEN max_attempts"
                    " ELSE attempts + 1 END, updated_at = ? WHERE id = ? AND status = ?",
                    (reserve_for, iso(now), row["id"], row["status"]),
                )
                if cursor.rowcount != 1:
                    continue  # claimed meanwhile by a node that does not wait for writers
                _count(c, row["job"], row["queue"], row["tenant"], **{row["status"]: -1}, pending=1)
                moved += 1
            return moved

    def release_run_claims(self, run_id: int, now: datetime, why: str) -> int:
        return self._release_claimed("run_id = ? AND status = 'claimed'", [run_id], now, why)

    def release_claims(self, nodes: list[str], now: datetime, why: str) -> int:
        if not nodes:
            return 0
        marks = ", ".join("?" for _ in nodes)
        return self._release_claimed(
            f"status = 'claimed' AND claim_owner IN ({marks})", nodes, now, why
        )

    def _release_claimed(self, where: str, params: Sequence[Any], now: datetime, why: str) -> int:
        with self._db.write() as c:
            rows = c.execute(f"SELECT * FROM items WHERE {where}", tuple(params)).fetchall()
            moved = 0
            for row in rows:
                item = to_item(row)
                moved += self._lost_claim(c, row, item, ItemStatus.FAILED, why, now)
            return moved

    def sweep_stale_items(self, cutoff: datetime, now: datetime) -> list[Item]:
        with self._db.write() as c:
            rows = c.execute(
                "SELECT * FROM items WHERE status = 'claimed' AND heartbeat_at < ?", (iso(cutoff),)
            ).fetchall()
            swept = []
            for row in rows:
                item = to_item(row)
                status = ItemStatus.FAILED if item.attempts < item.max_attempts else ItemStatus.DEAD
                why = f"stale: no heartbeat since {row['heartbeat_at']}"
                if not self._lost_claim(c, row, item, status, why, now):
                    continue
                swept.append(self._item(c, item.id))
                fault("mid_sweep")
            return swept

    def heartbeat_items(self, node: str, now: datetime) -> None:
        with self._db.write() as c:
            c.execute(
                "UPDATE items SET heartbeat_at = ? WHERE status = 'claimed' AND claim_owner = ?",
                (iso(now), node),
            )

    def get_item(self, job: str, key: str) -> Item | None:
        row = (
            self._db.get()
            .execute("SELECT * FROM items WHERE job = ? AND key = ?", (job, key))
            .fetchone()
        )
        return to_item(row) if row else None

    def known_keys(self, job: str, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        conn = self._db.get()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            found.update(
                row[0]
                for row in conn.execute(
                    f"SELECT key FROM items WHERE job = ? AND key IN ({marks})", (job, *chunk)
                ).fetchall()
            )
        return found

    def list_items(
        self,
        job: str | None = None,
        run_id: int | None = None,
        status: ItemStatus | None = None,
        limit: int = 100,
        tenant: str | None = None,
    ) -> list[Item]:
        conn = self._db.get()
        queues: list[str | None] = [None]
        if job is not None and tenant is not None and status is not None:
            # a tenant's items by state, through the claims' index: queue by queue, each in
            # id order, merged (a tenant has one queue or a few)
            queues = [
                row["queue"]
                for row in conn.execute(
                    "SELECT queue FROM tenant_counts WHERE job = ? AND tenant = ?", (job, tenant)
                ).fetchall()
            ]
        rows: list[Row] = []
        for queue in queues:
            body, params = where(
                ("job", job),
                ("run_id", run_id),
                ("status", status),
                ("tenant", tenant),
                ("queue", queue),
            )
            rows += conn.execute(
                f"SELECT * FROM items WHERE {body} ORDER BY id LIMIT ?", (*params, limit)
            ).fetchall()
        if len(queues) > 1:
            rows = sorted(rows, key=lambda row: int(row["id"]))[:limit]
        return valid(to_item, rows)

    def outcomes_since(self, job: str, since: datetime) -> dict[str, tuple[int, int]]:
        # through the (job, status, updated_at) index
        rows = (
            self._db.get()
            .execute(
                "SELECT tenant, status = 'done' AS ok, count(*) AS n FROM items WHERE job = ?"
                " AND status IN ('done', 'failed', 'dead') AND updated_at >= ?"
                " GROUP BY tenant, status = 'done'",
                (job, iso(since)),
            )
            .fetchall()
        )
        found: dict[str, tuple[int, int]] = {}
        for r in rows:
            done, failed = found.get(r["tenant"], (0, 0))
            found[r["tenant"]] = (done + r["n"], failed) if r["ok"] else (done, failed + r["n"])
        return found

    def oldest_pending(self, job: str) -> dict[str, datetime]:
        c = self._db.get()
        queues = c.execute(
            "SELECT queue, tenant FROM tenant_counts WHERE job = ? AND pending > 0", (job,)
        ).fetchall()
        oldest: dict[str, datetime] = {}
        for q in queues:
            row = c.execute(
                "SELECT created_at FROM items WHERE job = ? AND queue = ? AND tenant = ?"
                " AND status = 'pending' ORDER BY id LIMIT 1",
                (job, q["queue"], q["tenant"]),
            ).fetchone()
            if row:
                at = parse_iso(row["created_at"])
                oldest[q["tenant"]] = min(at, oldest.get(q["tenant"], at))
        return oldest

    def tenant_counts(self, job: str | None = None) -> list[TenantCounts]:
        where, params = ("WHERE job = ?", (job,)) if job else ("", ())
        rows = (
            self._db.get()
            .execute(
                "SELECT job, tenant, CAST(sum(pending) AS BIGINT) AS pending,"
                " CAST(sum(claimed) AS BIGINT) AS claimed, CAST(sum(done) AS BIGINT) AS done,"
                " CAST(sum(failed) AS BIGINT) AS failed, CAST(sum(dead) AS BIGINT) AS dead"
                f" FROM tenant_counts {where} GROUP BY job, tenant ORDER BY job, tenant",
                params,
            )
            .fetchall()
        )
        return valid(to_counts, rows)
