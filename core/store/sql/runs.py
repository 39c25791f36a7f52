"""Runs: the tick claim, overlap decisions, progress and the audit of every run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from ...clock import iso
from ...models import Overlap, Run, RunReason, RunStatus
from . import Conn, Cursor, Database, Row
from .rows import dumps, marks, to_run, valid, where

T = TypeVar("T")
Tick = tuple[str, datetime, Overlap]  # a job, its tick, its overlap policy
ACTIVE = "('queued', 'running')"
# SQLite uses a partial index only for a query that repeats the index's condition: without the
# IN term these read a job's whole history (or every run) instead of the index runs_active.
RUNNING = f"status IN {ACTIVE} AND status = 'running'"
QUEUED = f"status IN {ACTIVE} AND status = 'queued'"


def _decide(overlap: Overlap, active: list[Row]) -> tuple[RunStatus, str | None]:
    running = [r["id"] for r in active if r["status"] == RunStatus.RUNNING]
    queued = [r["id"] for r in active if r["status"] == RunStatus.QUEUED]
    if overlap is Overlap.ALLOW or not active:
        return RunStatus.RUNNING, None
    if overlap is Overlap.QUEUE and not queued:
        return RunStatus.QUEUED, None
    if queued:
        return RunStatus.SKIPPED, f"overlap: run #{queued[0]} is already queued"
    return RunStatus.SKIPPED, f"overlap: run #{running[0]} is still running"


def _chunks(rows: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _rounds(
    ticks: list[tuple[str, datetime, Overlap]],
) -> list[list[tuple[str, datetime, Overlap]]]:
    """The ticks with at most one per job in each round, in the order they came: a job's
    second tick is decided after its first one's run exists."""
    rounds: list[list[Tick]] = []
    seen: dict[str, int] = {}
    for tick in ticks:
        n = seen[tick[0]] = seen.get(tick[0], -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(tick)
    return rounds


def _inserted(cursor: Cursor) -> Run | None:
    """The run an INSERT ... ON CONFLICT DO NOTHING RETURNING * made; None when the tick
    already had its run (the UNIQUE(job, scheduled_for) rule that claims ticks)."""
    row = cursor.fetchone()
    return to_run(row) if row else None


class RunsMixin:
    _db: Database

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
        with self._db.write() as c:
            active = c.execute(
                f"SELECT id, status FROM runs INDEXED BY runs_active"
                f" WHERE status IN {ACTIVE} AND job = ? ORDER BY id",
                (job,),
            ).fetchall()
            status, error = _decide(overlap, active)
            started = iso(now) if status is RunStatus.RUNNING else None
            finished = iso(now) if status is RunStatus.SKIPPED else None
            return _inserted(
                c.execute(
                    "INSERT INTO runs (job, reason, status, scheduled_for, node, created_at,"
                    " started_at, heartbeat_at, finished_at, error, overrides)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *",
                    (
                        job,
                        reason,
                        status,
                        iso(scheduled_for),
                        node,
                        iso(now),
                        started,
                        started,
                        finished,
                        error,
                        dumps(overrides or {}),
                    ),
                )
            )

    def claim_ticks(
        self, ticks: Sequence[tuple[str, datetime, Overlap | None]], node: str, now: datetime
    ) -> list[Run]:
        with self._db.write() as c:
            latest: dict[str, str] = {}
            for job, tick, _ in ticks:
                latest[job] = max(latest.get(job, ""), iso(tick))
            for pairs in _chunks(list(latest.items()), 400):
                c.execute(  # each job's latest tick, in one statement
                    f"WITH t(name, tick) AS (VALUES {marks(len(pairs), 2)}) UPDATE jobs"
                    " SET last_tick = t.tick FROM t"
                    " WHERE jobs.name = t.name AND coalesce(jobs.last_tick, '') < t.tick",
                    [v for pair in pairs for v in pair],
                )
            made: list[Run] = []
            for group in _rounds([(job, tick, o) for job, tick, o in ticks if o is not None]):
                for chunk in _chunks(group, 200):
                    made += self._insert_runs(c, chunk, node, now)
            return made

    def _insert_runs(self, c: Conn, ticks: list[Tick], node: str, now: datetime) -> list[Run]:
        """One run row per tick (one tick per job here), each decided by its job's overlap
        policy against the runs in flight: two statements, however many ticks."""
        jobs = [job for job, _, _ in ticks]
        active: dict[str, list[Row]] = {}
        for row in c.execute(
            f"SELECT id, status, job FROM runs INDEXED BY runs_active WHERE status IN {ACTIVE}"
            f" AND job IN ({marks(len(jobs))}) ORDER BY id",
            jobs,
        ).fetchall():
            active.setdefault(row["job"], []).append(row)
        values = []
        for job, tick, overlap in ticks:
            status, error = _decide(overlap, active.get(job, []))
            started = iso(now) if status is RunStatus.RUNNING else None
            finished = iso(now) if status is RunStatus.SKIPPED else None
            values.append(
                (job, RunReason.SCHEDULE, status, iso(tick), node, iso(now), started, started)
                + (finished, error, "{}")
            )
        rows = c.execute(
            "INSERT INTO runs (job, reason, status, scheduled_for, node, created_at, started_at,"
            f" heartbeat_at, finished_at, error, overrides) VALUES {marks(len(values), 11)}"
            " ON CONFLICT DO NOTHING RETURNING *",
            [v for row in values for v in row],
        ).fetchall()
        return sorted(valid(to_run, rows), key=lambda run: run.id)

    def _fetch_run(self, c: Conn, run_id: int | None) -> Run:
        row = c.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return to_run(row)

    def queue_run(
        self, job: str, scheduled_for: datetime, reason: RunReason, now: datetime
    ) -> Run | None:
        with self._db.write() as c:
            return _inserted(
                c.execute(
                    "INSERT INTO runs (job, reason, status, scheduled_for, created_at)"
                    " VALUES (?, ?, 'queued', ?, ?) ON CONFLICT DO NOTHING RETURNING *",
                    (job, reason, iso(scheduled_for), iso(now)),
                )
            )

    def runs_at(self, job: str, ticks: list[datetime]) -> dict[datetime, int]:
        found: dict[datetime, int] = {}
        for start in range(0, len(ticks), 500):
            chunk = {iso(t): t for t in ticks[start : start + 500]}
            marks = ", ".join("?" for _ in chunk)
            rows = (
                self._db.get()
                .execute(
                    "SELECT id, scheduled_for FROM runs"
                    f" WHERE job = ? AND scheduled_for IN ({marks})",
                    (job, *chunk),
                )
                .fetchall()
            )
            found.update({chunk[r["scheduled_for"]]: r["id"] for r in rows})
        return found

    def record_missed(self, job: str, ticks: list[datetime], now: datetime, why: str) -> Run | None:
        summary = {"count": len(ticks), "first": iso(ticks[0]), "last": iso(ticks[-1])}
        with self._db.write() as c:
            return _inserted(
                c.execute(
                    "INSERT INTO runs (job, reason, status, scheduled_for, created_at, finished_at,"
                    " error, summary, skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING RETURNING *",
                    (
                        job,
                        RunReason.CATCH_UP,
                        RunStatus.MISSED,
                        iso(ticks[0]),
                        iso(now),
                        iso(now),
                        why,
                        dumps(summary),
                        len(ticks),
                    ),
                )
            )

    def start_queued_run(self, job: str, node: str, now: datetime, allow: bool) -> Run | None:
        with self._db.write() as c:
            if (
                not allow
                and c.execute(f"SELECT 1 FROM runs WHERE {RUNNING} AND job = ?", (job,)).fetchone()
            ):
                return None
            row = c.execute(
                f"SELECT id FROM runs WHERE {QUEUED} AND job = ? ORDER BY id LIMIT 1",
                (job,),
            ).fetchone()
            if row is None:
                return None
            c.execute(
                "UPDATE runs SET status = 'running', node = ?, started_at = ?, heartbeat_at = ?"
                " WHERE id = ? AND status = 'queued'",
                (node, iso(now), iso(now), row["id"]),
            )
            return self._fetch_run(c, row["id"])

    def queued_jobs(self) -> list[str]:
        rows = self._db.get().execute(f"SELECT DISTINCT job FROM runs WHERE {QUEUED}").fetchall()
        return [r["job"] for r in rows]

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        now: datetime,
        error: str | None = None,
        summary: dict[str, Any] | None = None,
        left: int = 0,
    ) -> bool:
        with self._db.write() as c:
            cursor = c.execute(
                'UPDATE runs SET status = ?, finished_at = ?, error = ?, summary = ?, "left" = ?'
                " WHERE id = ? AND status = 'running'",
                (status, iso(now), error, dumps(summary or {}), left, run_id),
            )
            if cursor.rowcount != 1:
                return False
            c.execute(
                "UPDATE jobs SET last_run_id = ? WHERE name = (SELECT job FROM runs WHERE id = ?)",
                (run_id, run_id),
            )
            return True

    def update_run_progress(
        self,
        run_id: int,
        total: int | None = None,
        processed: int = 0,
        failed: int = 0,
        skipped: int = 0,
    ) -> None:
        with self._db.write() as c:
            c.execute(
                "UPDATE runs SET total = coalesce(?, total), processed = processed + ?,"
                " failed = failed + ?, skipped = skipped + ? WHERE id = ?",
                (total, processed, failed, skipped, run_id),
            )

    def get_run(self, run_id: int) -> Run | None:
        row = self._db.get().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return to_run(row) if row else None

    def list_runs(
        self,
        job: str | None = None,
        status: RunStatus | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Run]:
        first, start = ("created_at >= ?", (iso(since),)) if since else ("1 = 1", ())
        body, params = where(("job", job), ("status", status), first=first, params=start)
        rows = (
            self._db.get()
            .execute(f"SELECT * FROM runs WHERE {body} ORDER BY id DESC LIMIT ?", (*params, limit))
            .fetchall()
        )
        return valid(to_run, rows)

    def active_runs(self) -> list[Run]:
        rows = (
            self._db.get()
            .execute(f"SELECT * FROM runs WHERE status IN {ACTIVE} ORDER BY id")
            .fetchall()
        )
        return valid(to_run, rows)

    def skipped_after(self, job: str, run_id: int, limit: int) -> int:
        rows = (
            self._db.get()
            .execute(  # the (job, id) index, read from run_id on
                "SELECT 1 FROM runs WHERE job = ? AND id > ? AND status = 'skipped' LIMIT ?",
                (job, run_id, limit),
            )
            .fetchall()
        )
        return len(rows)

    def last_runs(self) -> dict[str, Run]:
        rows = (
            self._db.get()
            .execute("SELECT runs.* FROM jobs JOIN runs ON runs.id = jobs.last_run_id")
            .fetchall()
        )
        return {run.job: run for run in valid(to_run, rows)}

    def request_cancel(self, run_id: int, now: datetime) -> Run | None:
        with self._db.write() as c:
            c.execute(
                "UPDATE runs SET status = 'cancelled', finished_at = ?, error = 'cancelled'"
                " WHERE id = ? AND status = 'queued'",
                (iso(now), run_id),
            )
            c.execute(
                "UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status = 'running'",
                (run_id,),
            )
            row = c.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            return to_run(row) if row else None
