"""Running the CLI in-process, as an operator in a workspace would."""

from __future__ import annotations

import pytest

from cronsole.tui.cli import main
from tests.conftest import Workspace


def enter(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The workspace's environment and folder, as if the operator had cd'ed into it."""
    for key, value in workspace.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CRONSOLE_DB", raising=False)
    monkeypatch.chdir(workspace.root)
    return workspace


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one `cronsole` call."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
