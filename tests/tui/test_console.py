"""The console driven by Pilot: keys in, store state and screen out (frozen clock, real store)."""

from __future__ import annotations

import io
import sys
import threading
from datetime import timedelta

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent
from textual.worker import WorkerCancelled, WorkerFailed

from cronsole.core.clock import FrozenClock
from cronsole.core.models import RunReason, RunStatus, Watermark
from cronsole.core.scheduling.host import Host
from cronsole.tui.console.app import CronsoleApp
from cronsole.tui.console.screens.details import JobScreen, RunScreen
from cronsole.tui.console.screens.help import HelpScreen
from cronsole.tui.console.screens.modals import ConfirmModal, FormModal
from cronsole.tui.console.text import countdown
from cronsole.tui.console.widgets.tables import LiveTable
from tests.conftest import T0, Workspace, frozen, job_module

JOBS = job_module("console_jobs")


@pytest.fixture
def host(workspace: Workspace, clock: FrozenClock) -> Host:
    workspace.write(JOBS)
    return workspace.host(clock)


def app_for(host: Host) -> CronsoleApp:
    return CronsoleApp(host.engine, host)


async def settle(app: CronsoleApp, pilot: object) -> None:
    """Let workers (snapshot, actions, checks) finish and the screen catch up."""
    for _ in range(3):
        try:
            await app.workers.wait_for_complete()
        except (WorkerCancelled, WorkerFailed):
            pass  # replaced by a newer one, or failed: the app reports that itself
        await pilot.pause()  # type: ignore[attr-defined]


async def press_then_enter(app: CronsoleApp, pilot: Pilot[int], *keys: str) -> None:
    """Press `keys` (all at once), then enter, letting the screen catch up after each."""
    await pilot.press(*keys)
    await settle(app, pilot)
    await pilot.press("enter")
    await settle(app, pilot)


def jobs_table(app: CronsoleApp) -> LiveTable:
    return app.screen.query_one("#jobs-table", LiveTable)


async def test_the_main_screen_lists_jobs_and_switches_panes(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert set(jobs_table(app).rows_by_key) == {"ingest", "nightly"}
        for key, tab in (
            ("2", "tenants"),
            ("3", "runs"),
            ("4", "logs"),
            ("5", "audit"),
            ("6", "nodes"),
            ("1", "jobs"),
        ):
            await pilot.press(key)
            assert app.screen.query_one(TabbedContent).active == tab


async def test_p_pauses_with_a_reason_and_a_duration(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        assert isinstance(app.screen, FormModal)
        await press_then_enter(app, pilot, *"disk swap", "tab", *"30m")
    state = host.engine.store.job_state("ingest")
    assert state is not None and state.paused and state.pause_reason == "disk swap"
    assert state.pause_until == T0 + timedelta(minutes=30)


async def test_a_bad_duration_is_refused_in_the_form(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await press_then_enter(app, pilot, "p", "tab", "h")
        assert isinstance(app.screen, FormModal)
        effect = str(app.screen.query_one("#effect").render())
        assert "bad duration 'h'" in effect
    assert not host.engine.store.job_state("ingest").paused  # type: ignore[union-attr]


def gate() -> threading.Event:
    event: threading.Event = sys.modules["cronsole_user.wsjobs"].GATE
    return event


async def test_t_fires_r_resumes_and_marks_apply_to_every_marked_job(host: Host) -> None:
    app = app_for(host)
    store = host.engine.store
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "t")  # the cursor is on "nightly"
        await settle(app, pilot)
        assert [r.job for r in store.list_runs()] == ["nightly"]
        await pilot.press("g", "space", "space")  # mark both
        assert jobs_table(app).marked == {"ingest", "nightly"}
        await pilot.press("p", "enter")
        await settle(app, pilot)
        assert all(s.paused for s in store.job_states().values())
        assert jobs_table(app).marked == set()
        await pilot.press("g", "r")
        await settle(app, pilot)
        assert not store.job_state("ingest").paused  # type: ignore[union-attr]
        assert store.job_state("nightly").paused  # type: ignore[union-attr]


async def test_e_edits_the_period_and_resets_the_watermark(host: Host) -> None:
    store = host.engine.store
    store.advance_watermark("ingest", Watermark("1", "a"), T0)
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, FormModal)
        form.query_one(Input).value = "2025-02"
        await settle(app, pilot)
        assert "watermark resets" in str(form.query_one("#effect").render())
        await pilot.press("enter")
        await settle(app, pilot)
        assert store.job_state("ingest").settings == {"period": "2025-02"}  # type: ignore
        assert store.get_watermark("ingest") is None
        await pilot.press("plus", "plus")
        await settle(app, pilot)
        await pilot.press("minus")
        await settle(app, pilot)
        assert store.job_state("ingest").settings == {"period": "2025-03"}  # type: ignore


async def test_shift_p_pauses_everything_after_a_confirmation(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("P")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app, pilot)
        assert host.engine.store.get_control("paused_all")


async def test_help_filter_and_escape(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "slash", *"nigh")
        await settle(app, pilot)
        assert [str(k.value) for k in jobs_table(app).rows] == ["nightly"]
        await pilot.press("escape")
        await settle(app, pilot)
        assert len(jobs_table(app).rows) == 2 and app.focused is jobs_table(app)


async def test_runs_open_their_screen_and_can_be_cancelled_and_retried(host: Host) -> None:
    store = host.engine.store
    host.claim_ticks("ingest", [T0])  # in flight until the gate opens
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("3", "enter")
        assert isinstance(app.screen, RunScreen)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app, pilot)
        [run] = store.list_runs(job="ingest")
        assert run.cancel_requested or run.status is RunStatus.CANCELLED
        gate().set()
        host.engine.runner.wait_idle(5)
        frozen(host.engine).advance(1)  # the retry is its own tick
        await pilot.press("R")  # the run failed no item: nothing to retry, no run started
        await settle(app, pilot)
        [retry] = store.list_commands(limit=1)
        assert (retry.action, retry.result) == (
            "retry",
            f"nothing to retry: run #{run.id} has no failed items left",
        )
        assert RunReason.RETRY not in [r.reason for r in store.list_runs(job="ingest")]
        await pilot.press("escape", "1", "enter")
        assert isinstance(app.screen, JobScreen)


async def test_quit_asks_first_when_runs_are_in_flight(host: Host) -> None:
    host.claim_ticks("ingest", [T0])
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        assert app.is_running and not isinstance(app.screen, ConfirmModal)
        gate().set()
        host.engine.runner.wait_idle(5)
        await pilot.press("q")
    assert app.return_code == 0


async def test_y_copies_the_selected_id_and_the_palette_finds_actions(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        assert app.clipboard == "ingest"
        await press_then_enter(app, pilot, "colon", *"fire nightly")
    assert [r.job for r in host.engine.store.list_runs()] == ["nightly"]


@pytest.mark.parametrize("key", ["ctrl+p", "colon"])
async def test_both_palette_keys_open_the_palette(host: Host, key: str) -> None:
    """README and help offer ctrl+p and `:`; binding `:` once hid Textual's own ctrl+p."""
    from textual.command import CommandPalette

    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await settle(app, pilot)
        assert isinstance(app.screen, CommandPalette)
        await press_then_enter(app, pilot, *"fire nightly")
    assert [r.job for r in host.engine.store.list_runs()] == ["nightly"]


async def test_an_observing_console_cannot_fire_without_a_scheduler(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.write(JOBS)
    engine = workspace.engine(clock)
    app = CronsoleApp(engine, None)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any("no scheduler is running" in m for m in messages)
    assert engine.store.list_runs() == []


async def test_a_too_small_terminal_says_so(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(70, 20)) as pilot:
        await settle(app, pilot)
        banner = app.screen.query_one("#too-small")
        assert not banner.has_class("hidden")
        assert "needs at least 80x24" in str(banner.render())
        await pilot.resize_terminal(100, 30)
        await settle(app, pilot)
        assert banner.has_class("hidden")


async def test_shift_t_fires_with_checked_overrides(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await press_then_enter(app, pilot, "T", *"colour=red")
        assert isinstance(app.screen, FormModal)  # refused: no such setting
        app.screen.query_one(Input).value = "period=2024-12"
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
    [run] = host.engine.store.list_runs(job="ingest")
    assert run.overrides == {"period": "2024-12"} and run.reason is RunReason.MANUAL
    gate().set()


async def test_b_previews_then_queues_a_backfill(host: Host) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "b")
        form = app.screen
        assert isinstance(form, FormModal)
        start, end = form.query(Input).results(Input)
        start.value, end.value = "2026-02-27T00:00", "2026-03-01T23:00"
        await settle(app, pilot)
        assert "3 run(s) to create" in str(form.query_one("#effect").render())
        assert host.engine.store.list_runs(job="nightly") == []  # the preview wrote nothing
        await pilot.press("enter")
        await settle(app, pilot)
    runs = host.engine.store.list_runs(job="nightly")
    assert sorted(f"{r.scheduled_for:%m-%d}" for r in runs if r.reason is RunReason.BACKFILL) == [
        "02-27",
        "02-28",
        "03-01",
    ]


async def test_log_keys_follow_wrap_and_level(host: Host) -> None:
    from cronsole.tui.console.widgets.logpane import LogPane

    host.engine.store.add_logs(
        [
            (T0, level, "nightly", None, "x", f"{level} line")
            for level in ("DEBUG", "INFO", "WARNING", "ERROR")
        ]
    )
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        pane = app.screen.query_one(LogPane)
        assert len(pane.lines) == 4 and pane.follow
        await pilot.press("f", "w", "l", "l")
        assert not pane.follow and pane.wrap and pane.min_level == "WARNING"
        assert [line.text.split(": ", 1)[1] for line in pane.lines] == [
            "WARNING line",
            "ERROR line",
        ]


async def test_a_failing_store_read_is_reported_not_fatal(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cronsole.tui.console.app as console

    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)

        def boom(*args: object, **kwargs: object) -> None:
            raise OSError("disk on fire")

        monkeypatch.setattr(console, "take_snapshot", boom)
        app.refresh_snapshot()
        await settle(app, pilot)
        assert app.is_running
        assert any("OSError: disk on fire" in n.message for n in app._notifications)


async def test_new_runs_appear_on_top_and_the_cursor_stays_put(host: Host) -> None:
    gate().set()
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        for minute in (1, 2):
            host.claim_ticks("nightly", [T0 + timedelta(minutes=minute)])
        host.engine.runner.wait_idle(5)
        await settle(app, pilot)
        await pilot.press("3", "j")  # on the older run
        table = app.screen.query_one("#runs-table", LiveTable)
        assert [r.key.value for r in table.ordered_rows] == ["2", "1"]
        assert table.selected_key == "1"
        host.claim_ticks("nightly", [T0 + timedelta(minutes=3)])
        host.engine.runner.wait_idle(5)
        app.refresh_snapshot()
        await settle(app, pilot)
        assert [r.key.value for r in table.ordered_rows] == ["3", "2", "1"]
        assert table.selected_key == "1"


async def test_a_refresh_repaints_only_the_cells_that_changed(
    host: Host, clock: FrozenClock
) -> None:
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        table = jobs_table(app)
        before = {key: str(table.get_cell(key, "next")) for key in ("ingest", "nightly")}
        repainted: list[tuple[object, ...]] = []
        whole_refresh = table.refresh

        def spy(*regions: object, **kwargs: bool) -> object:
            repainted.append(regions)
            return whole_refresh(*regions, **kwargs)  # type: ignore[arg-type]

        table.refresh = spy  # type: ignore[method-assign, assignment]
        clock.advance(60)
        app.refresh_snapshot()
        await settle(app, pilot)
        after = {key: str(table.get_cell(key, "next")) for key in ("ingest", "nightly")}
        assert after != before  # the countdowns moved on a minute
        assert repainted and all(len(regions) == 1 for regions in repainted)
        for (region,) in repainted:  # one cell at a time, never the whole table
            assert region.height == 1 and region.width < table.size.width  # type: ignore[attr-defined]
        repainted.clear()
        app.refresh_snapshot()  # the same moment again: nothing changed, nothing is redrawn
        await settle(app, pilot)
        assert repainted == []


def test_countdowns_show_seconds_only_in_the_last_minute() -> None:
    now = T0
    assert countdown(None, now) == "-"
    assert countdown(now + timedelta(seconds=59.9), now) == "in 59s"
    assert countdown(now - timedelta(seconds=3), now) == "in 0s"
    assert countdown(now + timedelta(seconds=61), now) == "in 1m"
    assert countdown(now + timedelta(minutes=45, seconds=59), now) == "in 45m"
    assert countdown(now + timedelta(hours=15, minutes=4), now) == "in 15h04m"
    assert countdown(now + timedelta(days=3), now) == "in 3d"


async def test_the_progress_panel_shows_runs_in_flight_and_stays_still_when_idle(
    host: Host,
) -> None:
    from rich.console import Console

    from cronsole.tui.console.widgets.progress import ProgressPanel

    def shown(panel: ProgressPanel) -> str:
        console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
        console.print(panel.content)
        return console.export_text()

    host.claim_ticks("ingest", [T0])
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        panel = app.screen.query_one(ProgressPanel)
        assert "ingest" in shown(panel) and "no run in progress" not in shown(panel)
        gate().set()
        host.engine.runner.wait_idle(5)
        app.refresh_snapshot()
        await settle(app, pilot)
        assert "no run in progress" in shown(panel)
        repaints: list[object] = []
        panel.refresh = lambda *a, **k: repaints.append(a)  # type: ignore[method-assign,assignment]
        app.refresh_snapshot()
        await settle(app, pilot)
        assert repaints == []  # nothing moved, nothing redrawn


async def test_a_pane_filled_while_in_view_draws_its_rows_at_their_full_width(host: Host) -> None:
    gate().set()
    for minute in (1, 2):
        host.claim_ticks("nightly", [T0 + timedelta(minutes=minute)])
    host.engine.runner.wait_idle(5)
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")  # the Runs pane is read and filled now, while it is showing
        await settle(app, pilot)
        table = app.screen.query_one("#runs-table", LiveTable)
        first, second = (table.render_line(y).text for y in (1, 2))
        for line in (first, second):  # not cut to the widths of an empty table ("#1  ni…")
            assert " nightly  schedule  " in line, line


def widths(table: LiveTable) -> dict[str, int]:
    return {str(c.key.value): c.get_render_width(table) - 2 for c in table.columns.values()}


async def test_a_table_is_sized_to_its_rows_before_it_draws_and_narrows_when_they_go() -> None:
    from textual.app import App, ComposeResult

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield LiveTable(["tenant", "next"], id="t")

    app = One()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(LiveTable)
        table.show({"a": ["broken-corp", "in 5m"]})  # no idle before the next frame
        assert widths(table)["tenant"] == len("broken-corp")
        table.show({"a": ["broken-corp", "in 15h04m"]})
        await pilot.pause()
        assert widths(table)["next"] == len("in 15h04m")
        assert "in 15h04m" in table.render_line(1).text
        table.show({"a": ["acme", "in 5m"]})  # the widest values went: the columns narrow
        await pilot.pause()
        assert widths(table) == {"mark": 1, "tenant": len("tenant"), "next": len("in 5m")}
        assert table.render_line(1).text.startswith("    acme    in 5m ")


async def test_at_narrow_widths_the_columns_that_give_way_first_are_cut() -> None:
    from textual.app import App, ComposeResult

    from cronsole.tui.console.widgets.tables import Fit

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield LiveTable(["job", "state", "period", "note"], [Fit(), Fit(1, 8), Fit(), Fit(2)])

    app = One()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(LiveTable)
        reason = "paused: " + "a very long reason " * 3
        table.show({"a": ["ingest", reason, "2026-11", "x" * 30]})
        await pilot.pause()
        # the note (gives way first) goes down to its header, then the state to what is
        # left of the 40 cells; the period, which never gives way, stays on screen whole
        assert widths(table) == {"mark": 1, "job": 6, "state": 12, "period": 7, "note": 4}
        line = table.render_line(1).text
        assert "2026-11" in line and "paused: a v…" in line and len(line) == 40


async def test_the_nodes_pane_shows_every_live_node_and_runs_name_theirs(
    host: Host, clock: FrozenClock
) -> None:
    from cronsole.core.models import Node

    store = host.engine.store
    store.register_node(Node(host.engine.node_id, "host", "here", 1, T0, T0, "0.1"))
    store.register_node(Node("other-7", "host", "db-2", 4242, T0, clock.now(), "0.1"))
    store.register_node(
        Node("gone-1", "host", "db-3", 1, T0, T0 - timedelta(hours=1), "0.1")
    )  # stopped beating an hour ago: not live
    gate().set()
    host.claim_ticks("nightly", [T0 + timedelta(minutes=1)])
    host.engine.runner.wait_idle(5)
    app = app_for(host)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("6")
        await settle(app, pilot)
        nodes = app.screen.query_one("#nodes-table", LiveTable)
        assert set(nodes.rows_by_key) == {host.engine.node_id, "other-7"}
        other = [str(cell) for cell in nodes.rows_by_key["other-7"]]
        assert other[:4] == ["other-7", "host", "db-2", "4242"] and other[4] == "0s ago"
        assert str(nodes.rows_by_key[host.engine.node_id][0]).endswith("(this console)")
        await pilot.press("3")
        await settle(app, pilot)
        runs = app.screen.query_one("#runs-table", LiveTable)
        [row] = [r for r in runs.rows_by_key.values() if str(r[1]) == "nightly"]
        assert str(row[7]) == host.engine.node_id  # which node ran it


async def test_e_sets_or_resets_the_watermark_of_a_job_without_a_period(host: Host) -> None:
    store = host.engine.store
    store.advance_watermark("nightly", Watermark("0005", "k"), T0)
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        jobs_table(app).move_cursor(
            row=[r.key.value for r in jobs_table(app).ordered_rows].index("nightly")
        )
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, FormModal)
        at, key = form.query(Input)  # no period field: this job has none
        at.value, key.value = "0003", ""
        await settle(app, pilot)
        assert "watermark → 0003" in str(form.query_one("#effect").render())
        await pilot.press("enter")
        await settle(app, pilot)
        assert store.get_watermark("nightly") == Watermark("0003", "")
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, FormModal)
        form.query(Input).first().value = ""
        await settle(app, pilot)
        assert "the watermark resets" in str(form.query_one("#effect").render())
        await pilot.press("enter")
        await settle(app, pilot)
        assert store.get_watermark("nightly") is None
        assert [c.action for c in store.list_commands()][:2] == ["watermark", "watermark"]


async def test_the_batches_pane_shows_each_tracked_batch(host: Host) -> None:
    from cronsole.core.models import Record

    data = {
        "provider": "openai",
        "endpoint": "/v1/images/generations",
        "requests": {"total": 100, "completed": 95, "failed": 5},
        "results": 95,
        "result_errors": 5,
    }
    stuck = {"provider": "folder", "stuck": True, "error": "\x1b[2J still running"}
    host.engine.store.put_records(
        "batch",
        [
            Record("batch_a", data, status="completed_with_errors"),
            Record("batch_b", stuck, status="in_progress"),
        ],
        T0,
    )
    app = app_for(host)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("7")
        await settle(app, pilot)
        table = app.screen.query_one("#batches-table", LiveTable)
        assert set(table.rows_by_key) == {"batch_a", "batch_b"}
        shown = [str(cell) for cell in table.rows_by_key["batch_a"]]
        assert shown == [
            "batch_a",
            "openai",
            "/v1/images/generations",
            "completed_with_errors",
            "95/5/100",
            "95 + 5 failed",
            "",
        ]
        assert str(table.rows_by_key["batch_b"][-1]) == "STUCK \\x1b[2J still running"
