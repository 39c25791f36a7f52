"""Schedules at the CLI: the preview command, config mistakes with file:line, `once`, backfill
into the future, and the DST mark in `cronsole jobs`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.models import CatchUp
from cronsole.core.scheduling.catchup import CatchUpPlan, plan_catch_up
from cronsole.core.scheduling.triggers import fires_between, parse_schedule
from tests.conftest import Workspace
from tests.tui.conftest import enter, run

JOBS = '''
from cronsole.core import JobContext, job

@job(schedule="0 * * * *")
def hourly(ctx: JobContext) -> None:
    """Does nothing."""
'''


@pytest.fixture
def cli(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    workspace.write(JOBS)
    return enter(workspace, monkeypatch)


def configure(cli: Workspace, table: str) -> str:
    """cronsole.toml with [jobs.hourly] holding `table`; returns the file's path."""
    path = cli.root / "cronsole.toml"
    path.write_text(
        '[cronsole]\ndatabase = "state/cronsole.db"\nmodules = ["wsjobs.py"]\n'
        f"[jobs.hourly]\n{table}\n"
    )
    return str(path)


def test_schedule_previews_the_words_and_fires_with_dst_notes(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "schedule",
        "0 0 * * *",
        "--tz",
        "America/Santiago",
        "--from",
        "2027-09-03T12:00",
        "-n",
        "3",
    )
    assert code == 0
    assert out.splitlines() == [
        "0 0 * * *  At 00:00 (America/Santiago)",
        "  Sat 2027-09-04 00:00:00 -04 (UTC-0400)",
        "  Sun 2027-09-05 01:00:00 -03 (UTC-0300)  DST gap: 00:00 does not exist on "
        "2027-09-05; fires at 01:00",
        "  Mon 2027-09-06 00:00:00 -03 (UTC-0300)",
    ]
    code, out, _ = run(
        capsys,
        "schedule",
        "30 1 * * *",
        "--tz",
        "America/New_York",
        "--from",
        "2027-11-07T00:00",
        "-n",
        "2",
        "--json",
    )
    found = json.loads(out)
    assert found["description"] == "At 01:30 (America/New_York)"
    assert [f["at"] for f in found["fires"]] == [
        "2027-11-07T01:30:00-04:00",
        "2027-11-08T01:30:00-05:00",
    ]
    assert "happens twice" in found["fires"][0]["note"] and found["fires"][1]["note"] is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (("schedule", "0 0 30 2 *"), "never fires: February has no 30th"),
        (("schedule", "*/ * * * *"), "empty step"),
        (("schedule", "0 2 * * *", "--tz", "Mars/Olympus"), "unknown time zone"),
        (("schedule", "0 2 * * *", "--from", "soon"), "bad --from 'soon'"),
    ],
)
def test_a_bad_preview_is_one_line_and_exit_2(
    cli: Workspace, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


@pytest.mark.parametrize(
    "table, message",
    [
        ('schedule = ""', "job hourly: empty schedule"),
        ('schedule = "every 2932896d"', "interval too large"),
        ('schedule = "0 0 */ * *"', "empty step in day of month field"),
        ('jitter = "nan"', "bad jitter 'nan': must be a finite number of seconds"),
        ('jitter = "inf"', "bad jitter 'inf': must be a finite number of seconds"),
        ('jitter = "1e400"', "bad jitter '1e400': must be a finite number of seconds"),
        ("jitter = 1e400", "bad jitter inf: must be a finite number of seconds"),
        ('time_budget = "99999d"', "bad time_budget '99999d': at most 3650d"),
        ('timeout = "inf"', "bad timeout 'inf': must be a finite number of seconds"),
        ('schedule = "once 2020-01-01T00:00"', "is in the past and never ran"),
    ],
)
def test_config_mistakes_in_schedules_give_file_line_exit_2_and_write_nothing(
    cli: Workspace, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    path = configure(cli, table)
    # a past once is config check's verdict (it reads the database); the engine never runs it
    shells = (
        [("config", "check")]
        if "once" in table
        else [("config", "check"), ("jobs",), ("job", "hourly"), ("--no-tui",)]
    )
    for argv in shells:
        code, _, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        assert err.startswith(f"cronsole: {path}:5: ") and message in err, err
        assert err.count("\n") == 1
    assert not (cli.root / "state").exists()


def test_a_past_once_passes_the_check_once_it_ran_also_after_retention(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    once = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    configure(cli, f'schedule = "once {once.isoformat()}"')
    code, _, err = run(capsys, "config", "check")
    assert code == 2 and "is in the past and never ran" in err
    host = cli.host(FrozenClock(once))
    host.claim_ticks("hourly", [once])  # what the scheduler did when the time came
    host.engine.runner.wait_idle(5)
    assert run(capsys, "config", "check")[0] == 0
    code, out, _ = run(capsys, "jobs")
    assert code == 0 and "done (once)" in out
    # retention archives the run row; the job is still done and is never planned again
    assert host.engine.store.archive_chunk("runs", datetime.now(UTC), 100, datetime.now(UTC))
    assert host.engine.store.list_runs(job="hourly") == []
    assert run(capsys, "config", "check")[0] == 0
    assert (
        plan_catch_up(
            host.engine.jobs["hourly"].schedule, CatchUp.ALL, 10**6, once, datetime.now(UTC)
        )
        == CatchUpPlan()
    )


def test_a_once_lists_only_inside_the_asked_range() -> None:
    june = parse_schedule("once 2026-06-01T10:00", "UTC")
    september = datetime(2026, 9, 1, tzinfo=UTC)
    assert list(fires_between(june, september, september + timedelta(days=30))) == []
    assert list(fires_between(june, datetime(2026, 5, 1, tzinfo=UTC), september)) == [
        datetime(2026, 6, 1, 10, tzinfo=UTC)
    ]


def test_backfill_into_the_future_is_refused_and_writes_nothing(
    cli: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "resume", "hourly")  # the database, made as any first command makes it
    before = cli.digest()
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    code, _, err = run(
        capsys, "backfill", "hourly", "--from", "2026-01-01T00:00+00:00", "--to", later, "--dry-run"
    )
    assert code == 2 and "backfill range ends in the future" in err and err.count("\n") == 1
    assert cli.digest() == before
