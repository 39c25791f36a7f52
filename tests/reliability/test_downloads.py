"""F6: a crash between a download's write and its commit. Files appear only by atomic rename,
the download repeats at most once, and the next run removes the leftovers."""

from __future__ import annotations

import hashlib
import signal

import pytest

from tests.conftest import Workspace
from tests.jobs.fake_batch_api import FakeBatchAPI, batch_config, track_submitted
from tests.jobs.test_batches import KEY, complete
from tests.procs import cli, query
from tests.reliability.harness import FAULTS, check_invariants

pytestmark = pytest.mark.slow


def batch_workspace(ws: Workspace, api: FakeBatchAPI) -> Workspace:
    ws.configure(batch_config(api, request_timeout=5))
    track_submitted(ws.address, "batch_1")
    complete(api, "batch_1")
    return ws


def fire_here(ws: Workspace, faults: str = "") -> int:
    env = {"TEST_BATCH_KEY": KEY, **({FAULTS: faults} if faults else {})}
    return cli(ws, "fire", "batch-check", "--here", env=env).returncode


def results(ws: Workspace) -> dict[str, str]:
    """Every file under results/: name → content hash (metadata files by name only)."""
    root = ws.root / "results"
    return {
        p.relative_to(root).as_posix(): ""
        if p.name.endswith(".meta.json")
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def downloads(api: FakeBatchAPI) -> int:
    return sum(1 for _, path, _ in api.seen if path.endswith("/content"))


@pytest.mark.scenario("F6")
@pytest.mark.parametrize("point", ["after_download_write", "after_rename"])
def test_a_crash_mid_download_repeats_it_once_and_leaves_no_partial_files(
    workspace: Workspace, tmp_path_factory: pytest.TempPathFactory, api: FakeBatchAPI, point: str
) -> None:
    golden = batch_workspace(Workspace(tmp_path_factory.mktemp("golden")), api)
    assert fire_here(golden) == 0
    expected = results(golden)
    assert len(expected) == 6 and not any(".part" in name for name in expected)

    ws = batch_workspace(workspace, api)
    before = downloads(api)
    assert fire_here(ws, f"{point}=kill@3") == -signal.SIGKILL
    partial = [p.name for p in (ws.root / "results").rglob("*") if p.is_file()]
    assert all(
        name.startswith(".")
        and name.endswith(".part")
        or name in {n.rsplit("/", 1)[-1] for n in expected}
        for name in partial
    ), partial
    assert any(name.endswith(".part") for name in partial) == (point == "after_download_write")

    assert fire_here(ws) == 0
    assert results(ws) == expected  # no leftovers, nothing missing, same bytes
    assert downloads(api) - before == 2  # the crashed download, repeated once
    assert query(ws, "SELECT status FROM records WHERE key = 'batch_1'") == [("completed",)]
    assert query(ws, "SELECT status FROM runs ORDER BY id") == [("abandoned",), ("succeeded",)]
    check_invariants(ws)
