"""Alert incidents: one open row per key (a job's failure kind, a job's silence), counted while
it lasts and closed once; the partial unique index on open keys is what lets one node, of
several seeing the same failure, open it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ...clock import iso
from ...models import Incident
from . import Database
from .rows import marks, to_incident, valid


class IncidentsMixin:
    _db: Database

    def open_incident(
        self, key: str, job: str, kind: str, message: str, now: datetime
    ) -> tuple[Incident, bool]:
        at = iso(now)
        with self._db.write() as c:
            row = c.execute(
                "INSERT INTO incidents (key, job, kind, status, opened_at, updated_at, message,"
                " occurrences) VALUES (?, ?, ?, 'open', ?, ?, ?, 1) ON CONFLICT DO NOTHING"
                " RETURNING *",
                (key, job, kind, at, at, message),
            ).fetchone()
            if row is not None:
                return to_incident(row), True
            row = c.execute(
                "UPDATE incidents SET occurrences = occurrences + 1, updated_at = ?, message = ?"
                " WHERE key = ? AND status = 'open' RETURNING *",
                (at, message, key),
            ).fetchone()
            return to_incident(row), False

    def incident_said(self, incident_id: int, now: datetime) -> None:
        with self._db.write() as c:
            c.execute("UPDATE incidents SET said_at = ? WHERE id = ?", (iso(now), incident_id))

    def close_incidents(self, job: str, kinds: Sequence[str], now: datetime) -> list[Incident]:
        with self._db.write() as c:
            rows = c.execute(
                "UPDATE incidents SET status = 'closed', closed_at = ?, updated_at = ?"
                f" WHERE status = 'open' AND job = ? AND kind IN ({marks(len(kinds))})"
                " RETURNING *",
                (iso(now), iso(now), job, *kinds),
            ).fetchall()
        return sorted(valid(to_incident, rows), key=lambda i: i.id)

    def close_incident(self, key: str, now: datetime) -> Incident | None:
        with self._db.write() as c:
            row = c.execute(
                "UPDATE incidents SET status = 'closed', closed_at = ?, updated_at = ?"
                " WHERE key = ? AND status = 'open' RETURNING *",
                (iso(now), iso(now), key),
            ).fetchone()
        return to_incident(row) if row else None

    def list_incidents(self, open_only: bool = False, limit: int = 100) -> list[Incident]:
        where = "WHERE status = 'open'" if open_only else ""
        rows = (
            self._db.get()
            .execute(f"SELECT * FROM incidents {where} ORDER BY id DESC LIMIT ?", (limit,))
            .fetchall()
        )
        return valid(to_incident, rows)
