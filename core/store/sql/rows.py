"""Converting rows to core's dataclasses at the store edge, validating as we go."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from ...clock import iso, parse_iso
from ...errors import DamagedRow
from ...models import (
    Attempt,
    Command,
    CommandStatus,
    Incident,
    Item,
    ItemStatus,
    JobState,
    LogEntry,
    Node,
    Run,
    RunReason,
    RunStatus,
    TenantCounts,
)
from . import Row

T = TypeVar("T")
log = logging.getLogger("cronsole.store")


def checked(kind: str) -> Callable[[Callable[[Row], T]], Callable[[Row], T]]:
    """A row converter that refuses a row it cannot validate with DamagedRow, naming it."""

    def wrap(convert: Callable[[Row], T]) -> Callable[[Row], T]:
        @functools.wraps(convert)
        def safe(row: Row) -> T:
            try:
                return convert(row)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                ident = row["id"] if "id" in row.keys() else tuple(row)[:2]
                raise DamagedRow(
                    f"{kind} {ident!r} is damaged and was refused: {type(exc).__name__}: {exc}"
                ) from None

        return safe

    return wrap


def valid(convert: Callable[[Row], T], rows: Iterable[Row]) -> list[T]:
    """Rows converted; a damaged one is left out with a logged error, never a crash."""
    out: list[T] = []
    for row in rows:
        try:
            out.append(convert(row))
        except DamagedRow as exc:
            log.error("%s", exc)
    return out


def where(
    *filters: tuple[str, Any], first: str = "1 = 1", params: tuple[Any, ...] = ()
) -> tuple[str, list[Any]]:
    """A WHERE body from (column, value) pairs, leaving out None values. Column names come
    from our code only; values are always bound."""
    clauses, bound = [first], list(params)
    for column, value in filters:
        if value is not None:
            clauses.append(f"{column} = ?")
            bound.append(value)
    return " AND ".join(clauses), bound


def marks(count: int, width: int = 1) -> str:
    """The placeholders of `count` values (`?, ?`), or of a VALUES list of `count` rows of
    `width` values each (`(?, ?), (?, ?)`)."""
    if width == 1:
        return ", ".join(["?"] * count)
    return ", ".join(["(" + ", ".join(["?"] * width) + ")"] * count)


def when(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def maybe_iso(value: datetime | None) -> str | None:
    return iso(value) if value else None


@checked("job")
def to_job_state(row: Row) -> JobState:
    return JobState(
        name=row["name"],
        paused=bool(row["paused"]),
        pause_reason=row["pause_reason"],
        pause_until=when(row["pause_until"]),
        paused_by=row["paused_by"],
        settings=loads(row["settings"]) or {},
        last_tick=when(row["last_tick"]),
    )


@checked("run")
def to_run(row: Row) -> Run:
    return Run(
        id=row["id"],
        job=row["job"],
        reason=RunReason(row["reason"]),
        status=RunStatus(row["status"]),
        scheduled_for=parse_iso(row["scheduled_for"]),
        node=row["node"],
        created_at=when(row["created_at"]),
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
        heartbeat_at=when(row["heartbeat_at"]),
        total=row["total"],
        processed=row["processed"],
        failed=row["failed"],
        skipped=row["skipped"],
        left=row["left"],
        error=row["error"],
        summary=loads(row["summary"]) or {},
        overrides=loads(row["overrides"]) or {},
        cancel_requested=bool(row["cancel_requested"]),
    )


@checked("attempt")
def to_attempt(row: Row) -> Attempt:
    return Attempt(
        item_id=row["item_id"],
        job=row["job"],
        key=row["key"],
        tenant=row["tenant"] or "",
        run_id=row["run_id"],
        attempt=row["attempt"],
        outcome=ItemStatus(row["outcome"]),
        error=row["error"],
        at=parse_iso(row["at"]),
        traceback=row["traceback"],
    )


@checked("item")
def to_item(row: Row) -> Item:
    return Item(
        id=row["id"],
        job=row["job"],
        key=row["key"],
        status=ItemStatus(row["status"]),
        queue=row["queue"],
        tenant=row["tenant"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        not_before=when(row["not_before"]),
        claim_owner=row["claim_owner"],
        claim_token=row["claim_token"],
        run_id=row["run_id"],
        payload=loads(row["payload"]),
        result=loads(row["result"]),
        error=row["error"],
        updated_at=when(row["updated_at"]),
    )


@checked("command")
def to_command(row: Row) -> Command:
    return Command(
        id=row["id"],
        action=row["action"],
        who=row["who"],
        created_at=parse_iso(row["created_at"]),
        status=CommandStatus(row["status"]),
        job=row["job"],
        run_id=row["run_id"],
        args=loads(row["args"]) or {},
        reason=row["reason"],
        origin=row["origin"],
        applied_by=row["applied_by"],
        applied_at=when(row["applied_at"]),
        result=row["result"],
    )


@checked("node")
def to_node(row: Row) -> Node:
    return Node(
        id=row["id"],
        role=row["role"],
        hostname=row["hostname"],
        pid=row["pid"],
        started_at=parse_iso(row["started_at"]),
        heartbeat_at=parse_iso(row["heartbeat_at"]),
        version=row["version"],
        stopped_at=when(row["stopped_at"]),
    )


@checked("incident")
def to_incident(row: Row) -> Incident:
    return Incident(
        id=int(row["id"]),
        key=row["key"],
        job=row["job"],
        kind=row["kind"],
        status=row["status"],
        opened_at=parse_iso(row["opened_at"]),
        updated_at=parse_iso(row["updated_at"]),
        occurrences=int(row["occurrences"]),
        message=row["message"] or "",
        said_at=when(row["said_at"]),
        closed_at=when(row["closed_at"]),
    )


@checked("log record")
def to_log(row: Row) -> LogEntry:
    return LogEntry(
        id=row["id"],
        at=parse_iso(row["at"]),
        level=row["level"],
        message=row["message"],
        job=row["job"],
        run_id=row["run_id"],
        logger=row["logger"] or "",
    )


@checked("tenant counter")
def to_counts(row: Row) -> TenantCounts:
    return TenantCounts(
        job=row["job"],
        tenant=row["tenant"],
        pending=row["pending"],
        claimed=row["claimed"],
        done=row["done"],
        failed=row["failed"],
        dead=row["dead"],
    )
