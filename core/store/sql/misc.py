"""Jobs, job state and watermarks, the global switch, nodes, commands and logs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...clock import iso
from ...models import Command, CommandStatus, JobState, LogEntry, Node, Watermark
from . import Conn, Database
from .rows import (
    dumps,
    loads,
    marks,
    maybe_iso,
    to_command,
    to_job_state,
    to_log,
    to_node,
    valid,
    where,
)
from .runs import RUNNING


def put_state(c: Conn, job: str, key: str, value: Any, now: datetime) -> None:
    c.execute(
        "INSERT INTO job_state (job, key, value, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (job, key) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        (job, key, dumps(value), iso(now)),
    )


def advance_watermark_in(c: Conn, job: str, mark: Watermark, now: datetime) -> None:
    """Move the cursor forward only, inside the caller's transaction (the item outcome's)."""
    row = c.execute(
        "SELECT value FROM job_state WHERE job = ? AND key = 'watermark'", (job,)
    ).fetchone()
    current = loads(row["value"]) if row else None
    if current is None or Watermark(current["at"], current["key"]) < mark:
        put_state(c, job, "watermark", {"at": mark.at, "key": mark.key}, now)


class JobsMixin:
    _db: Database

    def ensure_jobs(self, names: Sequence[str], now: datetime) -> None:
        with self._db.write() as c:
            c.executemany(
                "INSERT INTO jobs (name, updated_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(name, iso(now)) for name in names],
            )

    def job_states(self, names: Sequence[str] | None = None) -> dict[str, JobState]:
        if names is None:
            rows = self._db.get().execute("SELECT * FROM jobs ORDER BY name").fetchall()
        else:
            rows = []
            for start in range(0, len(names), 500):
                chunk = list(names[start : start + 500])
                sql = f"SELECT * FROM jobs WHERE name IN ({marks(len(chunk))})"
                rows += self._db.get().execute(sql, chunk).fetchall()
        return {state.name: state for state in valid(to_job_state, rows)}

    def job_state(self, name: str) -> JobState | None:
        row = self._db.get().execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        return to_job_state(row) if row else None

    def set_paused(
        self,
        name: str,
        paused: bool,
        now: datetime,
        reason: str | None = None,
        until: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        with self._db.write() as c:
            before = c.execute("SELECT paused FROM jobs WHERE name = ?", (name,)).fetchone()
            c.execute(
                "INSERT INTO jobs (name, updated_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (name, iso(now)),
            )
            c.execute(
                "UPDATE jobs SET paused = ?, pause_reason = ?, pause_until = ?, paused_by = ?,"
                " updated_at = ? WHERE name = ?",
                (
                    int(paused),
                    reason if paused else None,
                    maybe_iso(until) if paused else None,
                    by if paused else None,
                    iso(now),
                    name,
                ),
            )
            return paused or bool(before and before["paused"])

    def set_job_settings(
        self, name: str, settings: dict[str, Any], now: datetime, clear_state: Sequence[str] = ()
    ) -> None:
        with self._db.write() as c:
            for key in clear_state:
                c.execute("DELETE FROM job_state WHERE job = ? AND key = ?", (name, key))
            c.execute(
                "INSERT INTO jobs (name, updated_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (name, iso(now)),
            )
            c.execute(
                "UPDATE jobs SET settings = ?, updated_at = ? WHERE name = ?",
                (dumps(settings), iso(now), name),
            )

    def record_tick(self, name: str, at: datetime) -> None:
        with self._db.write() as c:
            c.execute(
                "UPDATE jobs SET last_tick = ? WHERE name = ? AND coalesce(last_tick, '') < ?",
                (iso(at), name, iso(at)),
            )

    def get_control(self, key: str) -> Any:
        row = self._db.get().execute("SELECT value FROM control WHERE key = ?", (key,)).fetchone()
        return loads(row["value"]) if row else None

    def set_control(self, key: str, value: Any, now: datetime) -> None:
        with self._db.write() as c:
            c.execute(
                "INSERT INTO control (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (key, dumps(value), iso(now)),
            )


class StateMixin:
    _db: Database

    def get_state(self, job: str, key: str, default: Any = None) -> Any:
        row = (
            self._db.get()
            .execute("SELECT value FROM job_state WHERE job = ? AND key = ?", (job, key))
            .fetchone()
        )
        return loads(row["value"]) if row else default

    def all_state(self, job: str) -> dict[str, Any]:
        rows = (
            self._db.get()
            .execute("SELECT key, value FROM job_state WHERE job = ? ORDER BY key", (job,))
            .fetchall()
        )
        return {r["key"]: loads(r["value"]) for r in rows}

    def set_state(self, job: str, key: str, value: Any, now: datetime) -> None:
        with self._db.write() as c:
            put_state(c, job, key, value, now)

    def delete_state(self, job: str, key: str) -> None:
        with self._db.write() as c:
            c.execute("DELETE FROM job_state WHERE job = ? AND key = ?", (job, key))

    def get_watermark(self, job: str) -> Watermark | None:
        value = self.get_state(job, "watermark")
        return Watermark(value["at"], value["key"]) if value else None

    def advance_watermark(self, job: str, mark: Watermark, now: datetime) -> None:
        with self._db.write() as c:
            advance_watermark_in(c, job, mark, now)


class NodesMixin:
    _db: Database

    def register_node(self, node: Node) -> None:
        with self._db.write() as c:
            c.execute(
                "INSERT INTO nodes (id, role, hostname, pid, started_at, heartbeat_at, version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    node.id,
                    node.role,
                    node.hostname,
                    node.pid,
                    iso(node.started_at),
                    iso(node.heartbeat_at),
                    node.version,
                ),
            )

    def heartbeat(self, node: str, now: datetime) -> list[int]:
        with self._db.write() as c:
            c.execute("UPDATE nodes SET heartbeat_at = ? WHERE id = ?", (iso(now), node))
            c.execute(
                f"UPDATE runs SET heartbeat_at = ? WHERE {RUNNING} AND node = ?",
                (iso(now), node),
            )
            rows = c.execute(
                f"SELECT id FROM runs WHERE {RUNNING} AND node = ? AND cancel_requested = 1",
                (node,),
            ).fetchall()
        return [r["id"] for r in rows]

    def stop_node(self, node: str, now: datetime) -> None:
        with self._db.write() as c:
            c.execute("UPDATE nodes SET stopped_at = ? WHERE id = ?", (iso(now), node))

    def nodes(self, live_since: datetime | None = None) -> list[Node]:
        sql, params = "SELECT * FROM nodes WHERE stopped_at IS NULL", []
        if live_since is not None:
            sql, params = sql + " AND heartbeat_at >= ?", [iso(live_since)]
        rows = self._db.get().execute(sql + " ORDER BY started_at", params).fetchall()
        return valid(to_node, rows)

    def last_stopped_host(self) -> Node | None:
        rows = (
            self._db.get()
            .execute(
                "SELECT * FROM nodes WHERE role = 'host' AND stopped_at IS NOT NULL"
                " ORDER BY stopped_at DESC LIMIT 1"
            )
            .fetchall()
        )
        found = valid(to_node, rows)
        return found[0] if found else None

    def abandon_runs(self, nodes: list[str], now: datetime, why: str) -> list[int]:
        if not nodes:
            return []
        marks = ", ".join("?" for _ in nodes)
        with self._db.write() as c:
            rows = c.execute(
                f"SELECT id FROM runs WHERE {RUNNING} AND node IN ({marks})", nodes
            ).fetchall()
            c.execute(
                f"UPDATE runs SET status = 'abandoned', finished_at = ?, error = ?"
                f" WHERE {RUNNING} AND node IN ({marks})",
                (iso(now), why, *nodes),
            )
            c.execute(
                f"UPDATE nodes SET stopped_at = ? WHERE id IN ({marks}) AND stopped_at IS NULL",
                (iso(now), *nodes),
            )
        return [r["id"] for r in rows]


class CommandsMixin:
    _db: Database

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
        with self._db.write() as c:
            row = c.execute(
                "INSERT INTO commands (created_at, who, origin, action, job, run_id, args,"
                " reason, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending') RETURNING *",
                (iso(now), who, origin, action, job, run_id, dumps(args or {}), reason),
            ).fetchone()
        return to_command(row)

    def pending_commands(self, limit: int = 50) -> list[Command]:
        rows = (
            self._db.get()
            .execute(
                "SELECT * FROM commands WHERE status = 'pending' ORDER BY id LIMIT ?", (limit,)
            )
            .fetchall()
        )
        return valid(to_command, rows)

    def claim_command(self, command_id: int, node: str, now: datetime) -> bool:
        with self._db.write() as c:
            cursor = c.execute(
                "UPDATE commands SET status = 'applying', applied_by = ?, applied_at = ?"
                " WHERE id = ? AND status = 'pending'",
                (node, iso(now), command_id),
            )
            return cursor.rowcount == 1

    def finish_command(
        self,
        command_id: int,
        status: CommandStatus,
        result: str,
        now: datetime,
        run_id: int | None = None,
    ) -> Command:
        with self._db.write() as c:
            c.execute(
                "UPDATE commands SET status = ?, result = ?, applied_at = ?,"
                " run_id = coalesce(?, run_id) WHERE id = ?",
                (status, result, iso(now), run_id, command_id),
            )
            row = c.execute("SELECT * FROM commands WHERE id = ?", (command_id,)).fetchone()
        return to_command(row)

    def get_command(self, command_id: int) -> Command | None:
        row = (
            self._db.get().execute("SELECT * FROM commands WHERE id = ?", (command_id,)).fetchone()
        )
        return to_command(row) if row else None

    def list_commands(
        self, job: str | None = None, limit: int = 50, since: datetime | None = None
    ) -> list[Command]:
        first, start = ("created_at >= ?", (iso(since),)) if since else ("1 = 1", ())
        body, params = where(("job", job), first=first, params=start)
        rows = (
            self._db.get()
            .execute(
                f"SELECT * FROM commands WHERE {body} ORDER BY id DESC LIMIT ?", (*params, limit)
            )
            .fetchall()
        )
        return valid(to_command, rows)


class LogsMixin:
    _db: Database

    def add_logs(
        self, entries: Sequence[tuple[datetime, str, str | None, int | None, str, str]]
    ) -> None:
        with self._db.write() as c:
            c.executemany(
                "INSERT INTO logs (at, level, job, run_id, logger, message)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(iso(at), *rest) for at, *rest in entries],
            )

    def recent_logs(
        self,
        job: str | None = None,
        run_id: int | None = None,
        after_id: int = 0,
        limit: int = 200,
        levels: Sequence[str] | None = None,
    ) -> list[LogEntry]:
        body, params = where(("job", job), ("run_id", run_id), first="id > ?", params=(after_id,))
        if levels is not None:
            body += f" AND level IN ({', '.join('?' for _ in levels) or 'NULL'})"
            params += list(levels)
        rows = (
            self._db.get()
            .execute(f"SELECT * FROM logs WHERE {body} ORDER BY id DESC LIMIT ?", (*params, limit))
            .fetchall()
        )
        return valid(to_log, reversed(rows))

    def prune_logs(self, keep: int) -> int:
        with self._db.write() as c:
            cursor = c.execute(
                "DELETE FROM logs WHERE id <= (SELECT max(id) FROM logs) - ?", (keep,)
            )
            return cursor.rowcount
