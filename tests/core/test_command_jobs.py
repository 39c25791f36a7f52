"""Command jobs (`command = [...]` in cronsole.toml) run real processes: output lines become the
run's log, JSON progress lines its progress, the exit code or signal its outcome; a cancel or a
timeout stops the whole process group, SIGKILL for a child that ignores SIGTERM (F18)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.errors import ConfigError
from cronsole.core.models import Overlap, Run, RunReason, RunStatus
from cronsole.core.scheduling.host import Host
from tests.conftest import T0, Workspace, eventually, run_job


@pytest.fixture(autouse=True)
def info(caplog: pytest.LogCaptureFixture) -> None:
    """Jobs log at INFO, as the shells set it up (the test runner's default is WARNING)."""
    caplog.set_level(logging.INFO, logger="cronsole")


def configure(workspace: Workspace, jobs: str) -> None:
    workspace.configure(jobs)


def logged(workspace: Workspace, run: Run) -> list[tuple[str, str]]:
    engine = workspace.engines[-1]
    engine.flush_logs()
    store = engine.store
    return [(e.level, e.message) for e in store.recent_logs(limit=100_000) if e.run_id == run.id]


def script(workspace: Workspace, name: str, body: str) -> str:
    """A shell script in the workspace, for a job's `command`."""
    path = workspace.root / f"{name}.sh"
    path.write_text(body)
    return str(path)


def run(workspace: Workspace, jobs: str, name: str = "task") -> Run:
    configure(workspace, jobs)
    engine = workspace.engine(FrozenClock(T0))
    engine.start_node("host")  # its log records are stored
    return run_job(engine, name)


def test_output_lines_are_the_log_and_the_exit_code_the_outcome(workspace: Workspace) -> None:
    done = run(
        workspace,
        """
        [jobs.task]
        schedule = "0 3 * * *"
        command = ["/bin/sh", "-c", "echo one; echo 'two  spaced'; echo oops >&2; exit 0"]
        """,
    )
    assert done.status is RunStatus.SUCCEEDED
    assert done.summary == {"exit_code": 0, "output": ["one", "two  spaced", "oops"]}
    lines = logged(workspace, done)
    assert ("INFO", "one") in lines and ("INFO", "two  spaced") in lines
    assert ("WARNING", "oops") in lines


def test_a_failing_exit_code_fails_the_run_unless_listed_as_success(workspace: Workspace) -> None:
    failed = run(
        workspace,
        """
        [jobs.task]
        schedule = "0 3 * * *"
        command = "sh -c 'echo partial; exit 3'"

        [jobs.lenient]
        schedule = "0 3 * * *"
        command = "sh -c 'exit 3'"
        success_exit_codes = [0, 3]
        """,
    )
    assert (failed.status, failed.error) == (RunStatus.FAILED, "exit code 3")
    assert failed.summary == {"exit_code": 3, "output": ["partial"]}
    lenient = run_job(workspace.engines[-1], "lenient")
    assert lenient.status is RunStatus.SUCCEEDED and lenient.summary["exit_code"] == 3


def test_an_exit_by_signal_is_named(workspace: Workspace) -> None:
    killed = run(
        workspace,
        """
        [jobs.task]
        schedule = "0 3 * * *"
        command = ["/bin/sh", "-c", "kill -SEGV $$"]
        """,
    )
    assert (killed.status, killed.error) == (RunStatus.FAILED, "killed by signal SIGSEGV")
    assert killed.summary["signal"] == "SIGSEGV"


def test_progress_lines_move_the_run_and_are_not_logged(workspace: Workspace) -> None:
    lines = [
        '{"total": 40}',
        '{"done": 10}',
        '{"done": 30, "status": "copying"}',
        '{"other": 1}',
        "{not json",
        '{"progress": 7}',
    ]
    body = "".join(f"echo '{line}'\n" for line in lines)
    done = run(
        workspace,
        f"""
        [jobs.task]
        schedule = "0 3 * * *"
        command = ["/bin/sh", "{script(workspace, "progress", body)}"]
        """,
    )
    assert done.status is RunStatus.SUCCEEDED
    assert (done.total, done.processed) == (40, 30)
    messages = [message for _, message in logged(workspace, done)]
    assert "status: copying" in messages
    for other in ('{"other": 1}', "{not json", '{"progress": 7}'):  # not progress: logged
        assert other in messages
    assert not any('"done"' in message for message in messages)


def test_a_fraction_of_progress_counts_in_thousandths(workspace: Workspace) -> None:
    body = "echo '{\"progress\": 0.25}'\n"
    done = run(
        workspace,
        f"""
        [jobs.task]
        schedule = "0 3 * * *"
        command = ["/bin/sh", "{script(workspace, "fraction", body)}"]
        """,
    )
    assert (done.total, done.processed) == (1000, 250)


def test_undecodable_and_overlong_lines_are_kept_literally_and_cut(workspace: Workspace) -> None:
    body = "printf 'caf\\351 \\033[31mred\\n'\n"  # a Latin-1 byte and an escape sequence
    body += "head -c 20000 /dev/zero | tr '\\0' x\necho\necho after\n"
    done = run(
        workspace,
        f"""
        [jobs.task]
        schedule = "0 3 * * *"
        command = ["/bin/sh", "{script(workspace, "odd", body)}"]
        """,
    )
    messages = [message for _, message in logged(workspace, done)]
    assert "caf\\xe9 \\x1b[31mred" in messages  # the byte and the escape code shown literally
    [long] = [message for message in messages if message.startswith("xxxx")]
    assert long == "x" * 8192 + " … [line cut]"
    assert "after" in messages  # the line after the cut one is whole


def test_a_flood_of_output_is_logged_up_to_the_bound(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cronsole.core.commandjob.MAX_LINES", 500)
    done = run(
        workspace,
        """
        [jobs.task]
        schedule = "0 3 * * *"
        command = ["/bin/sh", "-c", "seq 1 20000"]
        """,
    )
    assert done.status is RunStatus.SUCCEEDED
    lines = [message for _, message in logged(workspace, done)]
    assert "500" in lines and "501" not in lines
    assert "19500 more lines of output were not logged (at most 500 a run)" in lines
    assert done.summary["output"][-1] == "20000"  # the end of the output is kept all the same


def test_environment_working_folder_and_shell(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "secrets.env").write_text("# the token\nexport TOKEN='s3cr3t'\nREGION=eu\n")
    done = run(
        workspace,
        """
        [jobs.task]
        schedule = "0 3 * * *"
        command = "pwd; echo $TOKEN $REGION $MODE | tr a-z A-Z"
        shell = true
        cwd = "work"
        env = { MODE = "full" }
        env_file = "secrets.env"
        """,
    )
    assert done.summary["output"] == [str(tmp_path / "work"), "S3CR3T EU FULL"]
    assert any("(shell = true)" in message for _, message in logged(workspace, done))


def test_a_missing_program_fails_the_run_with_the_reason(workspace: Workspace) -> None:
    failed = run(
        workspace,
        """
        [jobs.task]
        schedule = "0 3 * * *"
        command = ["/nonexistent/backup", "--all"]
        """,
    )
    assert failed.status is RunStatus.FAILED
    assert failed.error == "cannot start /nonexistent/backup: No such file or directory"


@pytest.fixture
def host(workspace: Workspace) -> Host:
    sleeper = 'sleep 300 &\necho $! > "$0.pid"\nwait\n'
    deaf, slow = (
        script(workspace, "deaf", "trap '' TERM\n" + sleeper),
        script(workspace, "slow", sleeper),
    )
    configure(
        workspace,
        f"""
        [jobs.deaf]
        schedule = "0 3 * * *"
        command = ["/bin/sh", "{deaf}"]
        kill_after = "1s"

        [jobs.slow]
        schedule = "0 3 * * *"
        command = ["/bin/sh", "{slow}"]
        timeout = "1s"
        """,
    )
    host = workspace.host(FrozenClock(T0))
    host.engine.start_node("host")  # its log records are stored
    return host


def child(workspace: Workspace, name: str) -> int:
    """The pid of the `sleep` a script started (it writes it beside itself)."""
    marker = workspace.root / f"{name}.sh.pid"
    eventually(lambda: marker.exists() and marker.read_text().strip() != "")
    return int(marker.read_text())


def start(host: Host, name: str) -> int:
    store = host.engine.store
    made = store.insert_run(name, T0, RunReason.MANUAL, host.engine.node_id, Overlap.SKIP, T0)
    assert made is not None
    host.engine.runner.start(host.engine.jobs[name], made)
    return made.id


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_cancel_kills_a_group_that_ignores_sigterm_after_kill_after(
    host: Host, workspace: Workspace
) -> None:
    run_id = start(host, "deaf")
    sleeper = child(workspace, "deaf")  # ignores SIGTERM too: the trap is inherited
    host.commands.cancel(run_id)
    eventually(lambda: gone(sleeper), timeout=15)
    store = host.engine.store
    eventually(lambda: store.get_run(run_id).status is RunStatus.CANCELLED)  # type: ignore[union-attr]
    host.engine.flush_logs()
    messages = [e.message for e in store.recent_logs(limit=1000) if e.run_id == run_id]
    assert "stopping: SIGTERM to the command's process group" in messages
    assert "still running 1s after SIGTERM: SIGKILL" in messages


def test_a_timeout_stops_the_whole_group(host: Host, workspace: Workspace) -> None:
    run_id = start(host, "slow")
    sleeper = child(workspace, "slow")
    store = host.engine.store
    eventually(lambda: store.get_run(run_id).status is RunStatus.TIMED_OUT, timeout=15)  # type: ignore[union-attr]
    eventually(lambda: gone(sleeper), timeout=15)  # the shell's child, not only the shell


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('shell = true\nschedule = "@daily"', "shell is a command job's key"),
        ('command = ["a", 1]\nschedule = "@daily"', "command must be a string or a list"),
        ('command = "a \'b"\nschedule = "@daily"', "No closing quotation"),
        ('command = ["a"]\nshell = true\nschedule = "@daily"', "command is one string"),
        ('command = "a"\nuser = "no-such-user-here"\nschedule = "@daily"', "no user"),
        ('command = "a"\ncwd = "nowhere"\nschedule = "@daily"', "cwd: no folder"),
        ('command = "a"\nenv_file = "missing.env"\nschedule = "@daily"', "env_file: cannot read"),
        ('command = "a"\nenv = { X = 1 }\nschedule = "@daily"', "env must be a table"),
        ('command = "a"\nsuccess_exit_codes = [300]\nschedule = "@daily"', "0 to 255"),
        ('command = "a"\nkill_after = "soon"\nschedule = "@daily"', "kill_after"),
        ('command = "a"', "a command job needs a schedule"),
    ],
)
def test_a_bad_command_table_is_refused_at_its_line(
    workspace: Workspace, table: str, message: str
) -> None:
    configure(workspace, "\n[jobs.task]\n" + table + "\n")
    with pytest.raises(ConfigError) as raised:
        workspace.engine()
    assert message in str(raised.value)
    assert str(raised.value).startswith(str(workspace.root / "cronsole.toml") + ":")
    assert not workspace.created()
