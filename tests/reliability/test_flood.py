"""L6: a flood of 200,000 log lines. The log files and the database stay within their bounds,
memory stays bounded, and the console keeps answering keys while the lines pour in."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from cronsole.core.models import RunReason
from cronsole.tui.console.app import CronsoleApp
from cronsole.tui.console.widgets.logpane import LogPane
from tests.conftest import Workspace, eventually
from tests.procs import Proc, cli, query, start_host, wait_for
from tests.tui.test_console import settle

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
LINES = 200_000
FLOOD = f'''
from cronsole.core import JobContext, job

@job(schedule="0 0 1 1 *")
def flood(ctx: JobContext) -> None:
    """Logs {LINES} lines as fast as it can."""
    for n in range({LINES}):
        if ctx.cancelled:
            return
        ctx.log.info("flood line %d %s", n, "x" * 80)
'''
BOUNDS = "log_max_bytes = 1_000_000\nlog_backups = 3\nlog_keep_rows = 5000\n"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.sqlite_only  # measures the file; the pruning is the shared SQL
@pytest.mark.scenario("L6")
def test_a_log_flood_keeps_files_database_and_memory_bounded(
    workspace: Workspace, procs: list[Proc]
) -> None:
    workspace.write(FLOOD, BOUNDS)
    host = start_host(workspace, procs)
    assert cli(workspace, "fire", "flood").returncode == 0
    peak, notices = 0, set[tuple[object, ...]]()

    def finished() -> bool:
        nonlocal peak
        peak = max(peak, rss_kib(host.popen.pid))
        # A notice of dropped records is the newest row for at least one flush (0.5 s), then
        # may be pruned with the rows around it; so it is looked for while the flood runs.
        notices.update(query(workspace, "SELECT id FROM logs WHERE message LIKE '%dropped%'"))
        return query(workspace, "SELECT status FROM runs WHERE job = 'flood'") == [("succeeded",)]

    wait_for(finished, 240)
    files = sorted((workspace.root / "logs").glob("cronsole.log*"))
    assert 1 < len(files) <= 4  # rotated, and no more than the backups kept
    assert all(f.stat().st_size <= 1_000_000 for f in files)
    assert peak < 200 * 1024, f"RSS peaked at {peak} KiB"
    wait_for(lambda: int(str(query(workspace, "SELECT count(*) FROM logs")[0][0])) <= 5000, 20)
    host.signal(signal.SIGTERM)
    assert host.wait(30) == 0
    notices.update(query(workspace, "SELECT id FROM logs WHERE message LIKE '%dropped%'"))
    stored = query(workspace, "SELECT max(id) FROM logs")[0][0]
    assert notices or int(str(stored)) >= LINES  # every line stored, or the gap said in its place


@pytest.mark.scenario("L6")
async def test_the_console_answers_keys_during_a_log_flood(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger("cronsole"), "level", logging.INFO)  # as the shells
    workspace.write(FLOOD, BOUNDS)
    host = workspace.host()
    host.start()
    app = CronsoleApp(host.engine, host)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        run = host.engine.store.queue_run(
            "flood", host.engine.clock.now(), RunReason.MANUAL, host.engine.clock.now()
        )
        assert run is not None
        host.start_queued("flood")
        eventually(lambda: host.engine.runner.active() != [])
        tabs = app.screen.query_one(TabbedContent)
        for key, tab in (("3", "runs"), ("1", "jobs"), ("4", "logs")):
            pressing = asyncio.create_task(pilot.press(key))
            while tabs.active != tab:  # noqa: ASYNC110 (a widget attribute, no event to await)
                await asyncio.sleep(0.005)
            assert host.engine.runner.active() != [], "the key waited for the flood to end"
            await pressing
        eventually(lambda: host.engine.store.get_run(run.id).status.finished, 240)  # type: ignore
        await settle(app, pilot)
        pane = app.screen.query_one(LogPane)
        assert len(pane.entries) <= pane.keep and len(pane.lines) <= pane.keep
