"""S1/S2/S9: the hostile-text corpus fed through file names, tenant names, job log lines, error
texts and API payloads, then read back through the CLI, the log file and every console widget."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from rich.text import Text

from cronsole.tui.console.app import CronsoleApp
from cronsole.tui.console.screens.details import RunScreen
from cronsole.tui.console.widgets.logpane import LogPane
from cronsole.tui.console.widgets.tables import LiveTable
from tests.conftest import Workspace
from tests.hostile import ALL, CORPUS, HUGE, INVALID_UTF8_NAME, assert_inert
from tests.jobs.fake_batch_api import FakeBatchAPI, batch_config, track_submitted
from tests.procs import Proc, cli, query, start_host
from tests.tui.test_console import settle

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

JOBS = f'''
from cronsole.core import JobContext, job

ALL = {ALL!r}

@job(schedule="0 0 1 1 *")
def noisy(ctx: JobContext) -> None:
    """Logs every hostile string, a 10 MB line, then fails with all of them."""
    for name, text in {CORPUS!r}.items():
        ctx.log.warning("%s: %s", name, text)
    ctx.log.info("huge: %s", "A" * {len(HUGE)})
    raise RuntimeError(ALL)
'''


def processor_source() -> str:
    return "def check(path, doc):\n    raise ValueError('cannot read ' + str(path.name))\n"


@pytest.fixture
def hostile(workspace: Workspace, api: FakeBatchAPI, procs: list[Proc]) -> Workspace:
    """A workspace whose every data path carries the corpus, after one run of everything."""
    ws = workspace
    ws.write(
        JOBS,
        """
[jobs.invoice-ingest]
[jobs.invoice-ingest.settings]
period = "2026-11"
settle_seconds = 0
processor = "picky:check"
[jobs.tenant-queue]
"""
        + batch_config(api, attempts=1),
    )
    (ws.root / "picky.py").write_text(processor_source())
    folder = ws.root / "storage/invoices/Acme-123456789/2026/11/invoice"
    folder.mkdir(parents=True)
    for name, text in CORPUS.items():
        safe = text.replace("/", "⁄")  # a file name cannot hold a slash
        (folder / f"{name} {safe}.pdf").write_bytes(b"%PDF")
    with open(os.fsencode(folder) + b"/" + INVALID_UTF8_NAME, "wb") as handle:
        handle.write(b"%PDF")

    store = ws.store()
    now = datetime.now(UTC)
    for name, text in CORPUS.items():
        store.enqueue(
            "tenant-queue",
            f"{name}-item",
            now,
            tenant=f"{name} {text}",
            payload={"suite": text, "cases": []},
        )
    store.close()
    track_submitted(ws.address, "batch_status", "batch_json")
    api.batches["batch_status"] = {"id": "batch_status", "status": ALL}
    api.off_spec.add("batch_status")  # hostile text where the spec has a status
    api.fail_next("/v1/batches/batch_json", 200, ALL.encode("utf-8", "surrogateescape"))

    host = start_host(ws, procs, env={"TEST_BATCH_KEY": "sk-test-hostile-0123456789"})
    for job in ("invoice-ingest", "tenant-queue", "batch-check", "noisy"):
        result = cli(ws, "fire", job, "--wait")
        assert result.returncode in (0, 1), result.stderr
    host.signal(signal.SIGTERM)
    assert host.wait(30) == 0
    return ws


def shown(ws: Workspace, *args: str) -> str:
    result = cli(ws, *args)
    assert result.returncode in (0, 1, 3), (args, result.stderr)
    assert_inert(result.stdout, " ".join(args))
    assert_inert(result.stderr, " ".join(args) + " (stderr)")
    return result.stdout


@pytest.mark.scenario("S1")
@pytest.mark.scenario("S2")
@pytest.mark.scenario("S9")
def test_the_cli_and_the_log_file_show_every_hostile_string_literally(hostile: Workspace) -> None:
    runs = json.loads(shown(hostile, "runs", "--json"))
    assert {r["job"] for r in runs} >= {"invoice-ingest", "tenant-queue", "batch-check", "noisy"}
    for run in runs:
        shown(hostile, "run", str(run["id"]))
        shown(hostile, "run", str(run["id"]), "--failed")
    for args in (
        ("runs",),
        ("status",),
        ("health",),
        ("jobs",),
        ("audit",),
        ("batches",),
        ("job", "noisy"),
        ("job", "invoice-ingest"),
        ("logs", "--limit", "500"),
    ):
        shown(hostile, *args)
    tenants = shown(hostile, "tenants")
    assert "[@click=app.quit]quit[/]" in tenants and "\\x1b]0;owned\\x07" in tenants
    logs = shown(hostile, "logs", "--job", "noisy", "--limit", "100")
    assert "[bold red]evil[/]" in logs and "more characters]" in logs  # the 10 MB line, cut
    failed = shown(hostile, "run", str(next(r["id"] for r in runs if r["job"] == "noisy")))
    assert "\\u202egnp.exe" in failed and "\\x9b31m" in failed
    # the host's catch-up run or the fired one met the files first: the other found no news
    ingest = "".join(
        shown(hostile, "run", str(r["id"]), "--failed")
        for r in runs
        if r["job"] == "invoice-ingest"
    )
    assert "scan-\\udcff\\udcfe-\\x1b[31m.pdf" in ingest  # the non-UTF-8 name, escaped
    batches = shown(hostile, "batches")
    assert "batch_status" in batches and "batch_json" in batches

    for path in (hostile.root / "logs").glob("cronsole.log*"):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            assert_inert(json.loads(line)["message"], str(path))
        assert_inert(text, str(path))
        assert len(max(text.splitlines(), key=len)) < 20_000  # the huge line was cut
    assert query(hostile, "SELECT max(length(message)) FROM logs")[0][0] < 20_000


def texts(app: CronsoleApp) -> Iterator[Text]:
    for table in app.screen.query(LiveTable):
        for key in table.rows:
            yield from (c for c in table.get_row(key) if isinstance(c, Text))


@pytest.mark.scenario("S1")
@pytest.mark.scenario("S2")
async def test_every_console_widget_shows_the_hostile_data_literally(hostile: Workspace) -> None:
    app = CronsoleApp(hostile.engine(builtin=True), None)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        cells: list[Text] = []
        for pane in ("1", "2", "3", "5"):  # each pane's table is filled while it is in view
            await pilot.press(pane)
            await settle(app, pilot)
            cells += texts(app)
        assert any("[@click=app.quit]" in c.plain for c in cells)
        for cell in cells:
            assert_inert(cell.plain, "table cell")
            if any(marker in cell.plain for marker in ("evil", "owned", "@click")):
                assert not cell.spans, cell.plain  # no style came from the data
        await pilot.press("4")
        await settle(app, pilot)
        lines = "\n".join(line.text for line in app.screen.query_one(LogPane).lines)
        assert "[bold red]evil[/]" in lines
        assert_inert(lines, "log pane")
        await pilot.press("3", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RunScreen)
        assert_inert(app.export_screenshot(), "run screen")
        assert app.is_running
