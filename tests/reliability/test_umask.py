"""Under umask 000 nothing cronsole writes is group- or world-writable: `cronsole init`'s
config (a writable config lets any local user add a module and run code as the service) and
the folders and files of batch results."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from cronsole.jobs.batches.results import write_results
from tests.conftest import T0
from tests.procs import CRONSOLE


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_000() -> object:
    old = os.umask(0)
    yield
    os.umask(old)


def test_init_writes_a_config_no_one_else_can_change(tmp_path: Path) -> None:
    done = subprocess.run(
        [CRONSOLE, "init", str(tmp_path / "cronsole.toml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0) and None,
    )
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "cronsole.toml") == 0o644


def test_batch_result_folders_and_files_are_not_writable_by_others(
    tmp_path: Path, umask_000: object
) -> None:
    line = json.dumps(
        {
            "custom_id": "a/b",
            "response": {"status_code": 200, "body": {"id": "resp-1", "output_text": "hello"}},
        }
    ).encode()
    folder = tmp_path / "results" / "2026" / "batch-1"
    write_results([("output", [line])], folder, "batch-1", T0)
    made = [tmp_path / "results", tmp_path / "results" / "2026", folder]
    assert {p.name: mode(p) for p in made} == {p.name: 0o750 for p in made}
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files and {p.name: mode(p) & 0o022 for p in files} == {p.name: 0 for p in files}


def test_init_into_a_folder_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "cronsole" / "cronsole.toml"
    done = subprocess.run(
        [CRONSOLE, "init", str(target)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"cronsole: {target.parent}: no such folder (create it first: mkdir -p {target.parent})\n"
    )
    assert not (tmp_path / "etc").exists()
