"""A process killed (`kill -9`, by a fault point) while its run holds a batch of claims: the
item whose work had begun is charged its attempt; the ones never started are released, not
failed, with their attempt count as it was."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import Workspace
from tests.procs import cli, query

pytestmark = pytest.mark.sqlite_only  # real processes on a file

JOBS = '''
import os
from cronsole.core import JobContext, job

@job(schedule="0 0 1 1 *")
def batch(ctx: JobContext) -> None:
    """Five items claimed together, done one at a time."""
    def handle(item):
        with open(os.environ["SIDE_EFFECTS"], "a") as out:
            out.write(item.key + "\\n")
    ctx.items.drain(handle, limit=5)
'''


def test_claims_never_started_are_released_with_their_attempts_as_they_were(
    workspace: Workspace,
) -> None:
    workspace.write(JOBS)
    store = workspace.store()
    store.enqueue_many("batch", [(f"item-{n}", None, "") for n in range(1, 6)], datetime.now(UTC))
    store.close()
    killed = cli(
        workspace, "fire", "batch", "--here", env={"CRONSOLE_TEST_FAULTS": "before_item=kill@2"}
    )  # item-2 about to start
    assert killed.returncode == -9
    [(crashed,)] = query(workspace, "SELECT id FROM runs WHERE job = 'batch'")
    assert cli(workspace, "fire", "batch", "--here").returncode == 0  # recovers, then runs
    attempts = dict(query(workspace, "SELECT key, attempts FROM items ORDER BY key"))
    assert attempts == {"item-1": 1, "item-2": 2, "item-3": 1, "item-4": 1, "item-5": 1}
    assert query(workspace, "SELECT DISTINCT status FROM items") == [("done",)]
    history = query(
        workspace, "SELECT key, outcome FROM item_attempts WHERE run_id = ? ORDER BY id", crashed
    )
    assert history == [("item-2", "failed")]  # the try the crash cut; nothing for 3..5
    assert query(workspace, "SELECT key FROM items WHERE run_id = ?", crashed) == [
        ("item-1",)
    ]  # done by the crashed run, before the crash
