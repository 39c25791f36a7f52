"""Record collections (jobs' own data) and chunked, resumable archiving."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ...clock import iso
from ...faults import fault
from ...models import Item, Record, Run
from . import Conn, Database, Row
from .rows import checked, dumps, loads, to_item, to_run, valid, when, where

ARCHIVABLE = {
    # kind: (table, id column, condition on age) — names from code, never from input
    "runs": ("runs", "id", "finished_at IS NOT NULL AND finished_at < ?"),
    "items": ("items", "id", "status = 'done' AND updated_at < ?"),
    "commands": ("commands", "id", "status != 'pending' AND created_at < ?"),
    "logs": ("logs", "id", "at < ?"),
    "attempts": ("item_attempts", "id", "at < ?"),
}


@checked("record")
def _record(row: Row) -> Record:
    return Record(
        key=row["key"],
        data=loads(row["data"]),
        grp=row["grp"],
        at=row["at"],
        status=row["status"],
        updated_at=when(row["updated_at"]),
    )


class RecordsMixin:
    _db: Database
    # a field of an archived row's JSON, as text (PostgreSQL: data::json->>'field')
    JSON_TEXT = "CAST(json_extract(data, '$.{field}') AS TEXT)"

    def put_records(self, collection: str, records: Sequence[Record], now: datetime) -> None:
        with self._db.write() as c:
            c.executemany(
                "INSERT INTO records (collection, key, grp, at, status, data, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection, key) DO UPDATE SET"
                " grp = excluded.grp, at = excluded.at, status = excluded.status,"
                " data = excluded.data, updated_at = excluded.updated_at",
                [
                    (collection, r.key, r.grp, r.at, r.status, dumps(r.data), iso(now))
                    for r in records
                ],
            )

    def get_record(self, collection: str, key: str) -> Record | None:
        row = (
            self._db.get()
            .execute("SELECT * FROM records WHERE collection = ? AND key = ?", (collection, key))
            .fetchone()
        )
        return _record(row) if row else None

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
        body, params = where(
            ("grp", grp), ("status", status), first="collection = ?", params=(collection,)
        )
        for clause, value in (("at >= ?", at_from), ("at < ?", at_to)):
            if value is not None:
                body += f" AND {clause}"
                params.append(value)
        order = "DESC" if newest_first else "ASC"
        rows = (
            self._db.get()
            .execute(
                f"SELECT * FROM records WHERE {body} ORDER BY at {order}, key LIMIT ?",
                (*params, limit),
            )
            .fetchall()
        )
        return valid(_record, rows)

    def record_groups(self, collection: str, at_from: str) -> list[str]:
        rows = (
            self._db.get()
            .execute(
                "SELECT DISTINCT grp FROM records WHERE collection = ? AND at >= ? ORDER BY grp",
                (collection, at_from),
            )
            .fetchall()
        )
        return [r["grp"] for r in rows]

    def count_records(self, collection: str, status: str | None = None) -> int:
        body, params = where(("status", status), first="collection = ?", params=(collection,))
        row = (
            self._db.get()
            .execute(f"SELECT count(*) AS n FROM records WHERE {body}", params)
            .fetchone()
        )
        return int(row["n"])

    def sweep_records(
        self,
        collection: str,
        status: str,
        before: str,
        new_status: str,
        now: datetime,
        change: Callable[[Record], Any],
    ) -> list[Record]:
        with self._db.write() as c:
            rows = c.execute(
                "SELECT * FROM records WHERE collection = ? AND status = ? AND at < ?",
                (collection, status, before),
            ).fetchall()
            moved = []
            for row in rows:
                record = _record(row)
                data = change(record)
                cursor = c.execute(
                    "UPDATE records SET status = ?, data = ?, updated_at = ?"
                    " WHERE collection = ? AND key = ? AND status = ?",
                    (new_status, dumps(data), iso(now), collection, record.key, status),
                )
                if cursor.rowcount == 1:
                    moved.append(Record(record.key, data, record.grp, record.at, new_status, now))
                fault("mid_sweep")
            return moved

    def archive_chunk(self, kind: str, before: datetime, limit: int, now: datetime) -> int:
        table, key, condition = ARCHIVABLE[kind]
        with self._db.write() as c:
            rows = c.execute(
                f"SELECT * FROM {table} WHERE {condition} ORDER BY {key} LIMIT ?",
                (iso(before), limit),
            ).fetchall()
            if not rows:
                return 0
            c.executemany(
                "INSERT INTO archive (kind, id, data, archived_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(kind, str(r[key]), dumps(dict(r)), iso(now)) for r in rows],
            )
            fault("mid_archive_chunk")
            c.executemany(f"DELETE FROM {table} WHERE {key} = ?", [(r[key],) for r in rows])
            if kind == "items":
                self._uncount_done(c, rows)
            return len(rows)

    def _uncount_done(self, c: Conn, rows: Sequence[Row]) -> None:
        per_tenant = Counter((r["job"], r["queue"], r["tenant"]) for r in rows)
        c.executemany(
            "UPDATE tenant_counts SET done = done - ? WHERE job = ? AND queue = ? AND tenant = ?",
            [(n, *key) for key, n in per_tenant.items()],
        )

    def archived_run(self, run_id: int) -> Run | None:
        row = (
            self._db.get()
            .execute("SELECT data FROM archive WHERE kind = 'runs' AND id = ?", (str(run_id),))
            .fetchone()
        )
        found = valid(to_run, [loads(row["data"])]) if row else []
        return found[0] if found else None

    def archived_runs(self, job: str | None = None, limit: int = 50) -> list[Run]:
        body, params = "kind = 'runs'", []
        if job is not None:
            body += f" AND {self.JSON_TEXT.format(field='job')} = ?"
            params.append(job)
        rows = (
            self._db.get()
            .execute(
                f"SELECT data FROM archive WHERE {body} ORDER BY CAST(id AS BIGINT) DESC LIMIT ?",
                (*params, limit),
            )
            .fetchall()
        )
        return valid(to_run, [loads(r["data"]) for r in rows])

    def archived_items(self, run_id: int, limit: int = 300) -> list[Item]:
        rows = (
            self._db.get()
            .execute(
                "SELECT data FROM archive WHERE kind = 'items' AND "
                f"{self.JSON_TEXT.format(field='run_id')} = ? ORDER BY CAST(id AS BIGINT) LIMIT ?",
                (str(run_id), limit),
            )
            .fetchall()
        )
        return valid(to_item, [loads(r["data"]) for r in rows])

    def count_archived(self, kind: str) -> int:
        row = (
            self._db.get()
            .execute("SELECT count(*) AS n FROM archive WHERE kind = ?", (kind,))
            .fetchone()
        )
        return int(row["n"])
