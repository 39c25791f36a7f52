"""The console as an operator used to k9s drives it (issue 18): keys act where they are
offered, nothing important is cut, lists stay live, every row drills down."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from rich.segment import Segment
from textual.command import CommandInput
from textual.widgets import Button, Static, TabbedContent

from cronsole.core.clock import FrozenClock
from cronsole.core.models import Overlap, RunReason, RunStatus
from cronsole.core.scheduling.host import Host
from cronsole.tui.console.app import CronsoleApp
from cronsole.tui.console.screens.details import (
    BatchScreen,
    CommandScreen,
    ItemScreen,
    JobScreen,
    NodeScreen,
    RunScreen,
    TenantScreen,
)
from cronsole.tui.console.screens.help import HelpScreen
from cronsole.tui.console.screens.modals import FormModal
from cronsole.tui.console.widgets.logpane import LogPane
from cronsole.tui.console.widgets.tables import LiveTable
from tests.conftest import T0, Workspace
from tests.tui.test_console import JOBS, app_for, press_then_enter, settle

LONG_KEY = "invoices/Rila Water-Bottling Company Ltd/2026/11/" + "scan-0001-final-signed.pdf"


@pytest.fixture
def host(workspace: Workspace, clock: FrozenClock) -> Host:
    workspace.write(JOBS)
    return workspace.host(clock)


def finished_run(
    host: Host, job: str, minutes: int, status: RunStatus = RunStatus.SUCCEEDED
) -> int:
    store = host.engine.store
    run = store.insert_run(
        job,
        T0 - timedelta(minutes=minutes),
        RunReason.SCHEDULE,
        host.engine.node_id,
        Overlap.SKIP,
        T0 - timedelta(minutes=minutes),
    )
    assert run is not None
    store.finish_run(run.id, status, T0 - timedelta(minutes=minutes) + timedelta(seconds=5))
    return run.id


def table(app: CronsoleApp, name: str) -> LiveTable:
    return app.screen.query_one(f"#{name}-table", LiveTable)


def keys_of(table: LiveTable) -> list[str]:
    return [str(row.key.value) for row in table.ordered_rows]


def tab_label(app: CronsoleApp, tab: str) -> str:
    return str(app.screen.query_one(TabbedContent).get_tab(tab).label)


def footer_keys(app: CronsoleApp) -> set[str]:
    """The keys the footer offers on the screen in front."""
    return {
        binding.key
        for (_, binding, enabled, _) in app.screen.active_bindings.values()
        if binding.show and enabled
    }


def screen_text(app: CronsoleApp) -> str:
    """What the terminal shows now, line by line."""
    return "\n".join(
        "".join(segment.text for segment in line) for line in app.screen._compositor.render_strips()
    )


# the Runs pane stays live


async def test_the_runs_pane_follows_new_runs_on_the_top_row_and_counts_them_elsewhere(
    host: Host,
) -> None:
    for minute in (30, 29, 28):
        finished_run(host, "nightly", minute)
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        runs = table(app, "runs")
        assert runs.selected_key == "3"  # the newest, on top
        newest = finished_run(host, "nightly", 27)
        app.refresh_snapshot()
        await settle(app, pilot)
        assert runs.selected_key == str(newest)  # followed, as tail -f does
        await pilot.press("j")  # away from the top: the position is kept
        assert runs.selected_key == "3"
        for minute in (26, 25):
            finished_run(host, "nightly", minute)
        app.refresh_snapshot()
        await settle(app, pilot)
        assert runs.selected_key == "3" and keys_of(runs)[0] == "6"
        assert "↑2 new" in tab_label(app, "runs")
        await pilot.press("g")  # back on top: the count goes
        await settle(app, pilot)
        assert tab_label(app, "runs") == "3 Runs"


# NO_COLOR


async def test_without_colour_failures_stand_out_more_than_successes(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    ok = finished_run(host, "nightly", 30)
    bad = finished_run(host, "nightly", 29, RunStatus.FAILED)
    gone = finished_run(host, "nightly", 28, RunStatus.INTERRUPTED)
    finished_run(host, "ingest", 27)  # the newest: the cursor's row, highlighted
    app = app_for(host)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("3")
            await settle(app, pilot)
            runs = table(app, "runs")

            def style_of(run: int, word: str) -> tuple[bool, bool]:
                line = runs.render_line(keys_of(runs).index(str(run)) + 1)
                [segment] = [s for s in line if isinstance(s, Segment) and s.text.strip() == word]
                assert segment.style is not None
                return bool(segment.style.bold), bool(segment.style.reverse)

            assert style_of(ok, "succeeded") == (False, False)
            assert style_of(bad, "failed") == (True, True)  # weight and reverse video
            assert style_of(gone, "interrupted") == (True, True)
    finally:
        CronsoleApp(host.engine, host)  # the next console chooses its tones again (colour)


# every key offered acts where it is offered


async def test_each_view_offers_only_keys_that_act_there_and_the_job_screen_acts_on_its_job(
    host: Host,
) -> None:
    app = app_for(host)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        assert {"t", "p", "r", "e"} <= footer_keys(app)
        for pane in ("2", "4", "5", "6"):
            await pilot.press(pane)
            await settle(app, pilot)
            assert not {"t", "p", "r", "e"} & footer_keys(app), pane
        await pilot.press("1", "j", "enter")  # the job screen of "nightly"
        await settle(app, pilot)
        assert isinstance(app.screen, JobScreen) and app.screen.key == "nightly"
        assert {"t", "p", "r", "e", "escape"} <= footer_keys(app)
        await pilot.press("t")
        await settle(app, pilot)
        assert [r.job for r in host.engine.store.list_runs()] == ["nightly"]
        await pilot.press("p")
        assert isinstance(app.screen, FormModal)
        assert "nightly" in app.screen.title_text


# detail screens cut nothing that matters


def failed_item(host: Host) -> int:
    """A run that tried LONG_KEY twice and failed it, with a long error."""
    store = host.engine.store
    store.enqueue("ingest", LONG_KEY, T0, payload={"path": LONG_KEY, "pages": 3})
    run_id = 0
    for n in (1, 2):
        run_id = finished_run(host, "ingest", 30 - n, RunStatus.PARTIAL)
        [item] = store.claim_items("ingest", host.engine.node_id, run_id, T0, limit=1)
        error = f"ValueError: evaluation run {n} has no test cases at all"
        trace = f'Traceback (most recent call last):\n  File "ingest.py", line {n}, in evaluate\n'
        store.fail_item(item, T0, error, T0, traceback=trace + error)
    return run_id


async def test_a_run_shows_item_keys_by_their_end_and_enter_opens_the_item_whole(
    host: Host,
) -> None:
    run_id = failed_item(host)
    app = app_for(host)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        runs = table(app, "runs")
        runs.move_cursor(row=keys_of(runs).index(str(run_id)))
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RunScreen)
        text = screen_text(app)
        assert f"Runs › run #{run_id}" in text  # the breadcrumb, under the status line
        assert "HOSTING" in text.splitlines()[0]
        assert "scan-0001-final-signed.pdf" in text  # the file name is what is kept
        # under the table, the highlighted item whole: its key and error, wrapped
        assert "ValueError: evaluation run 2 has no test cases at all" in text
        assert "Ltd/2026/11/scan-0001-final-signed.pdf" in text
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ItemScreen)
        text = screen_text(app)
        assert f"Runs › run #{run_id} › item" in text
        assert "Item" in text and "invoices/Rila Water-Bottling Company" in text  # whole, wrapped
        assert "Ltd/2026/11/scan-0001-final-signed.pdf" in text
        assert "run 1 has no test cases" in text  # every try with its error
        assert "run 2 has no test cases" in text
        assert 'File "ingest.py", line 1, in evaluate' in text  # and its traceback
        await pilot.press("G")
        await settle(app, pilot)
        assert 'File "ingest.py", line 2, in evaluate' in screen_text(app)
        assert '"pages": 3' in text


# columns


async def test_columns_narrow_again_when_the_widest_value_goes(host: Host) -> None:
    store = host.engine.store
    store.set_paused("ingest", True, T0, "a very long reason " * 4, None, "op")
    app = app_for(host)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        store.set_paused("ingest", False, T0, None, None, "op")
        app.refresh_snapshot()
        await settle(app, pilot)
        header = table(app, "jobs").render_line(0).text
        assert "period" in header and "last" in header  # on screen at 80 columns again


# filters


async def test_each_pane_has_its_own_filter_named_in_its_tab_and_esc_clears_it(
    host: Host,
) -> None:
    finished_run(host, "ingest", 30)
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"nigh", "enter")
        await settle(app, pilot)
        assert keys_of(table(app, "jobs")) == ["nightly"]
        assert tab_label(app, "jobs") == "1 Jobs  /nigh"
        assert app.screen.query_one("#filter").has_class("hidden")  # after Enter, the tab says it
        await pilot.press("3")
        await settle(app, pilot)
        assert keys_of(table(app, "runs")) == ["1"]  # the Runs pane is not filtered
        await pilot.press("1", "escape")  # esc in the pane, not in the box
        await settle(app, pilot)
        assert keys_of(table(app, "jobs")) == ["ingest", "nightly"]
        assert tab_label(app, "jobs") == "1 Jobs"


# forms


async def test_the_backfill_form_fits_80x24_and_says_what_format_it_wants(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, FormModal)
        for button in form.query(Button):
            region = button.region
            assert region.height and region.bottom <= 24, button.id  # on screen
        start = form.query_one("#start")
        start.value = "yesterday"  # type: ignore[attr-defined]
        await settle(app, pilot)
        effect = str(form.query_one("#effect").render())
        assert effect.startswith("✖ bad start 'yesterday': use an ISO date")
        assert "YYYY-MM-DD" in screen_text(app)


async def test_the_palettes_pause_asks_for_a_reason(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await press_then_enter(app, pilot, "ctrl+p", *"pause nightly")
        assert isinstance(app.screen, FormModal) and "nightly" in app.screen.title_text
        await pilot.press(*"deploy window", "enter")
        await settle(app, pilot)
    state = host.engine.store.job_state("nightly")
    assert state is not None and state.paused and state.pause_reason == "deploy window"


# sorting


async def test_s_sorts_by_the_next_column_and_the_header_says_so(host: Host) -> None:
    store = host.engine.store
    for n, tenant in enumerate(["globex", "acme", "initech"]):
        for k in range(3 - n):
            store.enqueue("ingest", f"{tenant}-{k}", T0, tenant=tenant)
    app = app_for(host)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        tenants = table(app, "tenants")
        assert keys_of(tenants) == ["ingest/globex", "ingest/acme", "ingest/initech"]
        await pilot.press("s")  # by tenant
        await settle(app, pilot)
        assert keys_of(tenants) == ["ingest/acme", "ingest/globex", "ingest/initech"]
        assert "tenant ▲" in tenants.render_line(0).text
        await pilot.press("S")  # reversed
        await settle(app, pilot)
        assert keys_of(tenants) == ["ingest/initech", "ingest/globex", "ingest/acme"]
        assert "tenant ▼" in tenants.render_line(0).text
        app.refresh_snapshot()  # the sort holds across refreshes
        await settle(app, pilot)
        assert keys_of(tenants) == ["ingest/initech", "ingest/globex", "ingest/acme"]


# drill down from every row, logs of the selection


async def test_every_row_drills_down_and_l_shows_the_logs_of_the_selection(host: Host) -> None:
    store = host.engine.store
    store.enqueue("ingest", "acme-1", T0, tenant="acme")
    store.enqueue("ingest", "acme-2", T0, tenant="acme")
    store.set_paused("nightly", True, T0, "deploy", None, "op@box")
    from cronsole.core.commands import Commands
    from cronsole.core.models import Node

    Commands(host.engine).pause("ingest", "disk swap")
    store.register_node(Node(host.engine.node_id, "host", "here", 1, T0, T0, "0.1"))
    ran = finished_run(host, "nightly", 5)
    app = app_for(host)
    async with app.run_test(size=(120, 30)) as pilot:
        await press_then_enter(app, pilot, "2")
        assert isinstance(app.screen, TenantScreen)
        text = screen_text(app)
        assert "Tenants › tenant acme" in text and "acme-1" in text and "2 pending" in text
        await press_then_enter(app, pilot, "escape", "5")
        assert isinstance(app.screen, CommandScreen)
        assert "disk swap" in screen_text(app) and "ingest" in screen_text(app)
        await press_then_enter(app, pilot, "escape", "6")
        assert isinstance(app.screen, NodeScreen) and app.screen.key == host.engine.node_id
        assert f"#{ran} nightly" in screen_text(app)  # the runs it made
        await pilot.press("escape", "1", "l")  # the logs of job "ingest"
        await settle(app, pilot)
        assert app.screen.query_one(TabbedContent).active == "logs"
        assert app.screen.query_one(LogPane).text_filter == "ingest"
        assert tab_label(app, "logs") == "4 Logs  /ingest"


async def test_a_batch_drills_down_to_its_requests_as_downloaded(
    host: Host, tmp_path: Path
) -> None:
    """The Batches pane's enter: what `cronsole batches show` prints, on a screen."""
    from cronsole.core.models import Record
    from cronsole.jobs.batches.results import write_results

    folder = tmp_path / "batch_a"
    ok = {"status_code": 200, "request_id": "req_1", "body": {"choices": []}}
    lines = [
        {"id": "1", "custom_id": "invoice-1", "response": ok, "error": None},
        {
            "id": "2",
            "custom_id": "invoice-2",
            "response": None,
            "error": {"code": "batch_expired", "message": "This request could not be executed"},
        },
    ]
    write_results([("output", [json.dumps(line).encode() for line in lines])], folder, "b", T0)
    data = {
        "provider": "openai",
        "endpoint": "/v1/chat/completions",
        "requests": {"total": 2, "completed": 1, "failed": 1},
        "results": 1,
        "result_errors": 1,
        "folder": str(folder),
        "error": "1 request failed: " + "the provider said why at some length " * 3,
    }
    host.engine.store.put_records("batch", [Record("batch_a", data, status="completed")], T0)
    app = app_for(host)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_then_enter(app, pilot, "7")
        assert isinstance(app.screen, BatchScreen)
        text = screen_text(app)
        assert "Batches › batch batch_a" in text and "HOSTING" in text.splitlines()[0]
        assert "/v1/chat/completions" in text and "1/1/2" in text
        assert "at some length the provider said why at some length" in text  # whole, wrapped
        assert "This request could not be executed" in text  # the highlighted one, whole
        requests = app.screen.query_one("#requests", LiveTable)
        assert keys_of(requests) == ["invoice-2", "invoice-1"]  # failed first
        assert [str(c) for c in requests.rows_by_key["invoice-2"]] == [
            "invoice-2",
            "failed",
            "-",
            "-",
            "This request could not be executed",
        ]
        assert [str(c) for c in requests.rows_by_key["invoice-1"]][:4] == [
            "invoice-1",
            "ok",
            "200",
            "req_1",
        ]
        await pilot.press("j")  # the next request, under the table
        await settle(app, pilot)
        assert str(app.screen.query_one("#preview", Static).render()) == "invoice-1"


async def test_j_and_k_scroll_help_and_detail_screens(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # the job screen: taller than 24 lines
        await settle(app, pilot)
        scroll = app.screen.query_one("#detail")
        await pilot.press("j", "j")
        assert scroll.scroll_y == 2
        await pilot.press("k")
        assert scroll.scroll_y == 1
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("j")
        await pilot.pause()
        assert app.screen.query_one(".help").scroll_y == 1


async def test_command_mode_takes_arguments_and_says_errors_inline(host: Host) -> None:
    app = app_for(host)
    store = host.engine.store
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await press_then_enter(app, pilot, "colon", *"pause ingest 1h deploy window")
        state = store.job_state("ingest")
        assert state is not None and state.paused and state.pause_reason == "deploy window"
        assert state.pause_until == T0 + timedelta(hours=1)
        await press_then_enter(app, pilot, "colon", *"period ingest 2025-02")
        assert store.job_state("ingest").settings == {"period": "2025-02"}  # type: ignore[union-attr]
        await pilot.press("colon", *"period ingest 2025-13")
        await settle(app, pilot)
        shown = screen_text(app)
        assert "✖" in shown and "2025-13" in shown  # said inline, before enter
        await pilot.press("escape", "colon", *"fire ingest colour=red")  # its usage has [ ]
        await settle(app, pilot)
        shown = screen_text(app)
        assert "✖" in shown and "colour" in shown and "fire JOB [KEY=VALUE…]" in shown
        # setting keys complete: enter on the hit puts it back in the palette, to add a value
        await press_then_enter(app, pilot, "escape", "colon", *"fire ingest pe")
        assert app.screen.query_one(CommandInput).value == "fire ingest period="
        await press_then_enter(app, pilot, *"2024-12")
        [run] = [r for r in store.list_runs(limit=10) if r.job == "ingest"]
        assert run.overrides == {"period": "2024-12"}
        await press_then_enter(app, pilot, "colon", *"go runs")
        assert app.screen.query_one(TabbedContent).active == "runs"


async def test_an_observers_fire_is_followed_by_the_run_it_started(
    workspace: Workspace, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    from cronsole.core.commands import Commands
    from cronsole.core.models import Node

    workspace.write(JOBS)
    host = workspace.host(clock)  # the scheduler, as a headless service would be
    host.engine.store.register_node(Node(host.engine.node_id, "host", "svc", 1, T0, T0, "0.1"))
    observer = workspace.engine(clock)
    app = CronsoleApp(observer, None)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "t")  # fire "nightly"
        await settle(app, pilot)
        said = [n.message for n in app._notifications]
        assert "fire: waiting for the scheduler" in said
        with caplog.at_level("INFO", logger="cronsole"):
            [applied] = Commands(host.engine, start_run=host.start_run).apply_pending()
        app.refresh_snapshot()
        await settle(app, pilot)
        run = applied.run_id
        assert f"run #{run} started" in [n.message for n in app._notifications]
    host.engine.runner.wait_idle(5)
    # the scheduler's log says who did what (the journal of a `--no-tui` service)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("command #")]
    assert f"fire nightly by {applied.who}: run #{run} started" in line
