"""The installed `cronsole` console in a real terminal (tmux): keys in, screen read back."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cronsole.tui.demo import create_workspace
from tests.conftest import eventually
from tests.e2e.conftest import ssh_command

CRONSOLE = str(Path(sys.executable).with_name("cronsole"))
GREYS = {0, 7, 8, 15, 16, 231, *range(232, 256)}


class Terminal:
    def __init__(
        self,
        socket: str,
        cwd: Path,
        env: dict[str, str],
        size: str = "100x30",
        args: str = "",
        command: str = "",
    ) -> None:
        """tmux running `cronsole ARGS`, or `command` (which runs it another way)."""
        if shutil.which("tmux") is None:
            pytest.fail("tmux is required for this test (.ci/run installs it)")
        self.socket, self.cwd, self.env = socket, cwd, env
        width, height = size.split("x")
        self.tmux(
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            width,
            "-y",
            height,
            f"{command or CRONSOLE + ' ' + args}; echo EXITED=$?; sleep 60",
        )

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout

    def screen(self, colours: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if colours else []), "-t", "t")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "t", key)
            time.sleep(0.15)

    def wait_for(self, *texts: str, timeout: float = 20) -> str:
        """The screen once it shows every text at once (a capture can land mid-frame)."""
        shown = [""]

        def showing() -> bool:
            shown[0] = self.screen()
            return all(text in shown[0] for text in texts)

        try:
            eventually(showing, timeout, every=0.2)
        except AssertionError:
            raise AssertionError(
                f"{texts!r} never appeared; the screen shows:\n{shown[0]}"
            ) from None
        return shown[0]

    def quit(self, timeout: float = 40) -> None:
        """q, answering the confirmation when runs are in flight; until the shell says so."""
        deadline = time.monotonic() + timeout
        self.keys("q")
        while time.monotonic() < deadline:
            time.sleep(0.5)
            shown = self.screen()
            if "EXITED=0" in shown:
                return
            if "Quit?" in shown:
                self.keys("y")
            elif "stopping" not in shown:
                self.keys("q")  # the key was lost or a run started meanwhile: ask again
        raise AssertionError(f"the console did not exit; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "demo"
    create_workspace(folder, 3, datetime.now(UTC))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRONSOLE_", "TMUX"))}
    env.update(
        XDG_STATE_HOME=str(tmp_path / "xdg"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        TERM="xterm-256color",
        # stale, as a login shell may export them: the console measures its terminal instead
        COLUMNS="80",
        LINES="24",
    )
    return folder, env


@pytest.fixture
def terminal(demo: tuple[Path, dict[str, str]]) -> Iterator[Terminal]:
    term = Terminal(f"cronsole-test-{os.getpid()}", *demo)
    yield term
    term.close()


def test_the_console_in_a_real_terminal(
    terminal: Terminal, demo: tuple[Path, dict[str, str]]
) -> None:
    terminal.wait_for("invoice-ingest", "HOSTING", "1 Jobs")
    terminal.keys("2")
    terminal.wait_for("[bold]evil[/bold]\\x1b[31m", "acme", "WARN")  # literally, full width
    terminal.tmux("resize-window", "-t", "t", "-x", "130", "-y", "30")
    # it follows the resize: the tabs' underline spans the new width
    eventually(lambda: len(terminal.screen().splitlines()[2]) == 130, 20, every=0.2)
    terminal.keys("?")
    terminal.wait_for("cronsole — keys")
    terminal.keys("Escape", "1", "g", "p")
    terminal.wait_for("Pause batch-check")
    terminal.keys("maintenance", "Enter")
    terminal.wait_for("paused batch-check")
    conn = sqlite3.connect(demo[0] / "state" / "cronsole.db")
    assert conn.execute(
        "SELECT paused, pause_reason FROM jobs WHERE name = 'batch-check'"
    ).fetchone() == (1, "maintenance")
    conn.close()
    terminal.quit()


def test_no_color_is_honoured(demo: tuple[Path, dict[str, str]]) -> None:
    folder, env = demo
    term = Terminal(f"cronsole-nocolor-{os.getpid()}", folder, {**env, "NO_COLOR": "1"})
    try:
        term.wait_for("invoice-ingest")
        codes = re.findall(r"[34]8;5;(\d+)", term.screen(colours=True))
        assert codes, "expected the screen to be drawn with 256-colour greys"
        # Textual honours NO_COLOR by drawing in greys: no hue carries meaning
        assert {int(c) for c in codes} <= GREYS, sorted({int(c) for c in codes} - GREYS)
        assert "38;2;" not in term.screen(colours=True)
        term.quit()
    finally:
        term.close()


def live_roles(folder: Path) -> list[str]:
    conn = sqlite3.connect(folder / "state" / "cronsole.db")
    try:
        return sorted(
            r[0] for r in conn.execute("SELECT role FROM nodes WHERE stopped_at IS NULL").fetchall()
        )
    finally:
        conn.close()


@pytest.mark.slow
def test_a_console_beside_the_service_observes_it_and_says_when_it_is_gone(
    demo: tuple[Path, dict[str, str]],
) -> None:
    folder, env = demo
    service = subprocess.Popen(
        [CRONSOLE, "--no-tui"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    eventually(
        lambda: live_roles(folder) == ["host"], 30, every=0.2, passing=(sqlite3.OperationalError,)
    )
    term = Terminal(f"cronsole-attach-{os.getpid()}", folder, env, "120x30")
    try:
        term.wait_for("OBSERVING", "RUNNING", "already")  # one word: the toast wraps
        assert live_roles(folder) == ["host", "observer"]  # not a second scheduler
        service.terminate()
        assert service.wait(40) == 0
        term.wait_for("NO SCHEDULER  stopped")  # and no countdown pretends:
        assert "in " not in term.wait_for("invoice-ingest").split("invoice-ingest")[1][:20]
        term.quit()
    finally:
        service.kill()
        term.close()


@pytest.mark.slow
def test_a_console_hosting_inside_ssh_says_what_closing_the_session_does(
    demo: tuple[Path, dict[str, str]],
) -> None:
    folder, env = demo
    ssh = {**env, "SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22"}
    term = Terminal(f"cronsole-ssh-{os.getpid()}", folder, ssh, "120x30", args="--host")
    try:
        term.wait_for("HOSTING", "gracefully")  # one word: the toast wraps
        assert live_roles(folder) == ["host"]
        term.quit()
    finally:
        term.close()


@pytest.mark.slow
def test_over_a_real_ssh_session_the_palette_sort_and_drill_down_work(
    demo: tuple[Path, dict[str, str]], sshd: tuple[int, Path]
) -> None:
    """An operator's path at 80x24 through an sshd on 127.0.0.1: ctrl+p, a sorted column,
    a tenant opened, quit."""
    folder, env = demo
    port, key = sshd
    remote = " ".join(
        [
            f"cd {shlex.quote(str(folder))} &&",
            "env",
            *[f"{k}={shlex.quote(env[k])}" for k in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "TERM")],
            CRONSOLE,
        ]
    )
    ssh = shlex.join(ssh_command(port, key, remote))
    term = Terminal(f"cronsole-ssh-{os.getpid()}", folder, env, size="80x24", command=ssh)
    try:
        term.wait_for("invoice-ingest", "HOSTING", "1 Jobs")
        term.keys("C-p")
        term.wait_for("go tenants")  # the palette lists its commands
        term.keys("Escape", "2")
        term.wait_for("acme", "WARN")
        term.keys("s")
        term.wait_for("tenant ▲")  # sorted by the first column, said in the header
        term.keys("Enter")
        shown = term.wait_for("Tenants › tenant ", "pending,")
        assert "HOSTING" in shown.splitlines()[0]  # the status line stays on top
        term.keys("Escape")
        term.wait_for("2 Tenants")
        term.quit()
    finally:
        term.close()
