"""The panes' column specs: a cell that changes as time passes declares what it moves with, so
the console's row cache (keyed by `moving`) can never keep a stale cell."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from cronsole.core.health import Health
from cronsole.core.models import Command, CommandStatus, Node, Record, Run, RunReason, RunStatus
from cronsole.core.snapshot import JobState, JobView, TenantView
from cronsole.tui.console.rows import (
    AUDIT_COLUMNS,
    BATCH_COLUMNS,
    JOB_COLUMNS,
    NODE_COLUMNS,
    RUN_COLUMNS,
    TENANT_COLUMNS,
    Column,
    cells,
    moving,
)
from tests.conftest import T0

FINISHED = Run(
    1,
    "ingest",
    RunReason.SCHEDULE,
    RunStatus.SUCCEEDED,
    T0 - timedelta(minutes=5),
    started_at=T0 - timedelta(minutes=5),
    finished_at=T0 - timedelta(minutes=4),
    processed=3,
)
RUNNING = Run(
    2,
    "ingest",
    RunReason.SCHEDULE,
    RunStatus.RUNNING,
    T0,
    node="n1",
    started_at=T0 - timedelta(seconds=30),
    total=100,
    processed=40,
)
JOB = JobView(
    "ingest",
    "*/5 * * * *",
    "Every 5 minutes",
    "UTC",
    T0 + timedelta(minutes=3),
    "DST ends",
    JobState.RUNNING,
    None,
    None,
    4,
    1,
    2,
    "2026-03",
    FINISHED,
    RUNNING,
)
TENANT = (
    TenantView("queue", "acme", 3, 1, 0, 95.0, Health.WARN, 0.1, "backlog"),
    [1, 3, 2],
    (1, 3),
)
NODE = (
    Node("n1", "host", "box", 42, T0 - timedelta(hours=2), T0 - timedelta(seconds=4), "0.1"),
    True,
    1,
)
COMMAND = Command(7, "pause", "ops@box", T0, CommandStatus.APPLIED, job="ingest", reason="swap")
# a moment later, a minute later, an hour later: each moving cell changes at one of them
LATER = [timedelta(seconds=s) for s in (1, 61, 3601)]

PANES: list[tuple[Sequence[Column[Any]], Any]] = [
    (JOB_COLUMNS, JOB),
    (TENANT_COLUMNS, TENANT),
    (RUN_COLUMNS, RUNNING),
    (RUN_COLUMNS, FINISHED),
    (NODE_COLUMNS, NODE),
    (AUDIT_COLUMNS, COMMAND),
    (BATCH_COLUMNS, Record("batch_a", {"provider": "openai", "results": 2}, status="completed")),
]


@pytest.mark.parametrize("columns, value", PANES)
def test_a_cell_that_changes_with_time_changes_its_rows_cache_key(
    columns: Sequence[Column[Any]], value: Any
) -> None:
    before = [str(cell) for cell in cells(columns, value, T0)]
    for later in LATER:
        after = [str(cell) for cell in cells(columns, value, T0 + later)]
        changed = [c.name for c, a, b in zip(columns, before, after, strict=True) if a != b]
        if changed:
            assert moving(columns, value, T0) != moving(columns, value, T0 + later), changed
        undeclared = [c.name for c in columns if c.name in changed and c.moves is None]
        assert undeclared == [], "these columns change with time but declare no `moves`"


def test_each_pane_names_its_columns_once() -> None:
    for columns in (
        JOB_COLUMNS,
        TENANT_COLUMNS,
        RUN_COLUMNS,
        AUDIT_COLUMNS,
        NODE_COLUMNS,
        BATCH_COLUMNS,
    ):
        names = [c.name for c in columns]
        assert len(names) == len(set(names))


def test_a_job_row_shows_its_countdown_state_and_queue() -> None:
    row = [str(cell) for cell in cells(JOB_COLUMNS, JOB, T0)]
    assert row[:4] == ["ingest", "in 3m DST", "running", "4/1/2"]
