"""Markup and control sequences in data are shown literally in every widget that shows data."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console
from rich.text import Text
from textual.widgets import Static

from cronsole.core.clock import FrozenClock
from cronsole.core.models import Overlap, RunReason, RunStatus
from cronsole.tui.console.app import CronsoleApp
from cronsole.tui.console.screens.details import RunScreen
from cronsole.tui.console.widgets.logpane import LogPane
from cronsole.tui.console.widgets.tables import LiveTable
from tests.conftest import T0, Workspace
from tests.tui.test_console import JOBS, settle

EVIL = (
    "[bold red]evil[/] [@click=app.quit]x[/] [link=https://evil.example]y[/link]"
    "\x1b]0;owned\x07\x1b[2J\x9b31m\r\x08\u202egnp.exe\u200b"
)
ESCAPED = "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\x0d\\x08\\u202egnp.exe\\u200b"


def seed(workspace: Workspace, clock: FrozenClock) -> CronsoleApp:
    workspace.write(JOBS)
    host = workspace.host(clock)
    store = host.engine.store
    store.enqueue("ingest", EVIL, T0, tenant=EVIL)
    run = store.insert_run(
        "nightly", T0 - timedelta(minutes=1), RunReason.SCHEDULE, "n", Overlap.SKIP, T0
    )
    assert run is not None
    store.claim_items("ingest", "n", run.id, T0, limit=1)
    [item] = store.list_items(job="ingest")
    store.fail_item(item, T0, EVIL, None)
    store.finish_run(run.id, RunStatus.FAILED, T0, error=EVIL)
    store.add_logs([(T0, "ERROR", "nightly", run.id, "cronsole.job.nightly", EVIL)])
    store.add_command("pause", EVIL, "n", T0, job="nightly", reason=EVIL)
    return CronsoleApp(host.engine, host)


def cells(table: LiveTable) -> list[Text]:
    return [cell for key in table.rows for cell in table.get_row(key) if isinstance(cell, Text)]


def assert_literal(found: list[Text]) -> None:
    hits = [cell for cell in found if "evil" in cell.plain]
    assert hits, "the hostile text was not shown at all"
    for cell in hits:
        assert "[bold red]evil[/]" in cell.plain
        assert ESCAPED[:20] in cell.plain or "more characters]" in cell.plain  # cut, with a marker
        assert "\x1b" not in cell.plain and "\r" not in cell.plain
        assert not cell.spans  # no style came from the data


@pytest.mark.scenario("S1")
@pytest.mark.scenario("S2")
@pytest.mark.scenario("S9")
async def test_tables_logs_and_screens_show_data_literally(
    workspace: Workspace, clock: FrozenClock
) -> None:
    app = seed(workspace, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        for key, name in (("2", "tenants"), ("3", "runs"), ("5", "audit")):
            await pilot.press(key)  # a pane's table is filled when it is in view
            await settle(app, pilot)
            assert_literal(cells(app.screen.query_one(f"#{name}-table", LiveTable)))
        await pilot.press("4")
        await settle(app, pilot)
        log_text = "\n".join(line.text for line in app.screen.query_one(LogPane).lines)
        assert "[bold red]evil[/]" in log_text and "\x1b" not in log_text
        screen_svg = app.export_screenshot()
        assert "\x1b" not in screen_svg
        await pilot.press("3", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RunScreen)
        console = Console(width=400, record=True, file=io.StringIO(), color_system=None)
        console.print(app.screen.query_one("#body", Static).content)
        shown = console.export_text()
        assert "[bold red]evil[/]" in shown and "\\x1b]0;owned" in shown
        assert "\x1b" not in shown and "\u202e" not in shown
        assert app.is_running  # [@click=app.quit] did nothing


@pytest.mark.scenario("S1")
@pytest.mark.scenario("S2")
async def test_toasts_show_results_literally(workspace: Workspace, clock: FrozenClock) -> None:
    app = seed(workspace, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.toast(EVIL, error=True)
        await pilot.pause()
        [note] = [n for n in app._notifications if "evil" in n.message]
        assert not note.markup and "\x1b" not in note.message
        assert "[bold red]evil[/]" in note.message
