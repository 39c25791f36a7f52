"""Frozen dataclasses and enums that core speaks; the store converts rows to these at its edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    STOPPED_EARLY = "stopped_early"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    MISSED = "missed"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class RunReason(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    BACKFILL = "backfill"
    RETRY = "retry"
    CATCH_UP = "catch-up"


class ItemStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"  # failed this attempt; eligible again after not_before
    DEAD = "dead"  # no automatic retries left; an operator retry revives it


class Overlap(StrEnum):
    SKIP = "skip"
    QUEUE = "queue"
    ALLOW = "allow"


class CatchUp(StrEnum):
    LATEST = "latest"
    ALL = "all"
    NONE = "none"


class CommandStatus(StrEnum):
    PENDING = "pending"
    APPLYING = "applying"  # claimed by one process, being applied
    APPLIED = "applied"
    FAILED = "failed"


@dataclass(frozen=True)
class JobState:
    """What the store knows of a job at run time (the definition lives in code and config)."""

    name: str
    paused: bool = False
    pause_reason: str | None = None
    pause_until: datetime | None = None
    paused_by: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    last_tick: datetime | None = None


@dataclass(frozen=True)
class Run:
    id: int
    job: str
    reason: RunReason
    status: RunStatus
    scheduled_for: datetime
    node: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    total: int | None = None
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    left: int = 0
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False


@dataclass(frozen=True)
class Item:
    id: int
    job: str
    key: str
    status: ItemStatus
    queue: str = "default"
    tenant: str = ""
    attempts: int = 0
    max_attempts: int = 5
    not_before: datetime | None = None
    claim_owner: str | None = None
    claim_token: str | None = None
    run_id: int | None = None
    payload: Any = None
    result: Any = None
    error: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    """One try of an item by a run, as the item's history keeps it: which run, which attempt,
    with what outcome, error and traceback."""

    item_id: int
    job: str
    key: str
    tenant: str
    run_id: int | None
    attempt: int
    outcome: ItemStatus
    error: str | None
    at: datetime
    traceback: str | None = None


@dataclass(frozen=True)
class Command:
    id: int
    action: str
    who: str
    created_at: datetime
    status: CommandStatus
    job: str | None = None
    run_id: int | None = None
    args: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    origin: str | None = None
    applied_by: str | None = None
    applied_at: datetime | None = None
    result: str | None = None


@dataclass(frozen=True)
class Node:
    id: str
    role: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    version: str
    stopped_at: datetime | None = None


@dataclass(frozen=True)
class LogEntry:
    id: int
    at: datetime
    level: str
    message: str
    job: str | None = None
    run_id: int | None = None
    logger: str = ""


@dataclass(frozen=True)
class TenantCounts:
    job: str
    tenant: str
    pending: int = 0
    claimed: int = 0
    done: int = 0
    failed: int = 0
    dead: int = 0


@dataclass(frozen=True)
class Settled:
    """One item outcome of a group committed together: done (no `error`) or failed, tried
    again after `retry_at` while attempts remain."""

    item: Item
    at: datetime
    result: Any = None
    error: str | None = None
    retry_at: datetime | None = None
    traceback: str | None = None


@dataclass(frozen=True)
class Incident:
    """One alert incident: opened by a failure (or a silence), counted while it lasts, closed
    once; `said_at` is when it was last sent to a channel."""

    id: int
    key: str
    job: str
    kind: str
    status: str  # open, closed
    opened_at: datetime
    updated_at: datetime
    occurrences: int
    message: str
    said_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Watermark:
    """A composite cursor: items are ordered by (at, key), so equal timestamps never collide."""

    at: str
    key: str

    def __lt__(self, other: Watermark) -> bool:
        return (self.at, self.key) < (other.at, other.key)


@dataclass(frozen=True)
class Record:
    """A row of a job-owned collection: `grp` and `at` are indexed for range reads, `status`
    for sweeps; `data` is any JSON value."""

    key: str
    data: Any = None
    grp: str = ""
    at: str = ""
    status: str = ""
    updated_at: datetime | None = None
