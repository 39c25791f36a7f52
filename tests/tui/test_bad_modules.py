"""Bad config and job modules that once gave a traceback, silence or a hang: one line, exit 2,
nothing written; a module stuck at import is named after a few seconds."""

from __future__ import annotations

import subprocess
import threading

import pytest

from tests.conftest import Workspace
from tests.procs import CRONSOLE, cli

pytestmark = pytest.mark.sqlite_only  # about config and modules, not the database


@pytest.mark.parametrize("argv", [("config", "check"), ("jobs",), ("--no-tui",)])
def test_a_config_nested_thousands_deep_is_one_line(
    workspace: Workspace, argv: tuple[str, ...]
) -> None:
    (workspace.root / "cronsole.toml").write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    done = cli(workspace, *argv, timeout=30)
    assert (done.returncode, done.stderr) == (
        2,
        f"cronsole: {workspace.root / 'cronsole.toml'}:1: TOML nested too deeply to read\n",
    )
    assert not (workspace.root / "state").exists()


@pytest.mark.parametrize("code", [0, 3])
def test_a_module_that_exits_at_import_is_refused(workspace: Workspace, code: int) -> None:
    workspace.write(f"import sys\nsys.exit({code})\n")
    for argv in (("config", "check"), ("--no-tui",)):
        done = cli(workspace, *argv, timeout=30)
        assert (done.returncode, done.stderr) == (
            2,
            f"cronsole: cannot load job module 'wsjobs.py': it called sys.exit({code}) "
            "while being imported\n",
        ), argv
    assert not (workspace.root / "state").exists()


@pytest.mark.slow
def test_a_module_stuck_at_import_is_named(workspace: Workspace) -> None:
    workspace.write("import time\nwhile True:\n    time.sleep(0.1)\n")
    proc = subprocess.Popen(
        [CRONSOLE, "config", "check"],
        cwd=workspace.root,
        env=workspace.env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    guard = threading.Timer(30, proc.kill)  # bounds the read below if nothing is said
    guard.start()
    try:
        line = proc.stderr.readline() if proc.stderr else ""
        assert line == (
            "still importing job module 'wsjobs.py' after 5s: is it stuck at import time?\n"
        )
        assert proc.poll() is None  # said, and still waiting for the module
    finally:
        guard.cancel()
        proc.kill()
        proc.wait()
