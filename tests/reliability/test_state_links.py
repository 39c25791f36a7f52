"""cronsole never follows a symbolic link for the files it keeps: a database, sidecar or log
file that is a link is refused in one line (exit 4) and nothing is written through it; a
`log_dir` that is a file is bad config (exit 2), said before any database is made."""

from __future__ import annotations

import os
import stat

import pytest

from tests.conftest import Workspace
from tests.procs import cli

JOBS = '''
from cronsole.core import JobContext, job

@job(schedule="0 0 1 1 *")
def quiet(ctx: JobContext) -> None:
    """Does nothing."""
'''

pytestmark = pytest.mark.sqlite_only  # files: PostgreSQL keeps the data in its own


def test_a_database_link_to_a_missing_file_is_refused_not_created_at_its_target(
    workspace: Workspace,
) -> None:
    workspace.write(JOBS)
    target = workspace.root / "elsewhere" / "victim.db"
    target.parent.mkdir()
    (workspace.root / "state").mkdir()
    workspace.db.symlink_to(target)
    for argv in (("--no-tui",), ("pause", "quiet"), ("fire", "quiet", "--here")):
        done = cli(workspace, *argv, timeout=20)
        assert done.returncode == 4, (argv, done.stderr)
        assert done.stderr == (
            f"cronsole: {workspace.db}: is a symbolic link; cronsole does "
            "not follow links for the files it keeps (give the real path)\n"
        )
    assert not target.exists()


def test_a_linked_wal_file_is_refused_too(workspace: Workspace) -> None:
    workspace.write(JOBS)
    assert cli(workspace, "pause", "quiet").returncode == 0  # the database exists now
    wal = workspace.db.with_name("cronsole.db-wal")
    wal.unlink(missing_ok=True)
    wal.symlink_to(workspace.root / "elsewhere.wal")
    done = cli(workspace, "jobs")
    assert done.returncode == 4 and done.stderr.startswith(f"cronsole: {wal}: is a symbolic")
    assert not (workspace.root / "elsewhere.wal").exists()


def test_a_linked_log_file_is_refused_and_its_target_left_alone(workspace: Workspace) -> None:
    workspace.write(JOBS)
    target = workspace.root / "someone-elses.log"
    target.write_text("theirs\n")
    target.chmod(0o644)
    (workspace.root / "logs").mkdir()
    (workspace.root / "logs" / "cronsole.log").symlink_to(target)
    for argv in (("--no-tui",), ("config", "check"), ("fire", "quiet", "--here")):
        done = cli(workspace, *argv, timeout=20)
        assert done.returncode == 4, (argv, done.stderr)
        assert "cronsole.log: is a symbolic link" in done.stderr and done.stderr.count("\n") == 1
    assert target.read_text() == "theirs\n" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert not workspace.db.exists()  # refused before the database was made


def test_a_log_dir_that_is_a_file_is_bad_config_said_before_anything_is_made(
    workspace: Workspace,
) -> None:
    workspace.write(JOBS)
    (workspace.root / "logs").write_text("not a folder\n")
    for argv in (("config", "check"), ("--no-tui",)):
        done = cli(workspace, *argv, timeout=20)
        assert (done.returncode, done.stderr) == (
            2,
            f"cronsole: log_dir {workspace.root / 'logs'}: not a folder\n",
        ), argv
    assert not workspace.db.exists() and not os.path.exists(workspace.root / "state")
