"""A headless node tells a webhook when a command job fails, once, and when it recovers."""

from __future__ import annotations

import pytest

from tests.conftest import Workspace, eventually
from tests.core.test_alerts import configure
from tests.procs import Proc, cli, start_host
from tests.receivers import Receiver

pytestmark = pytest.mark.e2e


def test_a_headless_node_says_a_failure_once_and_its_recovery(
    workspace: Workspace, receiver: Receiver, procs: list[Proc]
) -> None:
    configure(workspace, f'[alerts.ops]\ntype = "webhook"\nurl = "{receiver.url}"\n')
    host = start_host(workspace, procs)
    for _ in range(2):
        assert cli(workspace, "fire", "backup", "--wait").returncode == 1  # the run failed
    eventually(lambda: len(receiver.posts) == 1, timeout=20)
    (workspace.root / "ok").touch()
    assert cli(workspace, "fire", "backup", "--wait").returncode == 0
    eventually(lambda: len(receiver.posts) == 2, timeout=20)
    assert [body["event"] for _, body in receiver.posts] == ["opened", "recovered"]
    listed = cli(workspace, "alerts", "--all", "--json")
    assert '"status": "closed"' in listed.stdout and '"occurrences": 2' in listed.stdout
    host.signal(15)
    assert host.popen.wait(30) == 0
