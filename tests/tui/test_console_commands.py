"""A command job's run in the console: its exit code and its last lines of output, shown
literally (a hostile line's escape code as text, never sent to the terminal)."""

from __future__ import annotations

from cronsole.core.clock import FrozenClock
from cronsole.tui.console.screens.details import RunScreen
from tests.conftest import T0, Workspace, run_job
from tests.tui.test_console import app_for, settle
from tests.tui.test_console_k9s import keys_of, screen_text, table


async def test_the_run_screen_shows_the_exit_code_and_the_last_lines(workspace: Workspace) -> None:
    script = workspace.root / "report.sh"
    script.write_text("echo 'rows: 12'\nprintf 'bad \\033[2J name\\n' >&2\nexit 4\n")
    workspace.configure(
        f"""
        [jobs.report]
        schedule = "0 6 * * *"
        command = ["/bin/sh", "{script}"]
        """
    )
    host = workspace.host(FrozenClock(T0))
    run = run_job(host.engine, "report")
    app = app_for(host)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        runs = table(app, "runs")
        runs.move_cursor(row=keys_of(runs).index(str(run.id)))
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RunScreen)
        text = screen_text(app)
        rows = [line.split() for line in text.splitlines()]
        assert ["error", "exit", "code", "4"] in rows
        assert ["exit", "code", "4"] in rows  # its own row
        assert "Output (last lines)" in text
        assert "rows: 12" in text
        assert "bad \\x1b[2J name" in text  # the escape code shown, not obeyed
