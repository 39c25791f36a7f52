"""How the console looks: one snapshot per screen and state, deterministic (frozen clock, UTC,
fixed data, no blinking cursor). Update with `pytest --snapshot-update` after a deliberate
change, and look at the SVGs before committing them."""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.models import Overlap, RunReason, RunStatus
from cronsole.tui.console.app import CronsoleApp
from tests.conftest import T0, Workspace
from tests.tui.test_console import JOBS, settle


@pytest.fixture
def app(
    workspace: Workspace, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> CronsoleApp:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(socket, "gethostname", lambda: "ops-host")  # shown in the status line
    monkeypatch.chdir(tmp_path)
    workspace.write(JOBS)
    host = workspace.host(clock)
    store = host.engine.store
    for n, tenant in enumerate(["acme", "globex", "initech"]):
        for k in range(n * 12 + 2):
            store.enqueue("ingest", f"{tenant}-{k}", T0 - timedelta(minutes=k), tenant=tenant)
    for minute in (10, 5):
        run = store.insert_run(
            "nightly",
            T0 - timedelta(minutes=minute),
            RunReason.SCHEDULE,
            "node",
            Overlap.SKIP,
            T0 - timedelta(minutes=minute),
        )
        assert run is not None
        store.update_run_progress(run.id, total=20, processed=18, failed=2)
        store.finish_run(run.id, RunStatus.PARTIAL, T0 - timedelta(minutes=minute - 1))
    store.enqueue("nightly", ITEM, T0, payload={"path": ITEM, "pages": 3})
    assert run is not None
    [item] = store.claim_items("nightly", "node", run.id, T0, limit=1)
    error = "ValueError: evaluation run has no test cases (tenant config)"
    trace = 'Traceback (most recent call last):\n  File "jobs.py", line 40, in nightly\n'
    store.fail_item(item, T0, error, T0, traceback=f"{trace}    evaluate(run)\n{error}")
    store.set_paused("ingest", True, T0, "disk swap", T0 + timedelta(hours=1), "op@host")
    return CronsoleApp(host.engine, host)


ITEM = "invoices/Rila Water-Bottling Company Ltd/2026/11/scan-0001-final-signed.pdf"


def before(*keys: str) -> Callable[[Any], Awaitable[None]]:
    async def run(pilot: Any) -> None:
        await settle(pilot.app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot.app, pilot)

    return run


def test_main_screen_80x24(snap_compare: Any, app: CronsoleApp) -> None:
    """Jobs pane at the smallest supported size: status line, tabs, paused job, footer."""
    assert snap_compare(app, terminal_size=(80, 24), run_before=before())


def test_main_screen_120x40(snap_compare: Any, app: CronsoleApp) -> None:
    """Jobs pane with room to spare: all columns including the schedule in English."""
    assert snap_compare(app, terminal_size=(120, 40), run_before=before())


def test_tenants_pane(snap_compare: Any, app: CronsoleApp) -> None:
    """Tenants worst first with health as a word and glyph."""
    assert snap_compare(app, terminal_size=(120, 30), run_before=before("2"))


def test_run_screen(snap_compare: Any, app: CronsoleApp) -> None:
    """A partial run: summary, progress numbers, items and log."""
    assert snap_compare(app, terminal_size=(120, 30), run_before=before("3", "enter"))


def test_job_screen(snap_compare: Any, app: CronsoleApp) -> None:
    """A job's schedule, next fire times, policy, settings, state, runs and audit."""
    assert snap_compare(app, terminal_size=(120, 40), run_before=before("j", "enter"))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_job_run_and_item_screens(
    snap_compare: Any, app: CronsoleApp, size: tuple[int, int], screen: str
) -> None:
    """Status line and breadcrumb on top; the item's key and error whole or cut in the
    middle, never at the file name."""
    keys = {"job": ("j", "enter"), "run": ("3", "enter"), "item": ("3", "enter", "enter")}
    assert snap_compare(app, terminal_size=size, run_before=before(*keys[screen]))


@pytest.fixture(params=["job", "run", "item"])
def screen(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_no_color(snap_compare: Any, monkeypatch: pytest.MonkeyPatch, app: CronsoleApp) -> None:
    """NO_COLOR: failures in weight and reverse video, at least as visible as successes."""
    monkeypatch.setenv("NO_COLOR", "1")
    plain = CronsoleApp(app.engine, app.host)
    try:
        assert snap_compare(plain, terminal_size=(100, 24), run_before=before("3"))
    finally:
        CronsoleApp(app.engine, app.host)  # the tones of a console with colour again


def test_pause_modal(snap_compare: Any, app: CronsoleApp) -> None:
    """Pause: reason and optional duration, with the effect in words."""
    assert snap_compare(app, terminal_size=(100, 30), run_before=before("j", "p"))


def test_fire_with_overrides_modal(snap_compare: Any, app: CronsoleApp) -> None:
    """Fire with overrides: key=value pairs checked against the job's settings."""
    assert snap_compare(app, terminal_size=(100, 30), run_before=before("T"))


def test_period_modal(snap_compare: Any, app: CronsoleApp) -> None:
    """Edit period: the current period, and what changing it does to the watermark."""
    assert snap_compare(app, terminal_size=(100, 30), run_before=before("e"))


def test_backfill_modal(snap_compare: Any, app: CronsoleApp) -> None:
    """Backfill: the range and a preview of the runs it would create."""
    assert snap_compare(app, terminal_size=(100, 36), run_before=before("j", "b"))


def test_pause_all_confirmation(snap_compare: Any, app: CronsoleApp) -> None:
    """Pause everything: a confirmation that says what it does."""
    assert snap_compare(app, terminal_size=(100, 30), run_before=before("P"))


def test_help_screen(snap_compare: Any, app: CronsoleApp) -> None:
    """Help: every key and what each pane shows."""
    assert snap_compare(app, terminal_size=(120, 40), run_before=before("question_mark"))
